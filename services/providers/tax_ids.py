"""Tax ids: AES-GCM bound to their provider, shown as the last four, re-encrypted on rotation."""

from __future__ import annotations

import uuid

import asyncpg
from cryptography.exceptions import InvalidTag

from schemas.providers import SealedTaxId, TaxIdRow
from services.core.crypto import Keyring
from services.core.settings import Settings
from services.providers import queries
from services.providers.errors import InvalidValue, ProviderNotFound
from services.providers.validation import normalize_tax_id

# Scheme 1 (rows written before migration 0009) used this fixed associated data, so a
# ciphertext copied onto another provider's row opened there as that provider's tax id.
# Scheme 2 binds it to the provider's id. Scheme-1 rows keep opening until
# `python -m services.cli reencrypt-tax-ids` rewrites them.
LEGACY_CONTEXT = b"providers.tax_id"
SCHEME_LEGACY = 1
SCHEME_BOUND = 2


class TaxIdUnreadable(Exception):
    """A stored tax id does not open: its key left the keyring, or the row was tampered with."""


def context(provider_id: uuid.UUID, scheme: int) -> bytes:
    """The associated data of a tax id of `scheme` stored on provider `provider_id`."""
    if scheme == SCHEME_LEGACY:
        return LEGACY_CONTEXT
    if scheme == SCHEME_BOUND:
        return LEGACY_CONTEXT + b":" + str(provider_id).encode()
    raise ValueError(f"unknown tax id scheme {scheme}")


def seal(settings: Settings, provider_id: uuid.UUID, value: str) -> SealedTaxId:
    """Validate and encrypt a tax id for provider `provider_id`; the plaintext goes nowhere else."""
    digits = normalize_tax_id(value)
    if digits is None:
        raise InvalidValue(
            "tax id must be an EIN (NN-NNNNNNN) or SSN (NNN-NN-NNNN) of 9 digits", field="tax_id"
        )
    keyring = Keyring(settings.tax_id_keyring())
    key_id, blob = keyring.encrypt(digits, context(provider_id, SCHEME_BOUND))
    return SealedTaxId(encrypted=blob, key_id=key_id, scheme=SCHEME_BOUND, last4=digits[-4:])


def open_row(keyring: Keyring, row: TaxIdRow) -> str:
    """The digits of a stored tax id; InvalidTag when the ciphertext is not this provider's."""
    return keyring.decrypt(
        row.tax_id_key_id, row.tax_id_encrypted, context(row.id, row.tax_id_scheme)
    )


async def reveal(conn: asyncpg.Connection, settings: Settings, provider_id: uuid.UUID) -> str:
    """The provider's tax id digits, for documents that must print it (superbills)."""
    row = await queries.get_tax_id(conn, provider_id)
    if row is None:
        raise ProviderNotFound("provider not found")
    return open_row(Keyring(settings.tax_id_keyring()), row)


async def reencrypt_batch(
    conn: asyncpg.Connection, keyring: Keyring, after: uuid.UUID | None, limit: int
) -> tuple[int, uuid.UUID | None]:
    """Rewrite up to `limit` stale tax ids after `after` (in id order) under the active key.

    Stale: another key or the legacy scheme. The rows are locked first, so a profile edit
    racing this waits, and a row it already rewrote is no longer stale when the lock is
    granted. Returns (rows rewritten, the last id: where the next batch starts).
    """
    rows = await queries.lock_stale_tax_ids(conn, keyring.active_kid, SCHEME_BOUND, after, limit)
    for row in rows:
        try:
            digits = open_row(keyring, row)
        except (KeyError, InvalidTag) as exc:
            raise TaxIdUnreadable(
                f"provider {row.id}: the tax id under key {row.tax_id_key_id!r} does not open"
            ) from exc
        key_id, blob = keyring.encrypt(digits, context(row.id, SCHEME_BOUND))
        await queries.update_tax_id_ciphertext(conn, row.id, blob, key_id, SCHEME_BOUND)
    return len(rows), (rows[-1].id if rows else None)
