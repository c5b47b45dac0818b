"""Connect and the platform's balance movements: accounts, transfers, reversals, top-ups.

An account link (`POST /v1/account_links`) is the one-time onboarding address Stripe hosts: here
a page of the simulator's own (`GET /_admin/onboarding/{account}`, which only names the account:
the simulated accounts are enabled from the start), expiring five minutes after it is made.
Transfers draw on the platform's *available* USD balance: a transfer larger than it answers 400
`balance_insufficient` and moves nothing; one to an account whose `transfers` capability was
unrequested answers 400 `insufficient_capabilities_for_transfer`. A reversal gives (part of) a
transfer back; a top-up adds to the balance, pending for `topup_delay_s` of the simulator's
clock (default 0) and then `succeeded`. Events: account.updated (the connected account's: to
Connect endpoints), transfer.created, transfer.reversed, topup.created, topup.succeeded.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe.resources import List, StripeObject, store

from infra.stripe.balance import CURRENCY, Ledger
from infra.stripe.errors import StripeError, answer, invalid, no_such
from infra.stripe.objects import cents, emit, every, find, metadata, page, post_params, query_params

ACCOUNT_TYPES = ("express", "custom", "standard")
LINK_TYPES = ("account_onboarding", "account_update")
LINK_TTL_S = 300


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, data: dict[str, Any]) -> None:
        kind = data.get("type", "express")
        if kind not in ACCOUNT_TYPES:
            raise invalid(f"Invalid type: must be one of {', '.join(ACCOUNT_TYPES)}", param="type")
        super().__init__()
        self.type = kind
        self.country = str(data.get("country") or "US")
        self.email = data.get("email")
        self.business_type = data.get("business_type")
        self.default_currency = CURRENCY
        self.metadata = metadata(data.get("metadata"))
        self.capabilities = {name: "active" for name in (data.get("capabilities") or {})}
        self.charges_enabled = self.payouts_enabled = self.details_submitted = True
        self.requirements = {"currently_due": [], "eventually_due": [], "past_due": [],
                             "disabled_reason": None}  # fmt: skip


class TransferReversal(StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer: Transfer, amount: int, meta: dict[str, str], txn: str) -> None:
        super().__init__()
        self.amount, self.currency, self.transfer = amount, transfer.currency, transfer.id
        self.metadata, self.balance_transaction = meta, txn
        self.destination_payment_refund = None


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, amount: int, destination: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.amount, self.currency, self.destination = amount, CURRENCY, destination
        self.transfer_group = data.get("transfer_group")
        self.description = data.get("description")
        self.metadata = metadata(data.get("metadata"))
        self.source_transaction = data.get("source_transaction")
        self.destination_payment = "py_" + self.id[3:]
        self.balance_transaction: str | None = None
        self._reversals: list[TransferReversal] = []

    @property
    def amount_reversed(self) -> int:
        return sum(r.amount for r in self._reversals)

    @property
    def reversed(self) -> bool:
        return self.amount_reversed >= self.amount

    @property
    def reversals(self) -> List:
        listing = List(f"/v1/transfers/{self.id}/reversals")
        listing._list = list(self._reversals)
        return listing


class Topup(StripeObject):
    object = "topup"
    _id_prefix = "tu_"

    def __init__(self, amount: int, data: dict[str, Any]) -> None:
        super().__init__()
        self.amount, self.currency = amount, CURRENCY
        self.description = data.get("description")
        self.statement_descriptor = data.get("statement_descriptor")
        self.metadata = metadata(data.get("metadata"))
        self.status = "pending"
        self.balance_transaction: str | None = None
        self.expected_availability_date: int | None = None
        self.failure_code = self.failure_message = None


def _usd_amount(data: dict[str, Any]) -> int:
    """A positive amount in USD, the only currency the platform's balance is simulated in."""
    amount = cents(data.get("amount"), "amount")
    if not amount:
        raise invalid("Invalid positive integer", param="amount")
    if str(data.get("currency", "")).lower() != CURRENCY:
        raise invalid("Only usd is simulated", param="currency")
    return amount


