"""GET /denials: open denials grouped by reason, oldest first, filtered and paged in a group;
GET /denials/{id}: one with its history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.denials.world import DENIAL_REVERSED, DENIED_197, deny, deny_a_line, f, pay, post_835
from tests.factories import make_payer
from tests.remittance.test_posting import ours

pytestmark = pytest.mark.usefixtures("clock")


async def _queue(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get("/denials", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _groups(body: Any) -> dict[str, Any]:
    return {g["reason"]: g for g in body["groups"]}


async def test_a_denied_claim_appears_under_its_carc_group(
    client, db, ops, provider, payer_id, as_ops
):
    denial = await deny(db, ops, provider, payer_id)
    await pay(db, ops, provider, payer_id)  # a paid claim is no denial
    groups = _groups(await _queue(client, as_ops))
    assert list(groups) == ["CO-50"]
    group = groups["CO-50"]
    assert (group["count"], group["denied_cents"], group["loss_cents"]) == (1, 15000, 12000)
    (item,) = group["items"]
    row = item["denial"]
    assert row["id"] == str(denial.id)
    assert row["claim_id"] == str(denial.billed.claim_id)
    assert row["provider_id"] == str(denial.billed.provider_id)
    assert row["payer_id"] == str(payer_id)
    assert (row["outcome"], row["status_code"], row["billed_cents"], row["paid_cents"]) == (
        "denied", "4", 15000, 0,
    )  # fmt: skip
    assert row["payer_claim_number"] == "PCN0000000006"
    assert row["payment_date"] == "2026-12-04"
    # The payer's default appeal window: 180 days from the 835's payment date.
    assert row["appeal_deadline"] == "2027-06-02"
    service_date = await db.fetchval(
        "SELECT service_date FROM claims WHERE id = $1", denial.billed.claim_id
    )
    assert row["service_date"] == service_date.isoformat()
    assert row["filing_deadline"] == (service_date + timedelta(days=90)).isoformat()
    assert [(a["group"], a["code"], a["amount_cents"], a["remark_codes"]) for a in
            item["adjustments"]] == [("CO", "50", 15000, ["N115"])]  # fmt: skip
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'remitted_claim' AND action = 'read'"
        " AND entity_id = $1",
        denial.id,
    )
    assert audited == 1


async def test_a_line_denied_inside_a_paid_claim_is_a_denial_of_its_carc(
    client, db, ops, provider, payer_id, as_ops
):
    denial = await deny_a_line(db, ops, provider, payer_id)
    groups = _groups(await _queue(client, as_ops))
    (item,) = groups["CO-97"]["items"]
    row = item["denial"]
    assert row["id"] == str(denial.id)
    assert (row["outcome"], row["paid_cents"], row["denied_cents"], row["loss_cents"]) == (
        "partially_paid", 10000, 2550, 2000,
    )  # fmt: skip
    # Every CARC and RARC of the claim, the line's included.
    codes = {(a["group"], a["code"], tuple(a["remark_codes"])) for a in item["adjustments"]}
    assert ("CO", "97", ("M80",)) in codes
    assert ("PR", "3", ()) in codes


async def test_groups_are_by_reason_with_items_oldest_first_and_filters(
    client, db, ops, provider, payer_id, as_ops, clock
):
    first = await deny(db, ops, provider, payer_id, control=101)
    clock.advance(timedelta(hours=1))
    other = await deny(db, ops, provider, payer_id, DENIED_197, control=102)
    clock.advance(timedelta(hours=1))
    second = await deny(db, ops, provider, payer_id, control=103)
    clock.advance(timedelta(hours=1))
    elsewhere = (await make_payer(db)).id
    foreign = await deny(db, ops, provider, elsewhere, DENIED_197, control=104)
    groups = _groups(await _queue(client, as_ops))
    assert [g["reason"] for g in (await _queue(client, as_ops))["groups"]] == ["CO-197", "CO-50"]
    assert [i["denial"]["id"] for i in groups["CO-50"]["items"]] == [str(first.id), str(second.id)]
    assert groups["CO-197"]["count"] == 2
    by_payer = _groups(await _queue(client, as_ops, payer_id=str(elsewhere)))
    assert [i["denial"]["id"] for i in by_payer["CO-197"]["items"]] == [str(foreign.id)]
    assert list(by_payer) == ["CO-197"]
    one_reason = _groups(await _queue(client, as_ops, reason="CO-197"))
    assert list(one_reason) == ["CO-197"]
    ids = [i["denial"]["id"] for i in one_reason["CO-197"]["items"]]
    assert ids == [str(other.id), str(foreign.id)]


async def test_paging_inside_a_group(client, db, ops, provider, payer_id, as_ops, clock):
    made = []
    for n in range(3):
        made.append(await deny(db, ops, provider, payer_id, control=110 + n))
        clock.advance(timedelta(minutes=5))
    page = _groups(await _queue(client, as_ops, limit=2))["CO-50"]
    assert page["count"] == 3
    assert [i["denial"]["id"] for i in page["items"]] == [str(d.id) for d in made[:2]]
    assert page["next_cursor"]
    rest = _groups(
        await _queue(client, as_ops, limit=2, reason="CO-50", cursor=page["next_cursor"])
    )["CO-50"]
    assert [i["denial"]["id"] for i in rest["items"]] == [str(made[2].id)]
    assert rest["next_cursor"] is None
    # A cursor pages inside one group only.
    response = await client.get("/denials", params={"cursor": page["next_cursor"]}, headers=as_ops)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_a_reversed_denial_is_not_open(client, db, ops, provider, payer_id, as_ops):
    denial = await deny(db, ops, provider, payer_id)
    body = f.transaction(ours(DENIAL_REVERSED, denial.billed, "6"), paid="100", trace="EFT9")
    await post_835(db, ops, body, 109)
    assert (await _queue(client, as_ops))["groups"] == []
    detail = await client.get(f"/denials/{denial.id}", headers=as_ops)
    assert detail.status_code == 200
    assert detail.json()["state"] == "reversed"
    refused = await client.post(
        f"/denials/{denial.id}/write-off", json={"note": "x"}, headers=as_ops
    )
    assert refused.status_code == 409


async def test_one_denial_with_its_history(client, db, ops, provider, payer_id, as_ops):
    denial = await deny(db, ops, provider, payer_id)
    response = await client.get(f"/denials/{denial.id}", headers=as_ops)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "open"
    assert body["resolution"] is None
    assert body["appeal"] is None
    assert body["item"]["denial"]["reason"] == "CO-50"
    (event,) = body["history"]
    assert event["kind"] == "denied"
    assert "CLP02 4" in event["detail"]


async def test_a_paid_claim_or_unknown_id_is_no_denial(client, db, ops, provider, payer_id, as_ops):
    paid = await pay(db, ops, provider, payer_id)
    for remitted in (paid.id, uuid.uuid4()):
        response = await client.get(f"/denials/{remitted}", headers=as_ops)
        assert response.status_code == 404
        assert response.json()["code"] == "denial_not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reason": "CO 50"}, "reason"),
        ({"reason": "x" * 20}, "reason"),
        ({"payer_id": "nope"}, "payer_id"),
        ({"limit": "0"}, "limit"),
        ({"reason": "CO-50", "cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ],
)
async def test_bad_queries_are_4xx_naming_the_field(client, as_ops, params, field):
    response = await client.get("/denials", params=params, headers=as_ops)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


async def test_the_payer_window_sets_the_appeal_deadline(
    client, db, ops, provider, payer_id, as_ops
):
    patched = await client.patch(
        f"/payers/{payer_id}", json={"appeal_window_days": 90}, headers=as_ops
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["appeal_window_days"] == 90
    await deny(db, ops, provider, payer_id)
    (item,) = _groups(await _queue(client, as_ops))["CO-50"]["items"]
    assert item["denial"]["appeal_deadline"] == "2027-03-04"
