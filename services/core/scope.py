"""The owner scope: whose rows a caller may read or write, passed to SQL as parameters.

One statement both finds a row and checks the caller may see it: a foreign row and an unknown
one are the same "not found". A scope is (provider_id, client_id): both None for ops and for
the system actor of jobs, who see every row; otherwise the caller's own profile id in its
role's place and NOBODY, which matches no row, in the other (and in its own place too when the
token has no profile). So `$p IS NULL` means every row, and a statement ORs the owner columns
its table has:
`($p::uuid IS NULL OR provider_id = $p OR client_id = $c)`.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from services.core.auth import Actor
from services.core.errors import DomainError, Unprocessable

NOBODY = uuid.UUID(int=0)


class Scope(NamedTuple):
    provider_id: uuid.UUID | None
    client_id: uuid.UUID | None


def owner_scope(actor: Actor) -> Scope:
    """The owners a caller is confined to; (None, None) for ops and the system (jobs)."""
    if actor.role in ("ops", "system"):
        return Scope(None, None)
    provider = actor.provider_id if actor.role == "provider" else None
    client = actor.client_id if actor.role == "client" else None
    return Scope(provider or NOBODY, client or NOBODY)


def named_parties(
    actor: Actor,
    provider_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    *,
    foreign_client: DomainError,
    foreign_provider: DomainError,
    missing: type[Unprocessable],
) -> tuple[uuid.UUID, uuid.UUID]:
    """The provider and client a request (a booking, an estimate) is between: a client's or a
    provider's own id filled in where left out; naming another client or provider raises
    `foreign_client` / `foreign_provider` (a 404), leaving one out `missing` naming the field."""
    if actor.role == "client":
        if actor.client_id is None or client_id not in (None, actor.client_id):
            raise foreign_client
        client_id = actor.client_id
    if actor.role == "provider":
        if actor.provider_id is None or provider_id not in (None, actor.provider_id):
            raise foreign_provider
        provider_id = actor.provider_id
    if provider_id is None:
        raise missing("provider_id is required", field="provider_id")
    if client_id is None:
        raise missing("client_id is required", field="client_id")
    return provider_id, client_id
