"""Claim corrections (issue 15 item 6; DESIGN.md "Edit window and submission timing").

A claim a 999 or 277CA rejected never entered adjudication: it is corrected and sent again
as frequency 1. Once a payer accepted it (its 277CA gave a payer claim number, REF*1K), a
correction is a replacement (7: the whole corrected claim, every line) and a withdrawal a
void (8: the original repeated), both carrying that number in REF*F8. Each makes a new
claim_submissions version (its own CLM01) and puts the claim back to `ready`, where the
submission job sends the latest version once. Statuses (infra/migrations/0026):
resend rejected -> ready; replacement accepted -> ready ... -> accepted | rejected; void
accepted -> ready ... -> voided | rejected. A provider corrects their accepted claim only
before adjudication (the 835 is not built yet: while the claim is `accepted`); ops may also
replace or void a claim whose replacement or void the payer rejected (the accepted original
still stands there).
"""

from __future__ import annotations

import uuid
from collections import Counter

import asyncpg

from schemas.claims import (
    ClaimCorrectionIn,
    ClaimOut,
    ClaimVersionState,
    ClaimVoidIn,
    CorrectionOut,
    Frequency,
)
from schemas.therapy_sessions import ClaimCoding, ServiceLineIn
from services.claims import queries, reprice
from services.claims.errors import (
    ClaimNotFound,
    ClaimStatusConflict,
    ClaimVoided,
    NoPayerClaimNumber,
    PayerHoldsClaim,
)
from services.claims.queries import corrections, reads
from services.claims.service import ENTITY, clm01, priced_lines
from services.core import audit, clock
from services.core.auth import Actor
from services.core.scope import owner_scope
from services.payers.service import get_payer
from services.prior_authorizations.service import return_visit
from services.therapy_sessions.service import check_claim_coding

_LABELS: dict[Frequency, str] = {
    "1": "corrected and resent (frequency 1)",
    "7": "replacement (frequency 7)",
    "8": "void (frequency 8)",
}


async def _locked(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID
) -> tuple[ClaimOut, ClaimVersionState]:
    """The claim, if the caller may see it, locked; with its versions' state."""
    if await reads.get_visible_claim(conn, owner_scope(actor), claim_id) is None:
        raise ClaimNotFound("claim not found")
    await corrections.lock_claim(conn, claim_id)
    claim = await queries.get_claim(conn, claim_id)
    assert claim is not None  # locked, and claims are never deleted
    state = await corrections.get_version_state(conn, claim_id)
    if state.unsent_version is not None:
        # An 835 for an earlier version can arrive while a correction waits for the submission
        # job (the claim then reads paid or denied): the waiting version goes out first.
        raise ClaimStatusConflict(
            f"version {state.unsent_version} of this claim waits to be sent: a further"
            " correction can follow once it has gone",
            field="claim_id",
        )
    return claim, state


# What an 835 made of a claim: corrected (7) or withdrawn (8) by ops, never by a provider alone.
ADJUDICATED = ("paid", "partially_paid", "denied")


def _check_adjustable(actor: Actor, claim: ClaimOut, state: ClaimVersionState) -> str:
    """A replacement or void may go: the payer claim number it names in REF*F8."""
    if actor.role == "provider" and claim.status != "accepted":
        raise ClaimStatusConflict(
            f"the claim is {claim.status}: a provider replaces or voids an accepted claim"
            " before adjudication; ops handle the rest",
            field="status",
        )
    if claim.status not in ("accepted", "rejected", *ADJUDICATED):
        raise ClaimStatusConflict(
            f"the claim is {claim.status}: only an accepted or adjudicated claim (or one whose"
            " replacement or void was rejected) is replaced or voided",
            field="status",
        )
    if state.payer_claim_number is None:
        raise NoPayerClaimNumber(
            "no payer's 277CA has given this claim a claim number yet: a replacement or void"
            " names it (REF*F8); a rejected claim is resent instead",
            field="claim_id",
        )
    return state.payer_claim_number


async def resend_claim(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID, data: ClaimCorrectionIn
) -> CorrectionOut:
    """A rejected claim corrected (or not) and sent again as frequency 1."""
    claim, state = await _locked(conn, actor, claim_id)
    if claim.status != "rejected":
        raise ClaimStatusConflict(
            f"the claim is {claim.status}: only a rejected claim is resent", field="status"
        )
    if state.payer_claim_number is not None:
        raise PayerHoldsClaim(
            "a payer accepted a version of this claim: correct it with a replacement (7)",
            field="claim_id",
        )
    return await _correct(conn, actor, claim, state, data, "1")


