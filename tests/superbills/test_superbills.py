"""Superbills of self-pay and out-of-network sessions: what the JSON and the PDF say (NPI,
taxonomy, tax id, CPT, ICD-10, dates, amounts), that their totals are the ledger's and the
card's, and that an in-network session (a claim) has none."""

from __future__ import annotations

import uuid

import pytest

from services.providers.service import reveal_tax_id
from services.superbills.service import allocate
from tests.payments import world as w
from tests.superbills.helpers import (
    PDF,
    charged,
    ledger_billed,
    month_of_now,
    out_of_network,
    pdf_text,
    self_pay,
)
from tests.therapy_sessions.completion import arrange, complete

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

SELF_PAY_90837 = 19000  # tests/therapy_sessions/completion.py PRICES


async def test_a_self_pay_session_superbill_is_the_ledger_and_the_card(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await self_pay(c)
    response = await c.api.get(f"/therapy-sessions/{visit.session.id}/superbill",
                               headers=c.token(visit.client))  # fmt: skip
    assert response.status_code == 200, response.text
    bill = response.json()
    [session] = bill["sessions"]
    assert session["reason"] == "self_pay"
    assert session["diagnosis_codes"] == ["F411"]
    assert [(x["cpt_code"], x["units"], x["charge_cents"]) for x in session["lines"]] == [
        ("90837", 1, SELF_PAY_90837)
    ]
    billed = await ledger_billed(c.db, visit.session.id)
    assert session["charged_cents"] == bill["total_charged_cents"] == billed == SELF_PAY_90837
    paid = await charged(c.db, visit.session.id)
    assert session["paid_cents"] == bill["total_paid_cents"] == paid == SELF_PAY_90837
    [provider] = bill["providers"]
    assert provider["taxonomy_code"].endswith("X")
    assert len(provider["tax_id_last4"]) == 4
    assert "tax_id" not in provider
    assert bill["client"]["member_id"] is None
    assert "submit to your insurance company" in bill["statement"]


async def test_the_pdf_reads_back_with_everything_an_insurer_needs(charging: w.Charging) -> None:
    c = charging
    visit = await out_of_network(c)
    url = f"/therapy-sessions/{visit.session.id}/superbill"
    bill = (await c.api.get(url, headers=c.token(visit.client))).json()
    response = await c.api.get(url, headers={**c.token(visit.client), **PDF})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/pdf")
    text = pdf_text(response.content)
    [provider] = bill["providers"]
    [session] = bill["sessions"]
    assert session["reason"] == "out_of_network"
    tax_id = await reveal_tax_id(c.db, c.settings, uuid.UUID(provider["id"]))
    for expected in (
        provider["npi"], provider["taxonomy_code"], f"{tax_id[:2]}-{tax_id[2:]}",
        provider["name"], bill["client"]["name"], bill["client"]["date_of_birth"],
        bill["client"]["member_id"], session["date_of_service"], "90837", "F41.1",
        "$190.00", c.settings.platform_npi,
    ):  # fmt: skip
        assert expected in text, expected
    assert "Total paid $190.00" in text
    assert "insurance company" in text


async def test_a_month_superbill_sums_its_sessions(charging: w.Charging) -> None:
    c = charging
    visit = await self_pay(c)
    month = month_of_now(c.settings.statement_time_zone)
    url = f"/clients/{visit.client.client_id}/superbills/{month}"
    response = await c.api.get(url, headers=c.token(visit.client))
    assert response.status_code == 200, response.text
    bill = response.json()
    assert bill["period"] == month
    assert [s["session_id"] for s in bill["sessions"]] == [str(visit.session.id)]
    assert bill["total_charged_cents"] == await ledger_billed(c.db, visit.session.id)
    text = pdf_text((await c.api.get(url, headers={**c.token(visit.client), **PDF})).content)
    assert "90837" in text
    assert "$190.00" in text


async def test_an_in_network_session_has_no_superbill(charging: w.Charging) -> None:
    c = charging
    visit = await arrange(c.db, c.settings)  # credentialed, never checked: in network
    await complete(c.api, c.token, visit)
    response = await c.api.get(f"/therapy-sessions/{visit.session.id}/superbill",
                               headers=c.token(visit.client))  # fmt: skip
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "claim" in response.json()["detail"]
    month = month_of_now(c.settings.statement_time_zone)
    bill = (await c.api.get(f"/clients/{visit.client.client_id}/superbills/{month}",
                            headers=c.token(visit.client))).json()  # fmt: skip
    assert bill["sessions"] == []
    assert bill["total_charged_cents"] == 0


async def test_a_session_not_completed_has_none(charging: w.Charging) -> None:
    c = charging
    visit = await arrange(c.db, c.settings, insured=False)
    response = await c.api.get(f"/therapy-sessions/{visit.session.id}/superbill",
                               headers=c.token(visit.ops))  # fmt: skip
    assert response.status_code == 409, response.text
    assert "scheduled" in response.json()["detail"]


@pytest.mark.parametrize("month", ["2026-13", "1999-12", "26-01", "2999-01"])
async def test_a_bad_or_future_month_is_refused_naming_it(charging: w.Charging, month: str) -> None:
    c = charging
    visit = await arrange(c.db, c.settings, insured=False)
    response = await c.api.get(f"/clients/{visit.client.client_id}/superbills/{month}",
                               headers=c.token(visit.client))  # fmt: skip
    assert response.status_code in (400, 422), response.text
    assert "month" in response.text


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (19000, [19000], [19000]),
        (21000, [19000, 2000], [19000, 2000]),  # the rates unchanged: the rates themselves
        (10000, [19000, 2000], [9047, 953]),  # a different total: in proportion, adding up
        (101, [0, 0], [50, 51]),
        (0, [], []),
    ],
)
def test_a_session_amount_is_spread_over_its_lines(
    total: int, weights: list[int], parts: list[int]
) -> None:
    assert allocate(total, weights) == parts
    assert sum(parts) == total
