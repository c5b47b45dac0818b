"""Names of the app's dependencies, typed for handlers (Litestar injects them by name)."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from litestar.di import NamedDependency
from redis.asyncio import Redis

from services.core.auth import Actor
from services.core.db import ConnOpener
from services.core.settings import Settings
from services.core.transactions import Transactions as ShortTransactions

Conn: TypeAlias = NamedDependency[asyncpg.Connection]
# Opens the request's transaction itself: for a dependency that checks on it (db.provide_open_conn).
OpenConn: TypeAlias = NamedDependency[ConnOpener]
Caller: TypeAlias = NamedDependency[Actor]
AppSettings: TypeAlias = NamedDependency[Settings]
RedisClient: TypeAlias = NamedDependency[Redis]
# For use cases that call out: they open their own short transactions around the call.
Pool: TypeAlias = NamedDependency[asyncpg.Pool]
# For use cases that wait on Redis or argon2: short transactions, nothing held in between.
Transactions: TypeAlias = NamedDependency[ShortTransactions]
