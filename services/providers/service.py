"""Use cases of provider profiles: onboarding, reading, editing, the tax id."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from schemas.providers import ProviderIn, ProviderOnboardedOut, ProviderOut, ProviderPatchIn
from services.core import audit
from services.core.auth import Actor
from services.core.pagination import Page, page_of
from services.core.scope import NOBODY, owner_scope
from services.core.settings import Settings
from services.identity.service import create_invite, create_user
from services.providers import details, queries, tax_ids

# What other domains use of a provider's details (estimates); the `as` makes them this module's.
from services.providers.details import checked_cpt as checked_cpt
from services.providers.details import get_self_pay_rate as get_self_pay_rate
from services.providers.details import list_locations as list_locations
from services.providers.errors import InvalidValue, NpiTaken, OpsOnlyField, ProviderNotFound
from services.providers.validation import is_valid_npi, is_valid_taxonomy

# A provider's profile holds their NPI and (sealed) tax id: onboarding and edits are audited.
ENTITY = "provider"


def checked_npi(value: str) -> str:
    if not is_valid_npi(value):
        raise InvalidValue(
            "NPI must be 10 digits starting with 1 or 2 with a valid check digit", field="npi"
        )
    return value


def checked_taxonomy(value: str) -> str:
    value = value.upper()
    if not is_valid_taxonomy(value):
        raise InvalidValue(
            "taxonomy code must be 9 letters or digits followed by X", field="taxonomy_code"
        )
    return value


async def onboard_provider(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, data: ProviderIn
) -> ProviderOnboardedOut:
    """Ops create the user (no password), the profile, its details and an invitation."""
    npi = checked_npi(data.npi)
    taxonomy = checked_taxonomy(data.taxonomy_code)
    provider_id = uuid.uuid4()  # chosen here: the tax id's ciphertext is bound to it
    tax_id = tax_ids.seal(settings, provider_id, data.tax_id)
    for index, licence in enumerate(data.licences):
        details.check_licence(licence, f"licences[{index}].")
    for index, location in enumerate(data.locations):
        details.check_location(location.place_of_service, location.address, f"locations[{index}].")
    user_id = await create_user(conn, settings, data.email, "provider", None)
    names = (data.first_name, data.last_name)
    if not await queries.insert_provider(conn, provider_id, user_id, names, npi, taxonomy, tax_id):
        raise NpiTaken("a provider with this NPI already exists", field="npi")
    await audit.record(conn, actor, "create", ENTITY, [provider_id])
    licences = [
        await details.insert_licence(conn, provider_id, licence, f"licences[{index}].")
        for index, licence in enumerate(data.licences)
    ]
    locations = [await details.insert_location(conn, provider_id, loc) for loc in data.locations]
    token, expires_at = await create_invite(conn, settings, user_id, actor.user_id)
    provider = await queries.get_provider(conn, provider_id, None)
    assert provider is not None
    return ProviderOnboardedOut(
        provider=provider,
        licences=licences,
        locations=locations,
        invite_token=token,
        invite_expires_at=expires_at,
    )


async def get_provider(
    conn: asyncpg.Connection, actor: Actor, provider_id: uuid.UUID
) -> ProviderOut:
    """Ops see any provider; a provider only themself (anyone else is 404)."""
    provider = await queries.get_provider(conn, provider_id, owner_scope(actor).provider_id)
    if provider is None:
        raise ProviderNotFound("provider not found")
    return provider


async def get_own_provider(conn: asyncpg.Connection, actor: Actor) -> ProviderOut:
    return await get_provider(conn, actor, actor.provider_id or NOBODY)


async def list_providers(
    conn: asyncpg.Connection, limit: int, cursor: str | None
) -> Page[ProviderOut]:
    return await page_of(lambda after, n: queries.list_providers(conn, after, n), cursor, limit)


async def update_provider(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    provider_id: uuid.UUID,
    patch: ProviderPatchIn,
) -> ProviderOut:
    """Providers may change their names and taxonomy; NPI and tax id are for ops."""
    current = await queries.lock_provider(conn, provider_id, owner_scope(actor).provider_id)
    if current is None:
        raise ProviderNotFound("provider not found")
    if actor.role != "ops":
        for field in ("npi", "tax_id"):
            if getattr(patch, field) is not msgspec.UNSET:
                raise OpsOnlyField(f"only ops may change the {field}", field=field)
    first = current.first_name if patch.first_name is msgspec.UNSET else patch.first_name
    last = current.last_name if patch.last_name is msgspec.UNSET else patch.last_name
    npi = current.npi if patch.npi is msgspec.UNSET else checked_npi(patch.npi)
    taxonomy = (
        current.taxonomy_code
        if patch.taxonomy_code is msgspec.UNSET
        else checked_taxonomy(patch.taxonomy_code)
    )
    tax_id = (
        None if patch.tax_id is msgspec.UNSET else tax_ids.seal(settings, provider_id, patch.tax_id)
    )
    try:
        # A savepoint: the unique violation must not poison the request's transaction.
        async with conn.transaction():
            await queries.update_provider(conn, provider_id, (first, last), npi, taxonomy, tax_id)
    except asyncpg.UniqueViolationError as exc:
        raise NpiTaken("a provider with this NPI already exists", field="npi") from exc
    await audit.record(conn, actor, "update", ENTITY, [provider_id])
    updated = await queries.get_provider(conn, provider_id, None)
    assert updated is not None
    return updated


async def reveal_tax_id(
    conn: asyncpg.Connection, settings: Settings, provider_id: uuid.UUID
) -> str:
    """The provider's tax id digits, for documents that must print it (superbills)."""
    return await tax_ids.reveal(conn, settings, provider_id)


async def require_provider(
    conn: asyncpg.Connection, actor: Actor, provider_id: uuid.UUID
) -> uuid.UUID:
    """The provider's id when the caller may act on it (ops, or the provider themself)."""
    return (await get_provider(conn, actor, provider_id)).id