async def replace_claim(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID, data: ClaimCorrectionIn
) -> CorrectionOut:
    """An accepted claim replaced by its corrected whole (frequency 7, REF*F8)."""
    claim, state = await _locked(conn, actor, claim_id)
    if state.voided:
        # Its void was sent (and, the claim being here, rejected): only a void follows.
        raise ClaimVoided("the claim has a void on record: it can only be voided again")
    _check_adjustable(actor, claim, state)
    return await _correct(conn, actor, claim, state, data, "7")


async def void_claim(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID, data: ClaimVoidIn
) -> CorrectionOut:
    """An accepted claim withdrawn (frequency 8, REF*F8): its authorization visit given back
    and its net ledger effect reversed, each once."""
    claim, state = await _locked(conn, actor, claim_id)
    _check_adjustable(actor, claim, state)
    now = clock.now()
    if claim.prior_authorization_id is not None and (
        await corrections.update_authorization_returned(conn, claim.id, now)
    ):
        await return_visit(conn, claim.prior_authorization_id)
    net = await reprice.net_effect(conn, claim, state.version)
    await reprice.post_difference(
        conn,
        claim,
        f"void-{claim.id}",
        "claim_voided",
        reprice.difference(Counter(), net),
        "claim voided",
    )
    return await _new_version(conn, actor, claim, state, "8", data.reason)


def _coding(claim: ClaimOut, data: ClaimCorrectionIn) -> ClaimCoding:
    """The claim's coding with the correction's fields applied."""
    lines = data.lines or [
        ServiceLineIn(
            cpt_code=x.cpt_code, modifiers=x.modifiers, diagnosis_pointers=x.diagnosis_pointers
        )
        for x in claim.lines
    ]
    return ClaimCoding(
        lines=lines,
        diagnosis_codes=data.diagnosis_codes or claim.diagnosis_codes,
        place_of_service=data.place_of_service or claim.place_of_service,  # type: ignore[arg-type]
    )


async def _correct(
    conn: asyncpg.Connection,
    actor: Actor,
    claim: ClaimOut,
    state: ClaimVersionState,
    data: ClaimCorrectionIn,
    frequency: Frequency,
) -> CorrectionOut:
    """Apply the correction's coding (checked, lines re-priced), then the new version."""
    if data.lines is None and data.diagnosis_codes is None and data.place_of_service is None:
        return await _new_version(conn, actor, claim, state, frequency, data.reason)
    payer = await get_payer(conn, claim.payer_id)
    coding = _coding(claim, data)
    diagnoses = await check_claim_coding(
        conn, claim.therapy_session_id, coding, payer.telehealth_modifier
    )
    version = state.version + 1
    total, allowed = claim.total_charge_cents, claim.allowed_cents
    if data.lines is not None:
        repriced = await reprice.reprice(conn, claim, payer, coding)
        lines = await priced_lines(
            conn, repriced.lines, claim.service_date, clm01(claim.claim_number, version)
        )
        await queries.delete_lines(conn, claim.id)
        await queries.insert_lines(conn, claim.id, lines)
        total = sum(line.charge_cents for line in lines)
        allowed = sum(line.allowed_cents for line in lines)
        current = await reprice.net_effect(conn, claim, state.version)
        await reprice.post_difference(
            conn,
            claim,
            reprice.correction_key(claim.id, version),
            "claim_corrected",
            reprice.difference(repriced.target, current),
            f"claim corrected (version {version})",
        )
    await corrections.update_coding(
        conn, claim.id, coding.place_of_service, diagnoses, (total, allowed), clock.now()
    )
    return await _new_version(conn, actor, claim, state, frequency, data.reason)


async def _new_version(
    conn: asyncpg.Connection,
    actor: Actor,
    claim: ClaimOut,
    state: ClaimVersionState,
    frequency: Frequency,
    reason: str,
) -> CorrectionOut:
    """The claim's next version, the claim back to `ready` (off the ops queue), history."""
    version = state.version + 1
    now = clock.now()
    await queries.insert_submission(
        conn, claim.id, version, frequency, clm01(claim.claim_number, version)
    )
    note = f"{_LABELS[frequency]}: {reason}"
    # The correction is the fix of whatever flag the claim carried for ops.
    await queries.clear_ops_flag(
        conn, claim.id, kinds=None, submission_id=None, event="cleared",
        reason=note[:500], actor_user_id=actor.user, at=now,
    )  # fmt: skip
    await corrections.update_to_ready(conn, claim.id, now)
    await queries.insert_history(conn, claim.id, claim.status, "ready", note[:500], actor.user, now)
    await audit.record(conn, actor, "update", ENTITY, [claim.id])
    found = await queries.get_claim(conn, claim.id)
    assert found is not None
    versions = await reads.list_versions(conn, claim.id)
    return CorrectionOut(claim=found, version=versions[-1])
