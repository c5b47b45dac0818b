"""A payout's statement: a line per session (date of service, client initials, CPT, rate) and
per adjustment (an edit, a recoupment with its CARC in words, a reversed transfer), adding up
to the payout; as JSON, CSV and PDF; the provider paid and ops only; every read audited."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pypdf
import pytest
import stripe

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payout_statements import PayoutNoticeJob
from services.core import clock
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payments.gateway import StripeGateway
from services.payouts.notices import prepare_notice
from tests import factories as f
from tests.payouts import run_world as r
from tests.payouts import world as w

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")

RECOUP_MEMO = (
    "Recouped from the provider: the payer found the service not medically necessary (CO-50)"
)


async def _session(db: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID,
                   codes: list[str]) -> tuple[uuid.UUID, Any]:  # fmt: skip
    """A confirmed session that took place four days ago with its service lines."""
    started = clock.now().replace(hour=18, minute=0, second=0, microsecond=0) - timedelta(days=4)
    user = await db.fetchval("SELECT user_id FROM providers WHERE id = $1", provider_id)
    session_id = await db.fetchval(
        """
        INSERT INTO therapy_sessions (provider_id, client_id, starts_at, duration_minutes,
            place_of_service, status, created_by, diagnosis_codes, started_at, actual_minutes,
            note_attested, confirmed_at, confirmed_by)
        VALUES ($1, $2, $3, 50, '11', 'confirmed', $4, '{F411}', $3, 50, true, $5, $4)
        RETURNING id
        """,
        provider_id, client_id, started, user, started + timedelta(hours=1),
    )  # fmt: skip
    for n, code in enumerate(codes, start=1):
        await db.execute(
            "INSERT INTO therapy_session_lines (therapy_session_id, line_number, cpt_code,"
            " diagnosis_pointers) VALUES ($1, $2, $3, '{1}')",
            session_id, n, code,
        )  # fmt: skip
    return session_id, started


async def _recoup(db: asyncpg.Connection, provider_id: uuid.UUID, cents: int) -> None:
    source = uuid.uuid4()
    await post_entry(db, EntryIn(
        kind="recoupment", idempotency_key=f"recoup-{source}", source_table="remitted_claims",
        source_id=source, occurred_at=r.settled_at(), memo=RECOUP_MEMO,
        lines=(w.payable(provider_id, "debit", cents),
               Line(account=AccountRef(kind="claim_losses"), side="credit", amount_cents=cents)),
    ))  # fmt: skip


async def _paid(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> tuple[Any, str, Any]:  # fmt: skip
    """A provider paid for two sessions of one client (Cam Client), one edited down, less a
    CO-50 recoupment: 12,000 + 9,000 - 1,500 - 2,500 = 17,000."""
    provider = await r.provider_owed(db, api, token, [])
    client = await f.make_client_actor(db)
    first, started = await _session(db, provider.provider_id, client.client_id, ["90834"])
    second, _ = await _session(db, provider.provider_id, client.client_id, ["90837", "90785"])
    await w.session_entry(db, provider.provider_id, first, 12_000, r.settled_at())
    await w.session_entry(db, provider.provider_id, second, 9_000, r.settled_at())
    edited = r.settled_at() + timedelta(minutes=5)
    await w.session_entry(db, provider.provider_id, second, -1_500, edited, "completion_edited")
    await _recoup(db, provider.provider_id, 2_500)
    await r.fund(stripe_client, 100_000)
    await r.run(db, provider_id=provider.provider_id)
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (payout,) = await r.payouts(db)
    return provider, str(payout["id"]), started


async def test_statement_lines_add_up_to_the_payout(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider, payout_id, started = await _paid(db, api, tx, gateway, stripe_client, token)
    answer = await api.get(f"/payouts/{payout_id}/statement", headers=token(provider))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total_cents"] == 17_000 == body["sessions_cents"] + body["adjustments_cents"]
    assert body["sessions_cents"] == 21_000
    assert body["provider_name"] == "Pat Provider"
    assert body["status"] == "paid"
    by_kind = {}
    for line in body["lines"]:
        by_kind.setdefault(line["kind"], []).append(line)
    sessions = sorted(by_kind["session"], key=lambda x: x["amount_cents"])
    assert [(x["client_initials"], x["cpt_codes"], x["amount_cents"]) for x in sessions] == [
        ("C.C.", ["90837", "90785"], 9_000), ("C.C.", ["90834"], 12_000),
    ]  # fmt: skip
    # The date of service, in the statement time zone (18:00 UTC: the same day in Los Angeles).
    assert {x["date"] for x in sessions} == {started.date().isoformat()}
    (edit,) = by_kind["edit"]
    assert (edit["amount_cents"], edit["cpt_codes"]) == (-1_500, ["90837", "90785"])
    (recoup,) = by_kind["recoupment"]
    assert recoup["amount_cents"] == -2_500
    assert (
        "CO-50 (the insurer does not consider the service medically necessary)"
        in (recoup["description"])
    )
    assert recoup["description"].endswith(RECOUP_MEMO)
    assert "Cam" not in answer.text  # initials only, never the name
    assert "Client" not in answer.text.replace("client_", "")


async def test_statement_as_csv_and_pdf(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider, payout_id, _ = await _paid(db, api, tx, gateway, stripe_client, token)
    ops = token(await f.make_ops(db))
    url = f"/payouts/{payout_id}/statement"
    as_csv = await api.get(url, headers={**ops, "Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [x["kind"] for x in rows].count("session") == 2
    assert (rows[-1]["kind"], rows[-1]["amount_usd"]) == ("total", "170.00")
    assert sum(int(x["amount_cents"]) for x in rows[:-1]) == 17_000
    recoup = next(x for x in rows if x["kind"] == "recoupment")
    assert (recoup["amount_usd"], recoup["amount_cents"]) == ("-25.00", "-2500")
    assert "," in recoup["description"]  # csv quoted it: it reads back whole
    assert f'"{recoup["description"]}"' in as_csv.text
    as_pdf = await api.get(url, headers={**token(provider), "Accept": "application/pdf"})
    assert as_pdf.status_code == 200
    assert as_pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(as_pdf.content)).pages)
    for expected in ("Payout statement", "Pat Provider", "90837 90785", "C.C.", "$120.00",
                     "-$25.00", "CO-50", "$170.00"):  # fmt: skip
        assert expected in text, expected


async def test_who_reads_a_statement_and_it_is_audited(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider, payout_id, _ = await _paid(db, api, tx, gateway, stripe_client, token)
    url = f"/payouts/{payout_id}/statement"
    other = await f.make_provider_actor(db)
    client = await f.make_client_actor(db)
    assert (await api.get(url)).status_code == 401
    assert (await api.get(url, headers=token(client))).status_code == 403
    assert (await api.get(url, headers=token(other))).status_code == 404
    ops = token(await f.make_ops(db))
    unknown = "/payouts/00000000-0000-4000-8000-000000000000/statement"
    assert (await api.get(unknown, headers=ops)).status_code == 404
    assert (await api.get(url, headers=ops)).status_code == 200
    as_csv = await api.get(url, headers={**token(provider), "Accept": "text/csv"})
    assert as_csv.status_code == 200
    reads = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout_statement' AND action = 'read'"
    )
    assert reads == 2  # ops' and the provider's; the refused reads are not


async def test_a_paid_payout_queues_its_notice_with_the_pdf_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any, settings: Settings,
) -> None:  # fmt: skip
    provider, payout_id, _ = await _paid(db, api, tx, gateway, stripe_client, token)
    rows = await db.fetch("SELECT id, payload FROM outbox WHERE job = 'send_payout_notice'")
    assert [r["payload"]["payout_id"] for r in rows] == [payout_id]
    message = await prepare_notice(db, settings, rows[0]["id"])
    assert message is not None
    email = await db.fetchval(
        "SELECT u.email FROM users u JOIN providers p ON p.user_id = u.id WHERE p.id = $1",
        provider.provider_id,
    )
    assert message.to == email
    assert "$170.00" in message.subject
    assert "2 session(s), $210.00, and 2 adjustment(s), -$40.00" in message.body
    (attached,) = message.attachments
    assert attached.content_type == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(attached.data)).pages[0].extract_text()
    assert "Payout statement" in text
    assert "C.C." in text
    assert "Cam" not in message.body  # initials only, in the PDF; no client in the email
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout_statement'"
        " AND actor_role = 'system'"
    )
    assert audited == 1


def test_the_worker_runs_the_notice_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_ENV", "test")
    from workers.settings import WorkerSettings

    functions = {getattr(f, "name", None) or f.__name__ for f in WorkerSettings.functions}
    assert PayoutNoticeJob.job in functions
