"""Flags for ops go down exactly when the condition that raised them ends, against the
clearinghouse simulator (a real process): a refused envelope once the batch is received, no
999 once it comes, no 277CA once it comes; each with its history rows; a flag ops resolved
comes back only after another full timeout."""

# The stack fixture and its helpers are test_submission's: each test names it as a parameter.
# ruff: noqa: F811

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from schemas.claims import OpsResolutionIn
from services.claims import service as claims
from services.claims.results import fetch_claim_results
from services.claims.submission import queue_submissions, submit_claims
from services.clearinghouse.client import PAYLOAD_837, RETRIEVE_277, CoreHttpClient, CoreResponse
from services.core.clock import Clock
from services.core.db import transaction
from tests.claims.test_submission import (
    Stack,
    _admin,
    _batches,
    _fetch_results,
    _queue,
    _ready_claim,
    _sent_files,
    stack,  # noqa: F401 - the fixture
)
from tests.infra.clearinghouse.conftest import clearinghouse  # noqa: F401 - the simulator

pytestmark = pytest.mark.usefixtures("clock")


class _NoResultsYet(CoreHttpClient):
    """Asks the simulator for the 277CA of a batch it never received, so the real simulator
    answers "no results file" while the 999 comes as usual: a payer slow with its 277CA."""

    async def batch(
        self, payload_type: str, payload: str, *, payload_id: uuid.UUID
    ) -> CoreResponse:
        if payload_type == RETRIEVE_277:
            payload = str(uuid.uuid4())
        return await super().batch(payload_type, payload, payload_id=payload_id)


async def _flag(stack: Stack, claim_id: uuid.UUID) -> tuple[Any, ...]:
    async with stack.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, needs_ops, ops_kind FROM claims WHERE id = $1", claim_id
        )
    assert row is not None
    return tuple(row)


async def _events(stack: Stack, claim_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The history as (to_status or the ops event, reason's start)."""
    async with stack.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT coalesce(to_status, ops_event) AS what, reason FROM claim_status_history"
            " WHERE claim_id = $1 ORDER BY id",
            claim_id,
        )
    return [(r["what"], r["reason"]) for r in rows]


async def _fetch_with(stack: Stack, client: CoreHttpClient) -> list[str]:
    async with stack.pool.acquire() as conn:
        ids = await conn.fetch(
            "SELECT id FROM outbox WHERE job = 'fetch_claim_results' AND completed_at IS NULL"
        )
    return [await fetch_claim_results(stack.pool, client, stack.settings, r["id"]) for r in ids]


async def test_a_refused_envelope_flag_ends_when_the_same_batch_is_received(
    stack: Stack,
) -> None:
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    wrong = msgspec.structs.replace(stack.settings, clearinghouse_password="not-the-password")
    refusing = CoreHttpClient.from_settings(wrong)
    try:
        await submit_claims(stack.pool, refusing, stack.settings, outbox_id)
        # Refused again an hour later: the flag is up already, no second history row.
        await submit_claims(stack.pool, refusing, stack.settings, outbox_id)
    finally:
        await refusing.aclose()
    assert await _flag(stack, claim_id) == ("submitted", True, "envelope_refused")
    (batch,) = await _batches(stack)
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
    assert await _flag(stack, claim_id) == ("submitted", False, None)
    refused = f"the clearinghouse refused batch {batch.payload_id}: UnAuthorized"
    assert await _events(stack, claim_id) == [
        ("ready", "session confirmed"),
        ("submitted", f"in batch {batch.payload_id}"),
        ("flagged", refused),
        ("cleared", f"the clearinghouse received batch {batch.payload_id}"),
    ]
    assert await _fetch_results(stack) == ["applied"]
    assert (await _flag(stack, claim_id))[:2] == ("accepted", False)


async def test_no_999_flag_ends_when_the_999_finally_comes(stack: Stack, clock: Clock) -> None:
    claim_id = await _ready_claim(stack)
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, await _queue(stack))
    await _admin(stack.simulator, "reset")  # it forgets the batch: "no 999 yet" from now on
    clock.advance(timedelta(hours=stack.settings.claim_ack_timeout_hours + 1))
    assert await _fetch_results(stack) == ["no 999 yet"]
    assert await _fetch_results(stack) == ["no 999 yet"]  # polled again: flagged once
    assert await _flag(stack, claim_id) == ("submitted", True, "no_999")
    # The clearinghouse gets the batch again under its PayloadID; its 999 and 277CA come.
    (batch,) = await _batches(stack)
    (text,) = await _sent_files(stack)
    await stack.clearinghouse.batch(PAYLOAD_837, text, payload_id=batch.payload_id)
    assert await _fetch_results(stack) == ["applied"]
    assert await _flag(stack, claim_id) == ("accepted", False, None)
    hours = stack.settings.claim_ack_timeout_hours
    assert [what for what, _ in await _events(stack, claim_id)] == [
        "ready", "submitted", "flagged", "cleared", "acknowledged", "accepted",
    ]  # fmt: skip
    assert (await _events(stack, claim_id))[2:4] == [
        ("flagged", f"no 999 yet {hours} h after submission"),
        ("cleared", "the 999 came"),
    ]


