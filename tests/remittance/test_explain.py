"""A claim's remittance in words and a session's explanation for its client: paid, partly paid
with the client's share, denied, reversed and corrected; who may read it (issue 16 item 7)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from services.remittance import codes
from services.remittance.service import post_file_on
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed, bill

pytestmark = pytest.mark.usefixtures("clock")
H_BPR = "BPR*H*0*C*NON************20261204~\n"
# Partly paid with a deductible and a copay: 150 - 30 (CO-45) - 60 (PR-1) - 20 (PR-3) = 40.
DEDUCTIBLE_AND_COPAY = """\
CLP*HC0000002A*1*150*40*80*12*PCN0000000002*11*1~
NM1*QC*1*KIM*ALEX****MI*M00000002~
SVC*HC:90834*150*40**1~
DTM*472*20261103~
CAS*CO*45*30~
CAS*PR*1*60**3*20~
REF*6R*L0000002A1~
"""
# The client owes a non-covered charge (PR-96): ops confirm it before anyone is charged.
NOT_COVERED = """\
CLP*HC0000002A*1*150*90*30*12*PCN0000000002*11*1~
NM1*QC*1*KIM*ALEX****MI*M00000002~
SVC*HC:90834*150*90**1~
DTM*472*20261103~
CAS*CO*45*30~
CAS*PR*3*20*1*96*10~
REF*6R*L0000002A1~
LQ*HE*N130~
"""


class World:
    def __init__(self, ops: Actor, provider: Actor, billed: Billed, session_id: uuid.UUID,
                 client: Actor) -> None:  # fmt: skip
        self.ops, self.provider, self.billed = ops, provider, billed
        self.session_id, self.client = session_id, client


async def _world(db: asyncpg.Connection) -> World:
    ops, provider = await make_ops(db), await make_provider_actor(db)
    billed = await bill(db, (await make_payer(db)).id, provider)
    session_id = await db.fetchval(
        "SELECT therapy_session_id FROM claims WHERE id = $1", billed.claim_id
    )
    user_id = await db.fetchval("SELECT user_id FROM clients WHERE id = $1", billed.client_id)
    client = Actor(user_id=user_id, role="client", client_id=billed.client_id)
    return World(ops, provider, billed, session_id, client)


@pytest.fixture
async def world(db: asyncpg.Connection) -> World:
    return await _world(db)


def ours(text: str, billed: Billed, number: str) -> str:
    text = text.replace(f"HC000000{number}A", billed.clm01)
    return text.replace(f"L000000{number}A1", billed.line_controls[0])


async def post(db: asyncpg.Connection, w: World, body: str, control: int = 101) -> None:
    await post_file_on(db, f.interchange([body], control=control).encode(), "upload", w.ops)


async def explanation(
    client: httpx.AsyncClient, token: Any, w: World, who: Actor | None = None
) -> dict[str, Any]:
    response = await client.get(
        f"/therapy-sessions/{w.session_id}/explanation", headers=token(who or w.client)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_claims_remittance_names_each_code_in_words(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    billed = world.billed
    await post(db, world, f.transaction(ours(f.DENIED, billed, "6"), bpr=H_BPR))
    response = await client.get(f"/claims/{billed.claim_id}/remittance", headers=token(world.ops))
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    (adjustment,) = item["remitted"]["adjustments"]
    assert (adjustment["group"], adjustment["code"]) == ("CO", "50")
    assert adjustment["reason_text"] == codes.CARC["50"]
    assert adjustment["group_text"] == codes.GROUPS["CO"]
    assert adjustment["remarks"] == [{"code": "N115", "text": codes.RARC["N115"]}]
    assert adjustment["remark_codes"] == ["N115"]


async def test_a_paid_claim_with_the_copay_estimated_exactly(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    await post(db, world, f.transaction(ours(f.PAID, world.billed, "1")))
    body = await explanation(client, token, world)
    assert body["status"] == "paid"
    figures = {k: body[k] for k in (
        "billed_cents", "allowed_cents", "insurer_paid_cents", "you_owe_cents",
        "estimated_cents", "difference_cents", "next_step")}  # fmt: skip
    assert figures == {
        "billed_cents": 15000, "allowed_cents": 12000, "insurer_paid_cents": 10000,
        "you_owe_cents": 2000, "estimated_cents": 2000, "difference_cents": 0,
        "next_step": "nothing",
    }  # fmt: skip
    assert body["owed_because"] == [{"code": "3", "amount_cents": 2000, "text": "your copay"}]
    assert body["denied_because"] == []
    assert body["lines"] == [
        "We billed your insurer $150.00 for this session.",
        "Your insurer allows $120.00 for it and paid $100.00.",
        "Under your plan you owe $20.00: $20.00 for your copay.",
        "When the session was confirmed we estimated your share at $20.00 and charged that.",
        "That is the estimate: nothing more will be charged or refunded.",
    ]


async def test_partly_paid_with_deductible_and_copay_charges_the_difference(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    body_835 = f.transaction(ours(DEDUCTIBLE_AND_COPAY, world.billed, "2"), paid="40")
    await post(db, world, body_835)
    body = await explanation(client, token, world)
    assert body["status"] == "paid"  # the client owes the rest: no loss
    assert (body["insurer_paid_cents"], body["you_owe_cents"]) == (4000, 8000)
    assert body["owed_because"] == [
        {"code": "1", "amount_cents": 6000, "text": "your deductible"},
        {"code": "3", "amount_cents": 2000, "text": "your copay"},
    ]
    assert (body["estimated_cents"], body["difference_cents"]) == (2000, 6000)
    assert body["next_step"] == "charge"
    assert (
        "Under your plan you owe $80.00: $60.00 for your deductible; $20.00 for your copay."
        in (body["lines"])
    )
    assert body["lines"][-1] == (
        "So you owe $60.00 more than the estimate: we will charge the difference to your card"
        " on file."
    )


async def test_a_non_covered_share_is_reviewed_before_any_charge(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    await post(db, world, f.transaction(ours(NOT_COVERED, world.billed, "2"), paid="90"))
    body = await explanation(client, token, world)
    assert body["next_step"] == "review"
    assert [o["code"] for o in body["owed_because"]] == ["3", "96"]
    assert body["owed_because"][1]["text"] == codes.CARC["96"]
    assert "confirms with your insurer before charging it" in body["lines"][-1]


async def test_a_denial_in_words_with_what_we_do_and_the_estimate_refunded(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    await post(db, world, f.transaction(ours(f.DENIED, world.billed, "6"), bpr=H_BPR))
    body = await explanation(client, token, world)
    assert body["status"] == "denied"
    assert (body["insurer_paid_cents"], body["you_owe_cents"], body["allowed_cents"]) == (0, 0, 0)
    (denied,) = body["denied_because"]
    assert (denied["group"], denied["code"], denied["amount_cents"]) == ("CO", "50", 15000)
    assert denied["remarks"] == [{"code": "N115", "text": codes.RARC["N115"]}]
    assert (body["difference_cents"], body["next_step"]) == (-2000, "refund")
    lines = body["lines"]
    assert "Your insurer denied the claim and paid nothing for it." in lines
    assert f"It did not pay $150.00 because {codes.CARC['50']} ({codes.RARC['N115']})." in lines
    assert any(line.startswith("Our billing team works on every denial") for line in lines)
    assert "Under your plan you owe nothing for this session." in lines
    assert lines[-1] == (
        "So you owe $20.00 less than the estimate: we will refund the difference to your card."
    )


async def test_reversed_then_corrected_reads_the_correction(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    billed = world.billed
    await post(db, world, f.transaction(ours(f.PAID, billed, "1")))
    reversal, correction = f.REVERSAL_AND_CORRECTION.split("CLP*HC0000001A*1*", 1)
    debit = f.ACH.format(amount=100).replace("*C*ACH*", "*D*ACH*", 1)
    await post(db, world, f.transaction(ours(reversal, billed, "1"), trace="EFT2", bpr=debit), 102)
    waiting = await explanation(client, token, world)
    assert (waiting["status"], waiting["next_step"]) == ("reversed", "wait")
    assert waiting["lines"][0] == (
        "Your insurer took back its payment of $100.00 to process the claim again."
    )
    assert waiting["estimated_cents"] == 2000
    assert waiting["you_owe_cents"] is None
    corrected = f.transaction(ours("CLP*HC0000001A*1*" + correction, billed, "1"), paid="110",
                              trace="EFT3")  # fmt: skip
    await post(db, world, corrected, 103)
    body = await explanation(client, token, world)
    assert body["status"] == "paid"
    assert body["lines"][0] == (
        "Your insurer processed this claim again and corrected its first answer."
    )
    assert (body["insurer_paid_cents"], body["you_owe_cents"]) == (11000, 1000)
    assert (body["estimated_cents"], body["difference_cents"]) == (2000, -1000)
    assert body["next_step"] == "refund"


async def test_no_answer_yet_says_so(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    charge = await db.fetchval(
        "SELECT total_charge_cents FROM claims WHERE id = $1", world.billed.claim_id
    )
    body = await explanation(client, token, world)
    assert (body["status"], body["next_step"]) == ("awaiting_insurer", "wait")
    assert (body["billed_cents"], body["estimated_cents"]) == (charge, 2000)
    assert body["insurer_paid_cents"] is None
    assert body["lines"][0] == (
        f"We billed your insurer ${charge // 100:,}.{charge % 100:02d} for this session;"
        " it has not answered yet."
    )


async def test_an_answer_held_for_ops_is_under_review(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    billed = world.billed
    held = ours(f.PAID, billed, "1").replace(f"CLP*{billed.clm01}*1*", f"CLP*{billed.clm01}*25*")
    await post(db, world, f.transaction(held))
    body = await explanation(client, token, world)
    assert (body["status"], body["next_step"]) == ("under_review", "review")


async def test_who_may_read_an_explanation(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, world: World
) -> None:
    await post(db, world, f.transaction(ours(f.PAID, world.billed, "1")))
    other = await _world(db)
    path = f"/therapy-sessions/{world.session_id}/explanation"
    for who in (world.client, world.provider, world.ops):
        assert (await client.get(path, headers=token(who))).status_code == 200
    for stranger in (other.client, other.provider):
        refused = await client.get(path, headers=token(stranger))
        assert refused.status_code == 404, refused.text
    unknown = f"/therapy-sessions/{uuid.uuid4()}/explanation"
    assert (await client.get(unknown, headers=token(world.ops))).status_code == 404
    assert (await client.get(path)).status_code == 401
    # A client reads the claim's remittance through the explanation only: that route is 403.
    refused = await client.get(
        f"/claims/{world.billed.claim_id}/remittance", headers=token(world.client)
    )
    assert refused.status_code == 403
    audited = await db.fetch(
        "SELECT entity, actor_user_id FROM audit_events WHERE action = 'read'"
        " AND entity IN ('therapy_session', 'remitted_claim') AND actor_user_id = $1",
        world.client.user_id,
    )
    assert {row["entity"] for row in audited} == {"therapy_session", "remitted_claim"}
