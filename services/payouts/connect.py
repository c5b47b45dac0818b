"""The Stripe calls of payouts: Connect accounts and the platform's top-ups, on the official
SDK's `client.v1.*` services with Hearth's own Idempotency-Keys.

It wraps the process's one SDK client (the payments gateway's `client`: one connection pool,
`max_network_retries=0`, so a retry is our decision and carries our key). Answers are reduced
to the few fields payouts keep. Lookups never use the Search API (it lags): they page through
the list and match Hearth's id in the metadata.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import stripe

from services.core.stripe_lists import first_with_metadata


class StripeUnknown(Exception):
    """No answer (timeout, lost connection, the key in flight): look it up, never redo."""


class StripeFailed(Exception):
    """Stripe answered with an error: the same key would replay it, the next try takes n+1."""

    def __init__(self, code: str, *, status: int | None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@runtime_checkable
class HasStripeClient(Protocol):
    """What payouts need of the app's Stripe dependency: its SDK client."""

    @property
    def client(self) -> stripe.StripeClient: ...


@dataclass(frozen=True)
class Account:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...]
    disabled_reason: str | None
    hearth_provider_id: str | None


@dataclass(frozen=True)
class TopUp:
    id: str
    status: str  # pending | succeeded | failed | canceled | reversed
    amount: int
    failure_code: str | None
    hearth_top_up_id: str | None


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    destination: str
    transfer_group: str | None
    hearth_payout_id: str | None
    reversals: tuple[tuple[str, int], ...]  # (reversal id, amount) of those Stripe listed


