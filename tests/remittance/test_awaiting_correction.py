"""/remittances/queues/awaiting-correction: claims the payer reversed (CLP02 22) with no
correction since, once the reversal is older than reversal_correction_days (default 30)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from services.core.clock import Clock
from services.remittance.queries.corrections import count_awaiting_correction
from services.remittance.service import post_file_on
from tests.authz import ROLES, headers_for, refusal
from tests.factories import make_actor, make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed, bill

URL = "/remittances/queues/awaiting-correction"
REVERSAL, CORRECTION = (
    f.REVERSAL_AND_CORRECTION.split("CLP*HC0000001A*1*", 1)[0],
    "CLP*HC0000001A*1*" + f.REVERSAL_AND_CORRECTION.split("CLP*HC0000001A*1*", 1)[1],
)
# The reversal of the correction (it paid 110, the client's copay 10).
REVERSAL_OF_CORRECTION = """\
CLP*HC0000001A*22*-150*-110*-10*12*PCN0000000011*11*1~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
SVC*HC:90837*-150*-110**-1~
DTM*472*20261102~
CAS*CO*45*-30~
CAS*PR*3*-10~
REF*6R*L0000001A1~
"""


def debit(dollars: int) -> str:
    """A BPR taking `dollars` back: a reversal alone is a debit."""
    return f.ACH.format(amount=dollars).replace("*C*ACH*", "*D*ACH*", 1)


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
async def billed(db: asyncpg.Connection) -> Billed:
    payer_id = (await make_payer(db, name="Evergreen")).id
    return await bill(db, payer_id, await make_provider_actor(db))


class Payer:
    """Posts 835s for claims, one file per call, a minute apart (as files arrive)."""

    def __init__(self, db: asyncpg.Connection, ops: Actor, clock: Clock) -> None:
        self.db, self.ops, self.clock, self.n = db, ops, clock, 0

    async def send(self, billed: Billed, claims: str, **kwargs: Any) -> None:
        self.n += 1
        # Our claim's CLM01 and line; the payer's claim numbers its own (a reversal is matched
        # to its original by CLP07 first).
        body = (
            claims.replace("HC0000001A", billed.clm01)
            .replace("L0000001A1", billed.line_controls[0])
            .replace("PCN00000000", f"PCN{billed.clm01}-")
        )
        raw = f.interchange([f.transaction(body, trace=f"EFT{self.n:04d}-{billed.clm01}",
                                           **kwargs)], control=self.n)  # fmt: skip
        out, posted = await post_file_on(self.db, raw.encode(), "upload", self.ops)
        assert posted, out
        self.clock.advance(timedelta(minutes=1))

    async def pay(self, billed: Billed) -> None:
        await self.send(billed, f.PAID)

    async def reverse(self, billed: Billed) -> None:
        await self.send(billed, REVERSAL, bpr=debit(100))

    async def correct(self, billed: Billed) -> None:
        await self.send(billed, CORRECTION, paid="110")


@pytest.fixture
def payer(db: asyncpg.Connection, ops: Actor, clock: Clock) -> Payer:
    return Payer(db, ops, clock)


async def queue(client: httpx.AsyncClient, token: Any, ops: Actor) -> list[dict[str, Any]]:
    response = await client.get(URL, headers=token(ops))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_reversal_without_correction_waits_past_the_setting(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, ops: Actor, clock: Clock,
    payer: Payer, billed: Billed,
) -> None:  # fmt: skip
    await payer.pay(billed)
    await payer.reverse(billed)
    reversed_at = clock.now() - timedelta(minutes=1)
    assert await queue(client, token, ops) == []
    clock.advance(timedelta(days=30) - timedelta(minutes=1, seconds=1))
    assert await queue(client, token, ops) == []  # a second short of 30 days
    assert await count_awaiting_correction(db, clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    (item,) = await queue(client, token, ops)
    reversal = await db.fetchrow(
        "SELECT id, reversal_of FROM remitted_claims WHERE claim_id = $1 AND status_code = '22'",
        billed.claim_id,
    )
    claim_number = await db.fetchval(
        "SELECT claim_number FROM claims WHERE id = $1", billed.claim_id
    )
    assert item == {
        "id": str(reversal["id"]),
        "created_at": reversed_at.isoformat().replace("+00:00", "Z"),
        "claim_id": str(billed.claim_id),
        "claim_number": claim_number,
        "provider_id": str(billed.provider_id),
        "payer_id": str(billed.payer_id),
        "payer_name": "Evergreen",
        "reversal_of": str(reversal["reversal_of"]),
        "reversed_cents": 10000,
        "payer_claim_number": f"PCN{billed.clm01}-01",
        "trace_number": f"EFT0002-{billed.clm01}",
        "payment_date": "2026-12-04",
        "days_waiting": 30,
    }
    clock.advance(timedelta(days=12))
    assert [i["days_waiting"] for i in await queue(client, token, ops)] == [42]
    assert await count_awaiting_correction(db, clock.now()) == 1
    assert await count_awaiting_correction(db, clock.now(), days=43) == 0
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'remitted_claim' AND action = 'read'"
        " AND entity_id = $1",
        reversal["id"],
    )
    assert audited == 2
    # The correction arrives: nothing waits any more.
    await payer.correct(billed)
    assert await queue(client, token, ops) == []
    assert await count_awaiting_correction(db, clock.now()) == 0


async def test_only_the_latest_reversal_of_a_claim_waits_oldest_claim_first(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, ops: Actor, clock: Clock,
    payer: Payer, billed: Billed,
) -> None:  # fmt: skip
    corrected_at_once = await bill(db, billed.payer_id, await make_provider_actor(db))
    reversed_twice = await bill(db, billed.payer_id, await make_provider_actor(db))
    for each in (billed, corrected_at_once, reversed_twice):
        await payer.pay(each)
    await payer.reverse(billed)
    await payer.send(corrected_at_once, f.REVERSAL_AND_CORRECTION, paid="10")
    await payer.reverse(reversed_twice)
    await payer.correct(reversed_twice)
    # The correction reversed in turn: waiting again.
    await payer.send(reversed_twice, REVERSAL_OF_CORRECTION, bpr=debit(110))
    clock.advance(timedelta(days=31))
    items = await queue(client, token, ops)
    assert [i["claim_id"] for i in items] == [str(billed.claim_id), str(reversed_twice.claim_id)]
    latest = await db.fetchval(
        "SELECT r.id FROM remitted_claims r JOIN remitted_claims c ON c.id = r.reversal_of"
        " WHERE r.claim_id = $1 AND c.paid_cents = 11000",
        reversed_twice.claim_id,
    )
    assert items[1]["id"] == str(latest)
    assert items[1]["reversed_cents"] == 11000  # the correction's payment, taken back
    assert await count_awaiting_correction(db, clock.now()) == 2
    page = (await client.get(URL, params={"limit": 1}, headers=token(ops))).json()
    rest = await client.get(
        URL, params={"limit": 1, "cursor": page["next_cursor"]}, headers=token(ops)
    )
    assert [i["id"] for i in page["items"] + rest.json()["items"]] == [i["id"] for i in items]


@pytest.mark.parametrize("params", [{"limit": 0}, {"cursor": "!!"}, {"days": "3"}])
async def test_bad_parameters_are_refused(
    client: httpx.AsyncClient, token: Any, ops: Actor, params: dict[str, Any]
) -> None:
    response = await client.get(URL, params=params, headers=token(ops))
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("role", ROLES)
async def test_the_queue_is_ops_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, role: str
) -> None:
    actor = None if role == "none" else await make_actor(db, role)
    response = await client.get(URL, headers=headers_for(token, actor))
    assert response.status_code == (refusal(role, ("ops",)) or 200), response.text
