"""Posting journal entries and reading balances: the ledger every money event goes through.

Every function takes the caller's connection and never commits: an entry belongs to the
transaction of the event it records (a completion, a capture, a payout), and PostgreSQL checks
at that transaction's COMMIT that the entry balances (infra/migrations/0014_ledger.sql).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from schemas.ledger import (
    CREDIT_NORMAL,
    MAX_LINE_CENTS,
    OWNED_KINDS,
    AccountBalance,
    AccountKind,
    AccountRef,
    AccountRow,
    AccountTotals,
    EntryIn,
    EntryKind,
    EntryOut,
    Line,
    Pair,
    TrialBalance,
)
from services.core import clock
from services.core.db import Connection
from services.ledger import queries
from services.ledger.errors import BadEntry, EntryKeyReused, UnbalancedEntry

# An account as an event's arithmetic names it: kind, owner, the claim on payer_receivable.
NetAccount = tuple[AccountKind, uuid.UUID | None, uuid.UUID | None]
_Key = tuple[str, str, str, int, str]  # kind, owner, side, cents, claim: a line, comparable


def _validate(entry: EntryIn) -> None:
    """What the database would refuse at COMMIT, and what it cannot see, refused now."""
    if len(entry.lines) < 2:
        raise BadEntry(f"an entry has at least two lines, not {len(entry.lines)}", field="lines")
    for n, line in enumerate(entry.lines):
        if line.amount_cents <= 0:
            raise BadEntry(
                f"line {n}: amounts are positive cents (the side says debit or credit), "
                f"not {line.amount_cents}",
                field=f"lines[{n}].amount_cents",
            )
        owned = line.account.kind in OWNED_KINDS
        if owned != (line.account.owner_id is not None):
            raise BadEntry(
                f"line {n}: a {line.account.kind} account "
                + ("names its owner" if owned else "is the platform's and has no owner"),
                field=f"lines[{n}].account.owner_id",
            )
        # DESIGN.md "Money": payer_receivable is tracked per claim, so each claim's ends at 0.
        if line.account.kind == "payer_receivable" and line.claim_id is None:
            raise BadEntry(
                f"line {n}: a payer_receivable line names its claim", field=f"lines[{n}].claim_id"
            )
    debits = sum(line.amount_cents for line in entry.lines if line.side == "debit")
    credits = sum(line.amount_cents for line in entry.lines if line.side == "credit")
    if debits != credits:
        raise UnbalancedEntry(
            f"debits ({debits} cents) and credits ({credits} cents) differ", field="lines"
        )
    # Bounds and patterns of the schema (key, memo, source, amounts), which a Struct built in
    # code has not been checked against.
    try:
        msgspec.convert(msgspec.to_builtins(entry), EntryIn)
    except msgspec.ValidationError as exc:
        raise BadEntry(str(exc)) from exc


def _line_keys(lines: list[tuple[AccountRef, str, int, uuid.UUID | None]]) -> list[_Key]:
    return sorted(
        (ref.kind, str(ref.owner_id or ""), side, cents, str(claim or ""))
        for ref, side, cents, claim in lines
    )


def _same_event(posted: EntryOut, entry: EntryIn) -> bool:
    """Same kind, cause and lines (in any order); the memo and the time may differ."""
    return (
        posted.kind == entry.kind
        and posted.source_table == entry.source_table
        and posted.source_id == entry.source_id
        and _line_keys(
            [
                (AccountRef(kind=x.kind, owner_id=x.owner_id), x.side, x.amount_cents, x.claim_id)
                for x in posted.lines
            ]
        )
        == _line_keys([(x.account, x.side, x.amount_cents, x.claim_id) for x in entry.lines])
    )


def lines_from_net(net: Mapping[NetAccount, int]) -> tuple[Line, ...]:
    """The lines moving each account by its net (debit +), zeros left out, in a fixed order."""
    return tuple(
        Line(
            account=AccountRef(kind=kind, owner_id=owner),
            side="debit" if cents > 0 else "credit",
            amount_cents=abs(cents),
            claim_id=claim,
        )
        for (kind, owner, claim), cents in sorted(
            net.items(), key=lambda item: (item[0][0], str(item[0][1]), str(item[0][2]))
        )
        if cents != 0
    )


def _by_ref(rows: list[AccountRow]) -> dict[AccountRef, int]:
    return {AccountRef(kind=a.kind, owner_id=a.owner_id): a.id for a in rows}


async def get_or_create_accounts(conn: Connection, refs: list[AccountRef]) -> dict[AccountRef, int]:
    """Account ids by reference, creating the missing accounts (race-safe)."""
    wanted = sorted(set(refs), key=lambda r: (str(r.owner_id or ""), r.kind))
    kinds: list[str] = [r.kind for r in wanted]
    owners = [r.owner_id for r in wanted]
    found = _by_ref(await queries.list_accounts(conn, kinds, owners))
    if len(found) < len(wanted):
        missing = [r for r in wanted if r not in found]
        found |= _by_ref(
            await queries.insert_accounts(
                conn, [r.kind for r in missing], [r.owner_id for r in missing]
            )
        )
    if len(found) < len(wanted):
        # Another transaction created them meanwhile: ON CONFLICT waited for it to commit,
        # and the next statement's snapshot (READ COMMITTED) sees its rows.
        found = _by_ref(await queries.list_accounts(conn, kinds, owners))
    return found


async def post_entry(conn: Connection, entry: EntryIn) -> EntryOut:
    """Post one money event, once: a repeat of its key with the same lines returns the first.

    The key taken with other lines is refused (EntryKeyReused): a caller built two different
    events under one name, and neither may be guessed right.
    """
    _validate(entry)
    occurred_at = entry.occurred_at or clock.now()
    if occurred_at.tzinfo is None:
        raise BadEntry("occurred_at is timezone-aware", field="occurred_at")
    # Most entries name accounts that exist: one statement finds them and posts.
    posted = await queries.insert_entry_of_existing_accounts(conn, entry, occurred_at)
    if posted is None:  # an account is new, or the key is taken
        accounts = await get_or_create_accounts(conn, [line.account for line in entry.lines])
        posted = await queries.insert_entry(
            conn, entry, occurred_at, [accounts[line.account] for line in entry.lines]
        )
    return posted if posted is not None else await _first(conn, entry)


async def _first(conn: Connection, entry: EntryIn) -> EntryOut:
    """The entry posted before under `entry`'s key, when it is the same event; else refused."""
    first = await queries.get_entry_by_key(conn, entry.idempotency_key)
    assert first is not None  # the key is taken, by a committed entry or one of ours
    if not _same_event(first, entry):
        raise EntryKeyReused(
            f"journal entry {first.id} was posted under key {entry.idempotency_key!r} "
            "with other lines",
            field="idempotency_key",
        )
    return first