def _field(obj: Any, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def _account(obj: Any) -> Account:
    needs = _field(obj, "requirements")
    due = [*(_field(needs, "past_due") or []), *(_field(needs, "currently_due") or [])]
    disabled = _field(needs, "disabled_reason")
    return Account(
        id=str(obj.id),
        charges_enabled=bool(_field(obj, "charges_enabled")),
        payouts_enabled=bool(_field(obj, "payouts_enabled")),
        details_submitted=bool(_field(obj, "details_submitted")),
        requirements_due=tuple(dict.fromkeys(str(x)[:200] for x in due)),
        disabled_reason=str(disabled)[:200] if disabled else None,
        hearth_provider_id=_field(_field(obj, "metadata"), "hearth_provider_id"),
    )


def _topup(obj: Any) -> TopUp:
    code = _field(obj, "failure_code")
    return TopUp(
        id=str(obj.id), status=str(obj.status), amount=int(obj.amount),
        failure_code=str(code)[:100] if code else None,
        hearth_top_up_id=_field(_field(obj, "metadata"), "hearth_top_up_id"),
    )  # fmt: skip


def _transfer(obj: Any) -> Transfer:
    listed = _field(_field(obj, "reversals"), "data") or []
    return Transfer(
        id=str(obj.id), amount=int(obj.amount), destination=str(_field(obj, "destination")),
        transfer_group=_field(obj, "transfer_group"),
        hearth_payout_id=_field(_field(obj, "metadata"), "hearth_payout_id"),
        reversals=tuple((str(r.id), int(r.amount)) for r in listed),
    )  # fmt: skip


class ConnectGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    @classmethod
    def of(cls, source: HasStripeClient) -> ConnectGateway:
        return cls(source.client)

    async def _call(self, make: Any) -> Any:
        try:
            return await make()
        except stripe.APIConnectionError as exc:
            raise StripeUnknown(str(exc.user_message or "no answer from Stripe")) from exc
        except stripe.StripeError as exc:
            if exc.http_status == 409:  # another request under this key is still running
                raise StripeUnknown("a request under this key is in flight") from exc
            raise StripeFailed(exc.code or type(exc).__name__, status=exc.http_status) from exc

    async def _first_with(self, list_async: Any, key: str, value: str) -> Any:
        return await first_with_metadata(self._call, list_async, {"limit": 100}, key, value)

    async def create_account(self, *, key: str, provider_id: uuid.UUID) -> Account:
        """An Express account that receives transfers (separate charges and transfers)."""
        obj = await self._call(lambda: self.client.v1.accounts.create_async(
            params={"type": "express", "country": "US",
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"hearth_provider_id": str(provider_id)}},
            options={"idempotency_key": key},
        ))  # fmt: skip
        return _account(obj)

    async def create_account_link(
        self, *, key: str, account_id: str, refresh_url: str, return_url: str
    ) -> tuple[str, int]:
        """(url, expires_at): the one-time address of Stripe's hosted onboarding."""
        obj = await self._call(lambda: self.client.v1.account_links.create_async(
            params={"account": account_id, "type": "account_onboarding",
                    "refresh_url": refresh_url, "return_url": return_url},
            options={"idempotency_key": key},
        ))  # fmt: skip
        return str(obj.url), int(obj.expires_at)

    async def get_account(self, account_id: str) -> Account:
        return _account(
            await self._call(lambda: self.client.v1.accounts.retrieve_async(account_id))
        )

    async def find_account(self, provider_id: uuid.UUID) -> Account | None:
        """The account an earlier call made for this provider, by metadata."""
        found = await self._first_with(
            self.client.v1.accounts.list_async, "hearth_provider_id", str(provider_id)
        )
        return None if found is None else _account(found)

    async def create_topup(
        self, *, key: str, amount: int, top_up_id: uuid.UUID, description: str | None
    ) -> TopUp:
        params: dict[str, Any] = {"amount": amount, "currency": "usd",
                                  "metadata": {"hearth_top_up_id": str(top_up_id)}}  # fmt: skip
        if description:
            params["description"] = description
        obj = await self._call(lambda: self.client.v1.topups.create_async(
            params=params, options={"idempotency_key": key}  # type: ignore[arg-type]
        ))  # fmt: skip
        return _topup(obj)

    async def get_topup(self, topup_id: str) -> TopUp:
        return _topup(await self._call(lambda: self.client.v1.topups.retrieve_async(topup_id)))

    async def find_topup(self, top_up_id: uuid.UUID) -> TopUp | None:
        """The top-up an earlier call made for this Hearth top-up, by metadata."""
        found = await self._first_with(
            self.client.v1.topups.list_async, "hearth_top_up_id", str(top_up_id)
        )
        return None if found is None else _topup(found)

    async def available_usd(self) -> int:
        """The platform's available USD balance, in cents (what transfers may draw on)."""
        balance = await self._call(lambda: self.client.v1.balance.retrieve_async())
        return sum(int(f.amount) for f in (_field(balance, "available") or [])
                   if str(_field(f, "currency")).lower() == "usd")  # fmt: skip

    async def create_transfer(
        self, *, key: str, amount: int, destination: str, group: str, payout_id: uuid.UUID
    ) -> Transfer:
        obj = await self._call(lambda: self.client.v1.transfers.create_async(
            params={"amount": amount, "currency": "usd", "destination": destination,
                    "transfer_group": group, "metadata": {"hearth_payout_id": str(payout_id)}},
            options={"idempotency_key": key},
        ))  # fmt: skip
        return _transfer(obj)

    async def get_transfer(self, transfer_id: str) -> Transfer:
        obj = await self._call(lambda: self.client.v1.transfers.retrieve_async(transfer_id))
        found = _transfer(obj)
        if _field(_field(obj, "reversals"), "has_more"):
            every = await self._call(lambda: self.client.v1.transfers.reversals.list_async(
                transfer_id, params={"limit": 100}))  # fmt: skip
            found = Transfer(**{**found.__dict__, "reversals": tuple(
                (str(r.id), int(r.amount)) for r in every.data)})  # fmt: skip
        return found

    async def find_transfer(self, group: str, destination: str | None) -> Transfer | None:
        """The transfer an earlier call made for this payout: by its transfer group (and
        destination), never the Search API."""
        params: dict[str, Any] = {"transfer_group": group, "limit": 100}
        if destination:
            params["destination"] = destination
        page = await self._call(
            lambda: self.client.v1.transfers.list_async(params=params)  # type: ignore[arg-type]
        )
        return next((_transfer(t) for t in page.data), None)
