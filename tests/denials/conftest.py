from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from services.core.auth import Actor
from tests.factories import make_ops, make_payer, make_provider_actor


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
async def provider(db: asyncpg.Connection) -> Actor:
    return await make_provider_actor(db)


@pytest.fixture
async def payer_id(db: asyncpg.Connection) -> Any:
    return (await make_payer(db)).id


@pytest.fixture
def as_ops(token: Any, ops: Actor) -> dict[str, str]:
    return dict(token(ops))
