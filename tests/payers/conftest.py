"""The payers tests' ops user and payer (the factories are in tests/factories.py)."""

from __future__ import annotations

import asyncpg
import pytest

from schemas.payers import PayerOut
from services.core.auth import Actor
from tests.factories import make_ops, make_payer


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
async def payer(db: asyncpg.Connection) -> PayerOut:
    return await make_payer(db)
