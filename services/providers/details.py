"""Use cases of a provider's licences, service locations and self-pay rates.

Every function takes a provider id the caller was already cleared for
(service.require_provider), and scopes the child row to it in SQL.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import asyncpg
import msgspec

from schemas.common import Address
from schemas.providers import (
    AddressOut,
    LicenceIn,
    LicenceOut,
    LocationIn,
    LocationOut,
    LocationPatchIn,
    LocationRow,
    SelfPayRateOut,
)
from services.core import clock
from services.core.errors import NotFound
from services.core.pagination import Page, page_of
from services.providers import queries
from services.providers.errors import InvalidValue, LicenceTaken
from services.providers.validation import is_valid_cpt

# Claims and superbills need a street address where the service happens: never a PO box.
_PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX)\b", re.IGNORECASE)


def _today() -> date:
    return clock.today()


def check_licence(data: LicenceIn, prefix: str = "") -> None:
    if data.expires_on < _today():
        raise InvalidValue("the licence has already expired", field=f"{prefix}expires_on")


def check_location(place_of_service: str, address: Address | None, prefix: str = "") -> None:
    if address is None:
        if place_of_service == "11":
            raise InvalidValue("an office (11) needs its street address", field=f"{prefix}address")
        return
    for part in ("line1", "line2"):
        if _PO_BOX.search(getattr(address, part) or ""):
            raise InvalidValue(
                "a service location is a street address, not a PO box",
                field=f"{prefix}address.{part}",
            )


def _address_columns(address: Address | None) -> tuple[str | None, ...]:
    if address is None:
        return (None, None, None, None, None)
    return (address.line1, address.line2, address.city, address.state, address.zip)


def location_out(row: LocationRow) -> LocationOut:
    address = None
    if row.address_line1 is not None:
        address = AddressOut(
            line1=row.address_line1,
            line2=row.address_line2,
            city=row.city or "",
            state=row.state or "",
            zip=row.zip or "",
        )
    return LocationOut(
        id=row.id,
        provider_id=row.provider_id,
        name=row.name,
        place_of_service=row.place_of_service,
        address=address,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def insert_licence(
    conn: asyncpg.Connection, provider_id: uuid.UUID, data: LicenceIn, prefix: str = ""
) -> LicenceOut:
    licence = await queries.insert_licence(
        conn, provider_id, data.state, data.licence_type, data.number, data.expires_on
    )
    if licence is None:
        raise LicenceTaken(
            "this state's licence of this type and number is already on file",
            field=f"{prefix}number",
        )
    return licence


async def add_licence(
    conn: asyncpg.Connection, provider_id: uuid.UUID, data: LicenceIn
) -> LicenceOut:
    check_licence(data)
    return await insert_licence(conn, provider_id, data)


async def list_licences(
    conn: asyncpg.Connection, provider_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[LicenceOut]:
    return await page_of(
        lambda after, n: queries.list_licences(conn, provider_id, after, n), cursor, limit
    )


async def delete_licence(
    conn: asyncpg.Connection, provider_id: uuid.UUID, licence_id: uuid.UUID
) -> None:
    if not await queries.delete_licence(conn, provider_id, licence_id):
        raise NotFound("licence not found")


async def insert_location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, data: LocationIn
) -> LocationOut:
    row = await queries.insert_location(
        conn, provider_id, data.name, data.place_of_service, _address_columns(data.address)
    )
    return location_out(row)


async def add_location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, data: LocationIn
) -> LocationOut:
    check_location(data.place_of_service, data.address)
    return await insert_location(conn, provider_id, data)


async def list_locations(
    conn: asyncpg.Connection, provider_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[LocationOut]:
    page = await page_of(
        lambda after, n: queries.list_locations(conn, provider_id, after, n), cursor, limit
    )
    return page.map(location_out)


async def update_location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, location_id: uuid.UUID, patch: LocationPatchIn
) -> LocationOut:
    current = await queries.lock_location(conn, provider_id, location_id)
    if current is None:
        raise NotFound("location not found")
    name = current.name if patch.name is msgspec.UNSET else patch.name
    pos = (
        current.place_of_service
        if patch.place_of_service is msgspec.UNSET
        else patch.place_of_service
    )
    if patch.address is msgspec.UNSET:
        # The stored address passed its checks when it was written; only the POS may change.
        columns: tuple[str | None, ...] = (
            current.address_line1,
            current.address_line2,
            current.city,
            current.state,
            current.zip,
        )
        if pos == "11" and current.address_line1 is None:
            raise InvalidValue("an office (11) needs its street address", field="address")
    else:
        check_location(pos, patch.address)
        columns = _address_columns(patch.address)
    return location_out(await queries.update_location(conn, location_id, name, pos, columns))


async def delete_location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, location_id: uuid.UUID
) -> None:
    if not await queries.delete_location(conn, provider_id, location_id):
        raise NotFound("location not found")


def checked_cpt(cpt_code: str) -> str:
    if not is_valid_cpt(cpt_code):
        raise InvalidValue("CPT code must be five digits", field="cpt_code")
    return cpt_code


async def set_self_pay_rate(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cpt_code: str, amount_cents: int
) -> SelfPayRateOut:
    return await queries.upsert_self_pay_rate(
        conn, provider_id, checked_cpt(cpt_code), amount_cents
    )


async def list_self_pay_rates(
    conn: asyncpg.Connection, provider_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[SelfPayRateOut]:
    return await page_of(
        lambda after, n: queries.list_self_pay_rates(conn, provider_id, after, n), cursor, limit
    )


async def get_self_pay_rate(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cpt_code: str
) -> SelfPayRateOut | None:
    """The provider's full rate for a CPT code (out-of-network estimates, superbills)."""
    return await queries.get_self_pay_rate(conn, provider_id, cpt_code)