async def test_no_277ca_flag_ends_when_it_comes_and_a_resolved_one_waits_a_timeout(
    stack: Stack, clock: Clock
) -> None:
    claim_id = await _ready_claim(stack)
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, await _queue(stack))
    slow = _NoResultsYet.from_settings(stack.settings)
    timeout = timedelta(hours=stack.settings.claim_ack_timeout_hours)
    try:
        assert await _fetch_with(stack, slow) == ["no 277CA yet"]
        assert await _flag(stack, claim_id) == ("acknowledged", False, None)
        clock.advance(timeout + timedelta(hours=1))
        assert await _fetch_with(stack, slow) == ["no 277CA yet"]
        assert await _flag(stack, claim_id) == ("acknowledged", True, "no_277ca")
        async with transaction(stack.pool) as conn:
            await claims.resolve_ops_flag(
                conn, stack.ops, claim_id, OpsResolutionIn(note="payer says next week")
            )
        # Resolved: still no 277CA, but the flag waits another full timeout to come back.
        clock.advance(timeout - timedelta(hours=1))
        assert await _fetch_with(stack, slow) == ["no 277CA yet"]
        assert await _flag(stack, claim_id) == ("acknowledged", False, None)
        clock.advance(timedelta(hours=2))
        assert await _fetch_with(stack, slow) == ["no 277CA yet"]
        assert await _flag(stack, claim_id) == ("acknowledged", True, "no_277ca")
    finally:
        await slow.aclose()
    assert await _fetch_results(stack) == ["applied"]  # the 277CA at last
    assert await _flag(stack, claim_id) == ("accepted", False, None)
    assert [what for what, _ in await _events(stack, claim_id)] == [
        "ready", "submitted", "acknowledged", "flagged", "resolved", "flagged", "cleared",
        "accepted",
    ]  # fmt: skip
    assert (await _events(stack, claim_id))[4:7] == [
        ("resolved", "payer says next week"),
        ("flagged", f"no 277CA yet {stack.settings.claim_ack_timeout_hours} h after submission"),
        ("cleared", "the 277CA came"),
    ]


async def test_a_claim_that_cannot_be_sent_waits_for_ops_then_goes_in_the_next_batch(
    stack: Stack,
) -> None:
    claim_id = await _ready_claim(stack)
    async with transaction(stack.pool) as conn:
        client_id = await conn.fetchval("SELECT client_id FROM claims WHERE id = $1", claim_id)
        # A last name longer than NM103's 60 characters: the 837P cannot carry it.
        await conn.execute("UPDATE clients SET last_name = $2 WHERE id = $1", client_id, "L" * 61)
    outbox_id = await _queue(stack)
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "0 batch(es) sent"
    )
    assert await _flag(stack, claim_id) == ("ready", True, "unsendable")
    async with transaction(stack.pool) as conn:
        # Flagged, it is not taken again: no payer has ready claims to send.
        assert await queue_submissions(conn, stack.settings) == 0
        await conn.execute("UPDATE clients SET last_name = 'Lee' WHERE id = $1", client_id)
        await claims.resolve_ops_flag(
            conn, stack.ops, claim_id, OpsResolutionIn(note="client's last name corrected")
        )
    outbox_id = await _queue(stack)
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    assert await _fetch_results(stack) == ["applied"]
    assert await _flag(stack, claim_id) == ("accepted", False, None)
    events = await _events(stack, claim_id)
    assert [what for what, _ in events] == [
        "ready", "flagged", "resolved", "submitted", "acknowledged", "accepted",
    ]  # fmt: skip
    assert events[1][1].startswith("the claim cannot be sent: ")
