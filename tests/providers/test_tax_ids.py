"""Tax ids are bound to their provider, old rows keep opening, and rotation re-encrypts them."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
from cryptography.exceptions import InvalidTag

from services.cli import reencrypt_tax_ids
from services.core.crypto import Keyring
from services.core.settings import Settings, parse_keyring
from services.providers import tax_ids
from services.providers.service import reveal_tax_id
from tests.conftest import ROOT
from tests.factories import make_ops, make_provider

OLD = "k1:" + base64.b64encode(b"o" * 32).decode()
NEW = "k2:" + base64.b64encode(b"n" * 32).decode()


async def _stored(conn: asyncpg.Connection) -> dict[uuid.UUID, tuple[bytes, str, int]]:
    rows = await conn.fetch(
        "SELECT id, tax_id_encrypted, tax_id_key_id, tax_id_scheme FROM providers"
    )
    return {r["id"]: (r["tax_id_encrypted"], r["tax_id_key_id"], r["tax_id_scheme"]) for r in rows}


async def _make_legacy(conn: asyncpg.Connection, settings: Settings, digits: str) -> uuid.UUID:
    """A provider whose tax id was sealed the old way: fixed associated data, scheme 1."""
    provider = await make_provider(conn, settings, tax_id=digits)
    assert provider.provider_id is not None
    keyring = Keyring(settings.tax_id_keyring())
    kid, blob = keyring.encrypt(digits.replace("-", ""), tax_ids.LEGACY_CONTEXT)
    await conn.execute(
        "UPDATE providers SET tax_id_encrypted = $2, tax_id_key_id = $3, tax_id_scheme = 1"
        " WHERE id = $1",
        provider.provider_id,
        blob,
        kid,
    )
    return provider.provider_id


async def test_a_tax_id_copied_onto_another_provider_does_not_open(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops = await make_ops(db)
    mine = await make_provider(db, settings, ops, tax_id="11-1111111")
    theirs = await make_provider(db, settings, ops, tax_id="22-2222222")
    # Someone with write access to the table pastes their own ciphertext onto another
    # provider, hoping payouts or superbills print it under that provider's name.
    await db.execute(
        """
        UPDATE providers SET (tax_id_encrypted, tax_id_key_id, tax_id_scheme) =
            (SELECT tax_id_encrypted, tax_id_key_id, tax_id_scheme FROM providers WHERE id = $1)
        WHERE id = $2
        """,
        theirs.provider_id,
        mine.provider_id,
    )
    assert mine.provider_id is not None
    assert theirs.provider_id is not None
    with pytest.raises(InvalidTag):
        await reveal_tax_id(db, settings, mine.provider_id)
    assert await reveal_tax_id(db, settings, theirs.provider_id) == "222222222"


async def test_rows_of_the_old_scheme_still_open(
    db: asyncpg.Connection, settings: Settings
) -> None:
    provider_id = await _make_legacy(db, settings, "33-3333333")
    assert (await _stored(db))[provider_id][2] == tax_ids.SCHEME_LEGACY
    assert await reveal_tax_id(db, settings, provider_id) == "333333333"


@pytest.fixture
async def committed(committed_db: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(committed_db)
    yield conn
    await conn.close()


async def test_rotation_rewrites_every_row_under_the_new_key_and_a_rerun_changes_nothing(
    committed: asyncpg.Connection, committed_db: str, settings: Settings
) -> None:
    old = msgspec.structs.replace(settings, database_url=committed_db, tax_id_keys=OLD)
    ops = await make_ops(committed)
    digits = {"444444444", "555555555", "666666666", "777777777"}
    for value in sorted(digits)[:3]:
        await make_provider(committed, old, ops, tax_id=value)
    legacy = await _make_legacy(committed, old, "77-7777777")
    rotated = msgspec.structs.replace(old, tax_id_keys=f"{NEW},{OLD}")

    # An interrupted run: one batch committed, then the process died.
    async with committed.transaction():
        done, _ = await tax_ids.reencrypt_batch(
            committed, Keyring(rotated.tax_id_keyring()), None, 1
        )
    assert done == 1
    assert await reencrypt_tax_ids(rotated, batch_size=2) == 3

    after = await _stored(committed)
    assert {(kid, scheme) for _, kid, scheme in after.values()} == {("k2", tax_ids.SCHEME_BOUND)}
    new_only = msgspec.structs.replace(old, tax_id_keys=NEW)  # the old key can now be retired
    assert {await reveal_tax_id(committed, new_only, pid) for pid in after} == digits
    assert await reveal_tax_id(committed, new_only, legacy) == "777777777"

    assert await reencrypt_tax_ids(rotated, batch_size=2) == 0
    assert await _stored(committed) == after


async def test_the_command_reports_what_it_did_and_refuses_a_repeated_key_id(
    committed: asyncpg.Connection, committed_db: str, settings: Settings
) -> None:
    old = msgspec.structs.replace(settings, database_url=committed_db, tax_id_keys=OLD)
    provider = await make_provider(committed, old, tax_id="88-8888888")
    assert provider.provider_id is not None
    env = {**os.environ, "HEARTH_ENV": "test", "DATABASE_URL": committed_db}

    def run(keys: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "reencrypt-tax-ids"],
            env={**env, "HEARTH_TAX_ID_KEYS": keys},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    repeated = run(f"{NEW},{OLD},k2:" + base64.b64encode(b"x" * 32).decode())
    assert repeated.returncode == 2
    assert "HEARTH_TAX_ID_KEYS" in repeated.stderr
    assert "'k2'" in repeated.stderr
    assert (await _stored(committed))[provider.provider_id][1] == "k1"

    first = run(f"{NEW},{OLD}")
    assert first.returncode == 0, first.stderr
    assert "under key k2: 1" in first.stdout
    second = run(f"{NEW},{OLD}")
    assert "under key k2: 0" in second.stdout
    rotated = msgspec.structs.replace(old, tax_id_keys=NEW)
    assert await reveal_tax_id(committed, rotated, provider.provider_id) == "888888888"


async def test_a_row_whose_key_left_the_keyring_stops_the_command_naming_it(
    committed: asyncpg.Connection, committed_db: str, settings: Settings
) -> None:
    old = msgspec.structs.replace(settings, database_url=committed_db, tax_id_keys=OLD)
    await make_provider(committed, old, tax_id="99-9999999")
    without_old = msgspec.structs.replace(old, tax_id_keys=NEW)
    with pytest.raises(tax_ids.TaxIdUnreadable, match="'k1'"):
        await reencrypt_tax_ids(without_old)
    assert {kid for _, kid, _ in (await _stored(committed)).values()} == {"k1"}


def test_a_repeated_key_id_is_refused() -> None:
    from services.core.settings import SettingsError

    with pytest.raises(SettingsError, match="'k1' appears more than once"):
        parse_keyring(f"{OLD},k1:" + base64.b64encode(b"z" * 32).decode())
