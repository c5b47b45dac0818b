"""The demo world `make run` loads into an empty development database."""

from __future__ import annotations

import asyncpg

from services.core.settings import Settings
from services.identity.service import create_user

OPS_EMAIL = "ops@hearth.test"
DEMO_PASSWORD = "hearth-demo-password"


async def load_demo_data(settings: Settings) -> bool:
    """Load the world unless the database already has users; True when loaded."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            # Two `make run`s starting at once must not both load it.
            await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"):
                return False
            await create_user(conn, settings, OPS_EMAIL, "ops", DEMO_PASSWORD)
    finally:
        await conn.close()
    return True
