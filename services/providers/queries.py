"""SQL for provider profiles, licences, service locations and self-pay rates.

`owner` parameters scope a read to one provider: NULL (ops) sees every provider.
Foreign tables read: users (a provider's sign-in email, shown with the profile).
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.providers import (
    LicenceOut,
    LocationRow,
    ProviderOut,
    SealedTaxId,
    SelfPayRateOut,
    TaxIdRow,
)
from services.core.db import one, to_struct, to_structs
from services.core.pagination import After, fetch_page

_PROVIDER = """
    SELECT p.id, p.user_id, u.email, p.first_name, p.last_name, p.npi, p.taxonomy_code,
           p.tax_id_last4, p.created_at, p.updated_at
    FROM providers p JOIN users u ON u.id = p.user_id
"""


async def insert_provider(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    user_id: uuid.UUID,
    names: tuple[str, str],
    npi: str,
    taxonomy_code: str,
    tax_id: SealedTaxId,
) -> bool:
    """False when the NPI is already on file. The id is chosen by the caller: the tax id's
    ciphertext is bound to it."""
    inserted = await conn.fetchval(
        """
        INSERT INTO providers (id, user_id, first_name, last_name, npi, taxonomy_code,
                               tax_id_encrypted, tax_id_key_id, tax_id_scheme, tax_id_last4)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (npi) DO NOTHING
        RETURNING id
        """,
        provider_id,
        user_id,
        *names,
        npi,
        taxonomy_code,
        tax_id.encrypted,
        tax_id.key_id,
        tax_id.scheme,
        tax_id.last4,
    )
    return inserted is not None


async def get_provider(
    conn: asyncpg.Connection, provider_id: uuid.UUID, owner: uuid.UUID | None
) -> ProviderOut | None:
    row = await conn.fetchrow(
        _PROVIDER + " WHERE p.id = $1 AND ($2::uuid IS NULL OR p.id = $2)", provider_id, owner
    )
    return to_struct(row, ProviderOut)


async def lock_provider(
    conn: asyncpg.Connection, provider_id: uuid.UUID, owner: uuid.UUID | None
) -> ProviderOut | None:
    row = await conn.fetchrow(
        _PROVIDER + " WHERE p.id = $1 AND ($2::uuid IS NULL OR p.id = $2) FOR UPDATE OF p",
        provider_id,
        owner,
    )
    return to_struct(row, ProviderOut)


async def list_providers(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[ProviderOut]:
    query = _PROVIDER + " WHERE TRUE"
    return await fetch_page(conn, ProviderOut, query, after=after, limit=limit, alias="p")


async def update_provider(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    names: tuple[str, str],
    npi: str,
    taxonomy_code: str,
    tax_id: SealedTaxId | None,
) -> None:
    """`tax_id` None keeps the stored one. Raises UniqueViolationError for a taken NPI."""
    sealed: tuple[bytes | None, str | None, int | None, str | None] = (None, None, None, None)
    if tax_id is not None:
        sealed = (tax_id.encrypted, tax_id.key_id, tax_id.scheme, tax_id.last4)
    await conn.execute(
        """
        UPDATE providers
        SET first_name = $2, last_name = $3, npi = $4, taxonomy_code = $5,
            tax_id_encrypted = COALESCE($6, tax_id_encrypted),
            tax_id_key_id = COALESCE($7, tax_id_key_id),
            tax_id_scheme = COALESCE($8, tax_id_scheme),
            tax_id_last4 = COALESCE($9, tax_id_last4),
            updated_at = now()
        WHERE id = $1
        """,
        provider_id,
        *names,
        npi,
        taxonomy_code,
        *sealed,
    )


_TAX_ID = "SELECT id, tax_id_encrypted, tax_id_key_id, tax_id_scheme FROM providers"


async def get_tax_id(conn: asyncpg.Connection, provider_id: uuid.UUID) -> TaxIdRow | None:
    row = await conn.fetchrow(_TAX_ID + " WHERE id = $1", provider_id)
    return to_struct(row, TaxIdRow)


async def lock_stale_tax_ids(
    conn: asyncpg.Connection,
    key_id: str,
    scheme: int,
    after: uuid.UUID | None,
    limit: int,
) -> list[TaxIdRow]:
    """Tax ids not under (key_id, scheme), in id order after `after`, locked."""
    rows = await conn.fetch(
        _TAX_ID
        + """
        WHERE (tax_id_key_id <> $1 OR tax_id_scheme <> $2) AND ($3::uuid IS NULL OR id > $3)
        ORDER BY id LIMIT $4 FOR UPDATE
        """,
        key_id,
        scheme,
        after,
        limit,
    )
    return to_structs(rows, TaxIdRow)


async def update_tax_id_ciphertext(
    conn: asyncpg.Connection, provider_id: uuid.UUID, encrypted: bytes, key_id: str, scheme: int
) -> None:
    """Re-encryption only: the value, hence its last four and updated_at, stays the same."""
    await conn.execute(
        """
        UPDATE providers SET tax_id_encrypted = $2, tax_id_key_id = $3, tax_id_scheme = $4
        WHERE id = $1
        """,
        provider_id,
        encrypted,
        key_id,
        scheme,
    )


async def insert_licence(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    state: str,
    licence_type: str,
    number: str,
    expires_on: date,
) -> LicenceOut | None:
    """None when this state's licence of this type and number is already on file."""
    row = await conn.fetchrow(
        """
        INSERT INTO provider_licences (provider_id, state, licence_type, number, expires_on)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (state, licence_type, number) DO NOTHING
        RETURNING id, provider_id, state, licence_type, number, expires_on, created_at
        """,
        provider_id,
        state,
        licence_type,
        number,
        expires_on,
    )
    return to_struct(row, LicenceOut)


