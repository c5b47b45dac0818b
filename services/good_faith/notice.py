"""The written Good Faith Estimate, emailed by the job `send_good_faith_estimate`.

Its content follows 45 CFR 149.610(c) and CMS's standard form: the patient's name and date of
birth; the services expected, with their codes, quantities and expected charges, and the
diagnosis codes when known; the provider's name, NPI and TIN and where the services are
furnished; the period a recurring course covers and its expected sessions; the disclaimers (an
estimate, not a contract; other services are estimated separately) and the patient-provider
dispute resolution notice ($400 or more above the estimate, within 120 calendar days of the
bill); the date issued. The TIN is revealed only here, at sending, never stored in clear.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from schemas.good_faith import GoodFaithEmailJob, GoodFaithEstimateOut
from services.clients import service as clients
from services.core import audit, clock, mail, outbox
from services.core.auth import SYSTEM
from services.core.settings import Settings
from services.good_faith import queries
from services.good_faith.service import DISPUTE_THRESHOLD_CENTS, ENTITY
from services.providers import service as providers

RETRY_IN = timedelta(minutes=1)


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def _tin(digits: str) -> str:
    return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 else digits


def render(settings: Settings, estimate: GoodFaithEstimateOut, tax_id: str) -> tuple[str, str]:
    """The subject and text of the estimate."""
    doc = estimate.document
    lines = "\n".join(
        f"  {line.cpt_code}  {line.description}\n"
        f"         {line.quantity} x {dollars(line.unit_cents)} = {dollars(line.total_cents)}"
        for line in estimate.lines
    )
    diagnoses = ", ".join(doc.diagnosis_codes) or "not yet known (none recorded before the visit)"
    version = (
        f" (version {estimate.version}, replacing the earlier one)" if estimate.version > 1 else ""
    )
    phone = settings.platform_contact_phone
    body = (
        f"Good Faith Estimate for Health Care Items and Services{version}\n"
        f"Issued {estimate.created_at.date().isoformat()}\n\n"
        f"Patient: {doc.client_name}, born {doc.client_date_of_birth.isoformat()}\n\n"
        f"Provider: {doc.provider_name}, NPI {doc.provider_npi}, TIN {_tin(tax_id)}\n"
        f"Billed through {settings.platform_name} (NPI {settings.platform_npi})\n"
        f"Where: {doc.location}\n\n"
        f"Course of care: {doc.frequency} sessions from {estimate.period_start.isoformat()} to "
        f"{estimate.period_end.isoformat()}, first session {doc.first_session.isoformat()}; "
        f"{estimate.expected_sessions} sessions expected.\n"
        f"Diagnosis codes: {diagnoses}\n\n"
        f"Expected charges:\n{lines}\n"
        f"  Total expected charges: {dollars(estimate.total_cents)}\n\n"
        "This Good Faith Estimate shows the costs of items and services that are reasonably\n"
        "expected for your health care needs, based on information known when it was made. It\n"
        "is only an estimate: actual items, services or charges may differ. It does not include\n"
        "unknown or unexpected costs, nor services that must be scheduled or requested\n"
        "separately, which get their own estimate. It is not a contract and does not require\n"
        "you to obtain these services from this provider.\n\n"
        f"If you are billed {dollars(DISPUTE_THRESHOLD_CENTS)} or more above this estimate, you\n"
        "have the right to dispute the bill through the patient-provider dispute resolution\n"
        "process. Start it within 120 calendar days of the date on the original bill; see\n"
        "www.cms.gov/nosurprises or call 1-800-985-3059. You may first contact us to ask for\n"
        f"the bill to be updated to this estimate: {phone[:3]}-{phone[3:6]}-{phone[6:]}.\n"
        "Starting a dispute will not affect the quality of the care you receive.\n\n"
        "Keep a copy of this Good Faith Estimate with your bills.\n"
    )
    return f"Your Good Faith Estimate from {doc.provider_name}", body


async def prepare_estimate_email(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int
) -> mail.OutgoingEmail | None:
    """The estimate email an outbox row asks for; None (the row completed) when nothing is to
    send (the estimate gone or emailed already)."""
    job = await outbox.lock(conn, outbox_id, GoodFaithEmailJob)
    if job is None:
        return None
    estimate = await queries.lock_estimate(conn, job.estimate_id)
    if estimate is None or estimate.emailed_at is not None:
        await outbox.complete(conn, outbox_id)
        return None
    client = await clients.visible_client(conn, SYSTEM, estimate.client_id)
    tax_id = await providers.reveal_tax_id(conn, settings, estimate.provider_id)
    await audit.record(conn, SYSTEM, "read", ENTITY, [estimate.id])
    subject, body = render(settings, estimate, tax_id)
    return mail.OutgoingEmail(to=client.email, subject=subject, body=body)


async def run_estimate_email(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> str:
    """One outbox row's estimate emailed (core's send_queued: no transaction held over SMTP);
    a refused address leaves the estimate readable in the app, unsent (emailed_at empty)."""

    async def sent(conn: asyncpg.Connection) -> None:
        job = await outbox.lock(conn, outbox_id, GoodFaithEmailJob)
        if job is not None:
            await queries.update_emailed(conn, job.estimate_id, clock.now())

    return await mail.send_queued(
        pool, settings, outbox_id,
        lambda conn: prepare_estimate_email(conn, settings, outbox_id), RETRY_IN, sent=sent,
    )  # fmt: skip