async def post_entries(conn: Connection, entries: list[EntryIn]) -> None:
    """`post_entry` of many events in three statements or so (an 835 payment's hundreds).

    The same rules: each entry validated, balanced (the database checks it again at COMMIT),
    posted once by its key; a key already taken with the same lines is that event posted
    before, with other lines it is refused (EntryKeyReused). Two entries of the batch may not
    share a key: a batch names each event once.
    """
    if not entries:
        return
    keys: set[str] = set()
    for entry in entries:
        _validate(entry)
        if entry.idempotency_key in keys:
            raise EntryKeyReused(
                f"key {entry.idempotency_key!r} is given twice in one batch",
                field="idempotency_key",
            )
        keys.add(entry.idempotency_key)
        if entry.occurred_at is not None and entry.occurred_at.tzinfo is None:
            raise BadEntry("occurred_at is timezone-aware", field="occurred_at")
    now = clock.now()
    accounts = await get_or_create_accounts(
        conn, [line.account for entry in entries for line in entry.lines]
    )
    inserted = await queries.insert_entries(
        conn,
        entries,
        [entry.occurred_at or now for entry in entries],
        [[accounts[line.account] for line in entry.lines] for entry in entries],
    )
    for entry in entries:
        if entry.idempotency_key not in inserted:
            await _first(conn, entry)