async def list_licences(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    after: After | None,
    limit: int,
) -> list[LicenceOut]:
    query = """
        SELECT id, provider_id, state, licence_type, number, expires_on, created_at
        FROM provider_licences
        WHERE provider_id = $1
    """
    return await fetch_page(conn, LicenceOut, query, provider_id, after=after, limit=limit)


async def delete_licence(
    conn: asyncpg.Connection, provider_id: uuid.UUID, licence_id: uuid.UUID
) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM provider_licences WHERE id = $1 AND provider_id = $2 RETURNING id",
        licence_id,
        provider_id,
    )
    return deleted is not None


async def insert_location(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    name: str,
    place_of_service: str,
    address: tuple[str | None, ...],
) -> LocationRow:
    row = await conn.fetchrow(
        """
        INSERT INTO provider_locations (provider_id, name, place_of_service, address_line1,
                                        address_line2, city, state, zip)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING id, provider_id, name, place_of_service, address_line1, address_line2,
               city, state, zip, created_at, updated_at
        """,
        provider_id,
        name,
        place_of_service,
        *address,
    )
    return one(row, LocationRow)


async def lock_location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, location_id: uuid.UUID
) -> LocationRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, provider_id, name, place_of_service, address_line1, address_line2,
               city, state, zip, created_at, updated_at
        FROM provider_locations
        WHERE id = $1 AND provider_id = $2 FOR UPDATE
        """,
        location_id,
        provider_id,
    )
    return to_struct(row, LocationRow)


async def update_location(
    conn: asyncpg.Connection,
    location_id: uuid.UUID,
    name: str,
    place_of_service: str,
    address: tuple[str | None, ...],
) -> LocationRow:
    row = await conn.fetchrow(
        """
        UPDATE provider_locations
        SET name = $2, place_of_service = $3, address_line1 = $4, address_line2 = $5,
            city = $6, state = $7, zip = $8, updated_at = now()
        WHERE id = $1
        RETURNING id, provider_id, name, place_of_service, address_line1, address_line2,
               city, state, zip, created_at, updated_at
        """,
        location_id,
        name,
        place_of_service,
        *address,
    )
    return one(row, LocationRow)


async def list_locations(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    after: After | None,
    limit: int,
) -> list[LocationRow]:
    query = """
        SELECT id, provider_id, name, place_of_service, address_line1, address_line2,
               city, state, zip, created_at, updated_at
        FROM provider_locations
        WHERE provider_id = $1
    """
    return await fetch_page(conn, LocationRow, query, provider_id, after=after, limit=limit)


async def delete_location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, location_id: uuid.UUID
) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM provider_locations WHERE id = $1 AND provider_id = $2 RETURNING id",
        location_id,
        provider_id,
    )
    return deleted is not None


async def upsert_self_pay_rate(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cpt_code: str, amount_cents: int
) -> SelfPayRateOut:
    row = await conn.fetchrow(
        """
        INSERT INTO provider_self_pay_rates (provider_id, cpt_code, amount_cents)
        VALUES ($1, $2, $3)
        ON CONFLICT (provider_id, cpt_code)
        DO UPDATE SET amount_cents = EXCLUDED.amount_cents, updated_at = now()
        RETURNING id, provider_id, cpt_code, amount_cents, created_at, updated_at
        """,
        provider_id,
        cpt_code,
        amount_cents,
    )
    return one(row, SelfPayRateOut)


async def list_self_pay_rates(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    after: After | None,
    limit: int,
) -> list[SelfPayRateOut]:
    query = """
        SELECT id, provider_id, cpt_code, amount_cents, created_at, updated_at
        FROM provider_self_pay_rates
        WHERE provider_id = $1
    """
    return await fetch_page(conn, SelfPayRateOut, query, provider_id, after=after, limit=limit)


async def get_self_pay_rate(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cpt_code: str
) -> SelfPayRateOut | None:
    row = await conn.fetchrow(
        """
        SELECT id, provider_id, cpt_code, amount_cents, created_at, updated_at
        FROM provider_self_pay_rates WHERE provider_id = $1 AND cpt_code = $2
        """,
        provider_id,
        cpt_code,
    )
    return to_struct(row, SelfPayRateOut)
