"""Claim submission over CORE batch, exactly once (issue 15 item 5).

The cron only selects payers with ready claims past the hold and writes outbox rows. Each
payer's job writes its batches in one transaction (PayloadID, ISA13/GS06, the 837P text, the
claims' versions attached, claims `submitted`) and commits before calling the clearinghouse
with nothing held; a second transaction records the answer. A crash between the two leaves the
batch `pending` and the outbox row open: the re-run finds the batch and sends the stored file
again under the same PayloadID, which the receiver answers with its first answer.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import asyncpg
import msgspec

from schemas.claims import (
    BatchClaimRow,
    BatchLineRow,
    ClaimBatchRow,
    FetchClaimResultsJob,
    SubmitClaimsJob,
)
from schemas.x837 import Batch, BillingProvider, Claim, Contact, PostalAddress, Receiver, Submitter
from services.claims import queries
from services.claims.queries import batches
from services.claims.x837 import check_claim, envelope_837, split_by_payer, write_837
from services.clearinghouse.client import PAYLOAD_837, RECEIPT, ClearinghouseAdapter
from services.clearinghouse.errors import ClearinghouseUnavailable
from services.core import clock, outbox
from services.core.db import transaction
from services.core.settings import Settings
from services.core.x12 import ControlNumbers, X12Error
from services.core.x12_control import next_control_numbers

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=5)
# An envelope the clearinghouse refused is not retried every few minutes: ops see the error
# (the batch's last_error, its claims flagged) and the batch goes again an hour later under
# the same PayloadID (a receiver keeps no envelope error, so the re-send is processed).
RETRY_AFTER_REFUSAL = timedelta(hours=1)


async def queue_submissions(conn: asyncpg.Connection, settings: Settings) -> int:
    """One outbox row per payer with ready claims past the hold (deduplicated per payer)."""
    now = clock.now()
    cutoff = now - timedelta(hours=settings.claim_hold_hours)
    queued = 0
    for payer_id in await batches.list_payers_with_ready_claims(conn, cutoff):
        queued += await queue_payer_submission(conn, payer_id, now, ready_before=cutoff) is not None
    return queued


async def queue_payer_submission(
    conn: asyncpg.Connection,
    payer_id: uuid.UUID,
    available_at: datetime,
    ready_before: datetime | None = None,
) -> int | None:
    """The payer's one open `submit_claims` row, due at `available_at` or earlier.

    Completion queues it for the end of the claim's hold, the cron (the safety net) for now:
    an open row waiting for a later time is brought forward, so the earliest wins. The cron's
    row carries its cutoff: the job takes the later of it and its own (a worker's clock a
    little behind the queuer's would otherwise find nothing due when the hold is 0).
    """
    job = SubmitClaimsJob(payer_id=payer_id, ready_before=ready_before)
    return await outbox.add_earliest(
        conn, job, dedupe_key=f"{job.job}:{payer_id}", available_at=available_at
    )


async def _queue_next(conn: asyncpg.Connection, settings: Settings, payer_id: uuid.UUID) -> None:
    """After a run, the row for the payer's next claim to come out of its hold: one that
    became ready while this run's row was open was deduplicated onto it, not queued."""
    ready_at = await batches.get_next_ready_at(conn, payer_id)
    if ready_at is not None:
        due = ready_at + timedelta(hours=settings.claim_hold_hours)
        await queue_payer_submission(conn, payer_id, max(due, clock.now()))


async def submit_claims(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, settings: Settings, outbox_id: int
) -> str:
    """One payer's submission; safe to run twice, concurrently, or after a crash."""
    async with transaction(pool) as conn:
        job = await outbox.lock(conn, outbox_id, SubmitClaimsJob)
        if job is None:
            return "done already"
        to_send = await batches.list_pending_batches(conn, job.payer_id)
        to_send += await _write_batches(conn, settings, job)
    for batch in to_send:
        try:
            refused = await send_batch(pool, clearinghouse, batch)
        except ClearinghouseUnavailable as exc:
            async with transaction(pool) as conn:
                await batches.update_batch_error(conn, batch.id, exc.detail)
                await outbox.record_failure(conn, outbox_id, exc.detail, RETRY_AFTER)
            return "clearinghouse unavailable; retrying later"
        if refused is not None:
            async with transaction(pool) as conn:
                await outbox.record_failure(conn, outbox_id, refused, RETRY_AFTER_REFUSAL)
            return refused
    async with transaction(pool) as conn:
        await outbox.complete(conn, outbox_id)
        await _queue_next(conn, settings, job.payer_id)
    return f"{len(to_send)} batch(es) sent"


async def _write_batches(
    conn: asyncpg.Connection, settings: Settings, job: SubmitClaimsJob
) -> list[ClaimBatchRow]:
    """The payer's ready claims in new pending batches of at most 500, claims `submitted`."""
    payer_id = job.payer_id
    cutoff = clock.now() - timedelta(hours=settings.claim_hold_hours)
    if job.ready_before is not None:
        cutoff = max(cutoff, job.ready_before)
    claim_ids = await batches.lock_ready_claims(conn, payer_id, cutoff)
    if not claim_ids:
        return []
    lines: dict[uuid.UUID, list[BatchLineRow]] = {}
    for line in await batches.list_lines_of(conn, claim_ids):
        lines.setdefault(line.claim_id, []).append(line)
    sendable: dict[str, uuid.UUID] = {}
    claims = []
    for row in await batches.list_claims_to_send(conn, claim_ids):
        claim = await _claim_or_ops(conn, row, lines.get(row.claim_id, []))
        if claim is not None:
            sendable[claim.control_number] = row.claim_id
            claims.append(claim)
    written = []
    for chunk in split_by_payer(claims):
        ids = [sendable[claim.control_number] for claim in chunk]
        written.append(await _write_batch(conn, settings, payer_id, chunk, ids))
    return written


async def _write_batch(
    conn: asyncpg.Connection,
    settings: Settings,
    payer_id: uuid.UUID,
    claims: tuple[Claim, ...],
    claim_ids: list[uuid.UUID],
) -> ClaimBatchRow:
    now = clock.now()
    isa13, gs06 = await next_control_numbers(conn)
    payload_id = uuid.uuid4()
    batch_id = await batches.insert_batch(
        conn, payer_id, payload_id, (isa13, gs06, "0001"), len(claims), now
    )
    await batches.attach_to_batch(conn, batch_id, claim_ids)
    text = write_837(
        Batch(
            submitter=Submitter(
                name=settings.platform_name, id=settings.clearinghouse_sender_id,
                contact=_contact(settings),
            ),
            receiver=Receiver(
                name=settings.clearinghouse_name, id=settings.clearinghouse_receiver_id
            ),
            billing=_billing(settings),
            claims=claims,
        ),
        envelope=envelope_837(settings.clearinghouse_sender_id, settings.clearinghouse_receiver_id),
        control=ControlNumbers(interchange=isa13, group=gs06),
        now=now,
    )  # fmt: skip
    await batches.insert_batch_file(conn, batch_id, "sent", PAYLOAD_837, payload_id, text, now)
    for claim_id in claim_ids:
        await queries.update_claim_status(conn, claim_id, "submitted", now)
        await queries.insert_history(
            conn, claim_id, "ready", "submitted", f"in batch {payload_id}", None, now
        )
    batch = await batches.get_batch(conn, batch_id)
    assert batch is not None
    return batch


async def _claim_or_ops(
    conn: asyncpg.Connection, row: BatchClaimRow, lines: list[BatchLineRow]
) -> Claim | None:
    """The claim as the 837P carries it; None (flagged for ops) when it cannot be sent."""
    try:
        claim = to_x837_claim(row, lines)
        check_claim(claim)
    except (msgspec.ValidationError, X12Error) as exc:
        # msgspec names the field; the writer's checks name the field and at most a CLM01.
        # Either may quote a value, so the reason goes to ops, never to the logs.
        reason = f"the claim cannot be sent: {exc}"
        await queries.flag_for_ops(conn, row.claim_id, "unsendable", reason, clock.now())
        log.warning("claim flagged for ops", extra={"job": SubmitClaimsJob.job})
        return None
    return claim


async def send_batch(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, batch: ClaimBatchRow
) -> str | None:
    """Send a pending batch's stored 837P (same PayloadID on every try) and record the answer;
    None when received, else why the envelope was refused (the batch stays pending)."""
    async with transaction(pool) as conn:
        text = await batches.get_sent_file(conn, batch.id, PAYLOAD_837)
    # Nothing held across the call: no transaction, no row lock, no pooled connection.
    answer = await clearinghouse.batch(PAYLOAD_837, text, payload_id=batch.payload_id)
    now = clock.now()
    error = (answer.error_code, answer.error_message) if answer.is_envelope_error else None
    async with transaction(pool) as conn:
        await batches.insert_batch_file(
            conn, batch.id, "received", answer.payload_type, batch.payload_id, answer.payload,
            now, error,
        )  # fmt: skip
        if error is None and answer.payload_type == RECEIPT:
            await batches.update_batch_sent(conn, batch.id, now)
            # A refusal flagged the claims; the envelope went through: that flag ends here.
            for member in await batches.lock_batch_members(conn, batch.id):
                await queries.clear_ops_flag(
                    conn, member.claim_id, kinds=("envelope_refused",),
                    submission_id=member.submission_id, event="cleared",
                    reason=f"the clearinghouse received batch {batch.payload_id}",
                    actor_user_id=None, at=now,
                )  # fmt: skip
            job = FetchClaimResultsJob(batch_id=batch.id)
            await outbox.add(conn, job, dedupe_key=f"{job.job}:{batch.id}")
            return None
        reason = f"the clearinghouse refused batch {batch.payload_id}: {answer.error_code}"
        await batches.update_batch_error(conn, batch.id, reason)
        for member in await batches.lock_batch_members(conn, batch.id):
            await queries.flag_for_ops(
                conn, member.claim_id, "envelope_refused", reason, now, member.submission_id
            )
    return reason


def _contact(settings: Settings) -> Contact:
    return Contact(name=settings.platform_contact_name, phone=settings.platform_contact_phone)


def _billing(settings: Settings) -> BillingProvider:
    """The platform as billing provider (2010AA), from settings."""
    return BillingProvider(
        name=settings.platform_name,
        npi=settings.platform_npi,
        ein=settings.platform_ein,
        taxonomy=settings.platform_taxonomy,
        contact=_contact(settings),
        address=PostalAddress(
            line1=settings.platform_address_line1,
            line2=settings.platform_address_line2,
            city=settings.platform_city,
            state=settings.platform_state,
            zip=settings.platform_zip,
        ),
    )


def to_x837_claim(row: BatchClaimRow, lines: list[BatchLineRow]) -> Claim:
    """A claim's rows as schemas/x837 Structs (msgspec checks their bounds)."""
    home = {
        "line1": row.address_line1, "line2": row.address_line2, "city": row.city,
        "state": row.state, "zip": row.zip,
    }  # fmt: skip
    client = {"first_name": row.first_name, "last_name": row.last_name}
    patient = None
    if row.relationship == "self" or row.patient_member_id is not None:
        # A dependant with their own member id is sent as the subscriber (DESIGN.md 837P).
        subscriber = {
            **client, "member_id": row.patient_member_id or row.member_id,
            "group_number": row.group_number, "birth_date": row.date_of_birth,
            "sex": row.sex, "address": home,
        }  # fmt: skip
    else:
        subscriber = {
            "member_id": row.member_id, "group_number": row.group_number,
            "first_name": row.subscriber_first_name, "last_name": row.subscriber_last_name,
            "birth_date": row.subscriber_date_of_birth, "sex": row.subscriber_sex,
        }  # fmt: skip
        patient = {
            **client, "relationship": row.relationship, "birth_date": row.date_of_birth,
            "sex": row.sex, "address": home,
        }  # fmt: skip
    facility = None
    if row.facility_name is not None:
        facility = {
            "name": row.facility_name,
            "address": {
                "line1": row.facility_line1, "line2": row.facility_line2,
                "city": row.facility_city, "state": row.facility_state, "zip": row.facility_zip,
            },
        }  # fmt: skip
    raw = {
        "control_number": row.clm01,
        "charge_cents": row.total_charge_cents,
        "place_of_service": row.place_of_service,
        "frequency": row.frequency,
        "payer_claim_number": row.payer_claim_number if row.frequency != "1" else None,
        "prior_authorization": row.prior_authorization,
        "diagnoses": row.diagnosis_codes,
        "payer": {
            "name": row.payer_name,
            "payer_id": row.x12_payer_id,
            "filing_indicator": row.claim_filing_indicator,  # SBR09, the payer's own
        },
        "subscriber": subscriber,
        "patient": patient,
        "rendering": {
            "npi": row.provider_npi, "first_name": row.provider_first_name,
            "last_name": row.provider_last_name, "taxonomy": row.provider_taxonomy,
        },
        "facility": facility,
        "lines": [
            {
                "cpt": line.cpt_code, "modifiers": line.modifiers,
                "charge_cents": line.charge_cents, "units": line.units,
                "pointers": line.diagnosis_pointers, "service_date": row.service_date,
                "control_number": line.line_control_number,
            }
            for line in lines
        ],
    }  # fmt: skip
    return msgspec.convert(raw, Claim)