class Connect:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.pending_topups: list[Topup] = []

    def settle(self) -> None:
        """Top-ups whose funds arrived (by the simulator's clock) succeed."""
        now = self.ledger.clock.timestamp()
        for topup in [t for t in self.pending_topups if t.expected_availability_date <= now]:
            self.pending_topups.remove(topup)
            topup.status = "succeeded"
            emit("topup.succeeded", topup)

    def clear(self) -> None:
        self.pending_topups.clear()

    async def fail_topup(self, request: web.Request) -> web.Response:
        """The bank refused a pending top-up: its funds never arrive (topup.failed)."""
        topup = find(Topup, request.match_info["id"], "topup")
        if topup.status != "pending":
            raise invalid(f"Top-up {topup.id} is {topup.status}, not pending")
        self.pending_topups.remove(topup)
        txn = store.pop(f"balance_transaction:{topup.balance_transaction}")
        txn.status = "failed"  # out of the store and of the heap's way
        topup.status, topup.balance_transaction = "failed", None
        topup.failure_code = "account_closed"
        topup.failure_message = "The bank account has been closed."
        emit("topup.failed", topup)
        return answer(topup._export())

    async def create_account(self, request: web.Request) -> web.Response:
        data = await post_params(request)
        expand = data.pop("expand", None)
        return answer(Account(data)._export(expand=expand))

    async def update_account(self, request: web.Request) -> web.Response:
        account = find(Account, request.match_info["id"], "account")
        data = await post_params(request)
        expand = data.pop("expand", None)
        if "metadata" in data:
            account.metadata.update(metadata(data.pop("metadata")))
        for name in ("email", "business_type"):
            if name in data:
                setattr(account, name, data.pop(name))
        for name in ("charges_enabled", "payouts_enabled"):
            # Not settable in Stripe's API; here so tests can make an account unusable.
            if name in data:
                setattr(account, name, str(data.pop(name)).lower() == "true")
        for name, wanted in (data.pop("capabilities", None) or {}).items():
            # A capability unrequested (as Stripe's API allows) is inactive: no transfers.
            asked = str((wanted or {}).get("requested", "true")).lower() == "true"
            account.capabilities[name] = "active" if asked else "inactive"
        if data:
            raise invalid(f"Received unknown parameter: {next(iter(data))}")
        # An event of the connected account: Stripe sends it to Connect endpoints only.
        emit("account.updated", account, account=account.id)
        return answer(account._export(expand=expand))

    async def create_account_link(self, request: web.Request) -> web.Response:
        data = await post_params(request)
        account = find(Account, data.get("account"), "account")
        if data.get("type") not in LINK_TYPES:
            raise invalid(f"Invalid type: must be one of {', '.join(LINK_TYPES)}", param="type")
        for name in ("refresh_url", "return_url"):
            if not str(data.get(name) or "").startswith(("http://", "https://")):
                raise invalid(f"Missing or invalid {name}", param=name)
        created = int(self.ledger.clock.timestamp())
        origin = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        return answer({"object": "account_link", "created": created,
                       "expires_at": created + LINK_TTL_S,
                       "url": f"{origin}/_admin/onboarding/{account.id}?at={created}"})  # fmt: skip

    async def onboarding_page(self, request: web.Request) -> web.Response:
        account = find(Account, request.match_info["id"], "account")
        return web.Response(text=f"<!doctype html><title>Stripe onboarding</title>"
                                 f"<p>Simulated onboarding of {account.id}: nothing to fill in.",
                            content_type="text/html")  # fmt: skip

    async def list_accounts(self, request: web.Request) -> web.Response:
        params = query_params(request)
        return answer(page("/v1/accounts", every(Account), params)._export())

    async def create_transfer(self, request: web.Request) -> web.Response:
        data = await post_params(request)
        expand = data.pop("expand", None)
        amount = _usd_amount(data)
        destination = data.get("destination")
        if not isinstance(destination, str) or f"account:{destination}" not in store:
            raise no_such("destination", str(destination), "destination")
        if find(Account, destination, "destination").capabilities.get("transfers") == "inactive":
            raise StripeError(400, "Your destination account needs to have at least one of the "
                              "following capabilities enabled: transfers, crypto_transfers, "
                              "legacy_payments", code="insufficient_capabilities_for_transfer",
                              param="destination")  # fmt: skip
        available, _ = self.ledger.totals()
        if amount > available:
            raise StripeError(400, "You have insufficient available funds in your Stripe "
                              "account. Try adding funds directly to your available balance "
                              "by creating Top-ups.", code="balance_insufficient")  # fmt: skip
        transfer = Transfer(amount, destination, data)
        transfer.balance_transaction = self.ledger.add(-amount, "transfer", transfer.id).id
        emit("transfer.created", transfer)
        return answer(transfer._export(expand=expand))

    async def list_transfers(self, request: web.Request) -> web.Response:
        params = query_params(request)
        wanted = {k: params[k] for k in ("transfer_group", "destination") if k in params}
        transfers = [t for t in every(Transfer)
                     if all(getattr(t, k) == v for k, v in wanted.items())]  # fmt: skip
        return answer(page("/v1/transfers", transfers, params)._export())

    async def create_reversal(self, request: web.Request) -> web.Response:
        transfer = find(Transfer, request.match_info["id"], "transfer")
        data = await post_params(request)
        left = transfer.amount - transfer.amount_reversed
        amount = cents(data.get("amount"), "amount", required=False)
        amount = left if amount is None else amount
        if left <= 0:
            raise invalid(f"Transfer {transfer.id} has already been fully reversed.",
                          code="transfer_already_reversed")  # fmt: skip
        if amount <= 0 or amount > left:
            raise invalid(f"Reversal amount ({amount}) is greater than the transfer's "
                          f"unreversed amount ({left})", param="amount")  # fmt: skip
        txn = self.ledger.add(amount, "transfer_cancel", transfer.id)
        reversal = TransferReversal(transfer, amount, metadata(data.get("metadata")), txn.id)
        transfer._reversals.append(reversal)
        emit("transfer.reversed", transfer)
        return answer(reversal._export())

    async def list_reversals(self, request: web.Request) -> web.Response:
        transfer = find(Transfer, request.match_info["id"], "transfer")
        return answer(transfer.reversals._export())

    async def create_topup(self, request: web.Request) -> web.Response:
        data = await post_params(request)
        expand = data.pop("expand", None)
        amount = _usd_amount(data)
        topup = Topup(amount, data)
        delay = self.ledger.config.topup_delay_s
        txn = self.ledger.add(amount, "topup", topup.id, delay_s=delay)
        topup.balance_transaction = txn.id
        topup.expected_availability_date = txn.available_on
        emit("topup.created", topup)
        self.pending_topups.append(topup)
        self.settle()
        return answer(topup._export(expand=expand))

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", "/v1/accounts", self.create_account),
            ("GET", "/v1/accounts", self.list_accounts),
            ("POST", "/v1/accounts/{id}", self.update_account),
            ("POST", "/v1/account_links", self.create_account_link),
            ("GET", "/_admin/onboarding/{id}", self.onboarding_page),
            ("POST", "/v1/transfers", self.create_transfer),
            ("GET", "/v1/transfers", self.list_transfers),
            ("POST", "/v1/transfers/{id}/reversals", self.create_reversal),
            ("GET", "/v1/transfers/{id}/reversals", self.list_reversals),
            ("POST", "/v1/topups", self.create_topup),
        ]


RETRIEVABLE = (Account, Transfer, Topup)