def _pair_entry(
    kind: EntryKind, sides: tuple[AccountKind, AccountKind], source_table: str, memo: str,
    occurred_at: datetime, pair: Pair,
) -> EntryIn:  # fmt: skip
    debit, credit = sides
    return EntryIn(
        kind=kind, idempotency_key=f"{kind}-{pair.source_id}", source_table=source_table,
        source_id=pair.source_id, occurred_at=occurred_at, memo=memo,
        lines=(Line(account=AccountRef(kind=debit, owner_id=pair.debit_owner), side="debit",
                    amount_cents=pair.amount_cents),
               Line(account=AccountRef(kind=credit, owner_id=pair.credit_owner), side="credit",
                    amount_cents=pair.amount_cents)),
    )  # fmt: skip


def _check_pairs(sides: tuple[AccountKind, AccountKind], pairs: Sequence[Pair]) -> None:
    """What _validate checks of each entry, for the pairs (the first was validated whole)."""
    debit_owned, credit_owned = sides[0] in OWNED_KINDS, sides[1] in OWNED_KINDS
    for n, pair in enumerate(pairs):
        if not 0 < pair.amount_cents <= MAX_LINE_CENTS:
            raise BadEntry(f"pairs[{n}]: amounts are positive cents, not {pair.amount_cents}",
                           field=f"pairs[{n}].amount_cents")  # fmt: skip
        if (pair.debit_owner is not None) != debit_owned:
            raise BadEntry(f"pairs[{n}]: the {sides[0]} account's owner", field=f"pairs[{n}]")
        if (pair.credit_owner is not None) != credit_owned:
            raise BadEntry(f"pairs[{n}]: the {sides[1]} account's owner", field=f"pairs[{n}]")
    if len({pair.source_id for pair in pairs}) < len(pairs):
        raise EntryKeyReused("a source is given twice in one batch", field="pairs")


async def post_pairs(
    conn: Connection, kind: EntryKind, sides: tuple[AccountKind, AccountKind],
    source: tuple[str, str], occurred_at: datetime, pairs: Sequence[Pair],
) -> None:  # fmt: skip
    """post_entries of many two-line entries of one kind: for each pair, Dr sides[0] / Cr
    sides[1] its amount (the accounts of its owners where owned), from `source` (table, memo),
    under the key `{kind}-{source_id}`. One statement, and no EntryIn a pair: a payout run
    freezes and transfers 10,000 payouts this way (post_entries built, validated and sent each
    one's eleven fields: ~25 us an entry of our own time). The same rules: validated (the
    first entry whole, then each pair's amount and owners), posted once by its key (a key
    taken with the same lines is that event posted before; with other lines: EntryKeyReused),
    balanced by construction and checked again at COMMIT."""
    if not pairs:
        return
    source_table, memo = source
    _validate(_pair_entry(kind, sides, source_table, memo, occurred_at, pairs[0]))
    if occurred_at.tzinfo is None:
        raise BadEntry("occurred_at is timezone-aware", field="occurred_at")
    _check_pairs(sides, pairs)
    debit, credit = sides
    owners = ({p.debit_owner for p in pairs}, {p.credit_owner for p in pairs})
    accounts = await get_or_create_accounts(
        conn, [AccountRef(kind=debit, owner_id=o) for o in owners[0]]
        + [AccountRef(kind=credit, owner_id=o) for o in owners[1]],
    )  # fmt: skip
    debit_ids = {o: accounts[AccountRef(kind=debit, owner_id=o)] for o in owners[0]}
    credit_ids = {o: accounts[AccountRef(kind=credit, owner_id=o)] for o in owners[1]}
    inserted = await queries.insert_pairs(
        conn, kind, source_table, memo, occurred_at,
        ([p.source_id for p in pairs], [debit_ids[p.debit_owner] for p in pairs],
         [credit_ids[p.credit_owner] for p in pairs], [p.amount_cents for p in pairs]),
    )  # fmt: skip
    for pair in pairs:
        if pair.source_id not in inserted:
            await _first(conn, _pair_entry(kind, sides, source_table, memo, occurred_at, pair))


def _balance(totals: AccountTotals) -> AccountBalance:
    debit_normal = totals.debits_cents - totals.credits_cents
    return AccountBalance(
        **msgspec.structs.asdict(totals),
        balance_cents=-debit_normal if totals.kind in CREDIT_NORMAL else debit_normal,
    )


async def get_account_balance(conn: Connection, account: AccountRef) -> AccountBalance:
    """The account's balance, signed by its normal side (schemas.ledger.CREDIT_NORMAL)."""
    found = await queries.list_accounts(conn, [account.kind], [account.owner_id])
    if not found:
        return _balance(
            AccountTotals(
                account_id=None,
                kind=account.kind,
                owner_id=account.owner_id,
                debits_cents=0,
                credits_cents=0,
            )
        )
    (totals,) = await queries.list_totals_of_accounts(conn, [found[0].id])
    return _balance(totals)


async def list_owner_balances(conn: Connection, owner_id: uuid.UUID) -> list[AccountBalance]:
    """Every account of one client, payer or provider."""
    return [_balance(t) for t in await queries.list_totals_of_owner(conn, owner_id)]


async def get_trial_balance(conn: Connection) -> TrialBalance:
    accounts = [_balance(t) for t in await queries.list_totals(conn)]
    debits = sum(a.debits_cents for a in accounts)
    credits = sum(a.credits_cents for a in accounts)
    return TrialBalance(
        debits_cents=debits,
        credits_cents=credits,
        imbalance_cents=debits - credits,
        accounts=accounts,
    )


async def get_claim_receivable(conn: Connection, claim_id: uuid.UUID) -> int:
    """What the payer still owes on one claim (payer_receivable debits - credits)."""
    return await queries.get_claim_receivable(conn, claim_id)


async def get_claim_receivables(
    conn: Connection, claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """get_claim_receivable of each claim, in one statement."""
    found = await queries.list_claim_receivables(conn, claim_ids)
    return {claim_id: found.get(claim_id, 0) for claim_id in claim_ids}


async def get_sources_net(
    conn: Connection, source_table: str, source_ids: list[uuid.UUID], kinds: list[EntryKind]
) -> dict[uuid.UUID, dict[NetAccount, int]]:
    """get_source_net of many rows of one table as nets by account (debit +), in one statement."""
    out: dict[uuid.UUID, dict[NetAccount, int]] = {source_id: {} for source_id in source_ids}
    for source_id, kind, owner, claim, net in await queries.list_sources_nets(
        conn, source_table, source_ids, list(kinds)
    ):
        if net != 0:
            out[source_id][(kind, owner, claim)] = net  # type: ignore[index]
    return out


async def get_source_net(
    conn: Connection, source_table: str, source_id: uuid.UUID, kinds: list[EntryKind]
) -> list[Line]:
    """What the entries of these kinds that one row caused add up to, one line per account
    and claim (none where they cancel out)."""
    nets = await queries.list_source_nets(conn, source_table, source_id, list(kinds))
    return [
        Line(
            account=AccountRef(kind=kind, owner_id=owner),  # type: ignore[arg-type]
            side="debit" if net > 0 else "credit",
            amount_cents=abs(net),
            claim_id=claim,
        )
        for kind, owner, claim, net in nets
        if net != 0
    ]


async def get_entry(conn: Connection, idempotency_key: str) -> EntryOut | None:
    """The entry posted under a key, if any (a correction reads what a claim's events booked)."""
    return await queries.get_entry_by_key(conn, idempotency_key)
