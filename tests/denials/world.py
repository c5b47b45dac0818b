"""Denials as the 835 posting leaves them, for the denial queue tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.core.auth import Actor
from services.remittance.service import post_file_on
from tests.claims.corrections import sent
from tests.claims.world import move_claim
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed, bill
from tests.remittance.test_posting import ours

H_BPR = "BPR*H*0*C*NON************20261204~\n"
# DENIED (CO-50, N115) with another CARC in its place.
DENIED_197 = f.DENIED.replace("CAS*CO*50*150", "CAS*CO*197*150")
# The payer's reversal of DENIED (every amount negated) and its correction, paid.
DENIAL_REVERSED = """\
CLP*HC0000006A*22*-150*0*0*12*PCN0000000006*11*1~
NM1*QC*1*CHEN*RILEY****MI*M00000006~
SVC*HC:90837*-150*0**-1~
DTM*472*20261106~
CAS*CO*50*-150~
REF*6R*L0000006A1~
CLP*HC0000006A*1*150*100*20*12*PCN0000000016*11*1~
NM1*QC*1*CHEN*RILEY****MI*M00000006~
SVC*HC:90837*150*100**1~
DTM*472*20261106~
CAS*CO*45*30~
CAS*PR*3*20~
REF*6R*L0000006A1~
"""


@dataclass(frozen=True)
class Denial:
    id: uuid.UUID  # the remitted claim
    billed: Billed


async def post_835(db: asyncpg.Connection, ops: Actor, body: str, control: int) -> None:
    raw = f.interchange([body], control=control).encode()
    out, posted = await post_file_on(db, raw, "upload", ops)
    assert posted, out


async def billed_and_sent(
    db: asyncpg.Connection,
    payer_id: uuid.UUID,
    provider: Actor,
    lines: tuple[tuple[str, int], ...] = (("90837", 12000),),
) -> Billed:
    """A claim billed, sent in a batch and accepted by the payer, as an 835 finds it."""
    billed = await bill(db, payer_id, provider, lines)
    await sent(db, billed.claim_id)
    await move_claim(db, billed.claim_id, "accepted", "277CA A2:20")
    return billed


async def deny(
    db: asyncpg.Connection,
    ops: Actor,
    provider: Actor,
    payer_id: uuid.UUID,
    claim: str = f.DENIED,
    control: int = 101,
) -> Denial:
    """A claim billed, then denied in whole by an 835 (CLP02 4, paid nothing)."""
    return await deny_billed(db, ops, await billed_and_sent(db, payer_id, provider), claim, control)


async def deny_billed(
    db: asyncpg.Connection, ops: Actor, billed: Billed, claim: str = f.DENIED, control: int = 101
) -> Denial:
    """`billed` denied in whole by an 835."""
    body = f.transaction(ours(claim, billed, "6"), bpr=H_BPR, trace=f"EFT{control}")
    await post_835(db, ops, body, control)
    return Denial(await _remitted(db, billed), billed)


async def deny_a_line(
    db: asyncpg.Connection, ops: Actor, provider: Actor, payer_id: uuid.UUID, control: int = 201
) -> Denial:
    """A claim paid but for its add-on line (CO-97): partially paid with a loss."""
    billed = await billed_and_sent(db, payer_id, provider, (("90837", 12000), ("90785", 2000)))
    body = f.transaction(ours(f.LINE_DENIED, billed, "4"), trace=f"EFT{control}")
    await post_835(db, ops, body, control)
    return Denial(await _remitted(db, billed), billed)


async def pay(
    db: asyncpg.Connection, ops: Actor, provider: Actor, payer_id: uuid.UUID, control: int = 301
) -> Denial:
    """A claim paid in full: no denial."""
    billed = await billed_and_sent(db, payer_id, provider)
    body = f.transaction(ours(f.PAID, billed, "1"), trace=f"EFT{control}")
    await post_835(db, ops, body, control)
    return Denial(await _remitted(db, billed), billed)


async def billed_of(db: asyncpg.Connection, claim_id: uuid.UUID) -> Billed:
    """A claim completed through the API, as the posting tests' Billed."""
    claim = await db.fetchrow(
        "SELECT c.provider_id, c.client_id, c.payer_id, c.allowed_cents, s.clm01"
        " FROM claims c JOIN claim_submissions s ON s.claim_id = c.id WHERE c.id = $1"
        " ORDER BY s.version DESC LIMIT 1",
        claim_id,
    )
    controls = await db.fetch(
        "SELECT line_control_number FROM claim_lines WHERE claim_id = $1 ORDER BY line_number",
        claim_id,
    )
    return Billed(
        claim_id, claim["clm01"], [r["line_control_number"] for r in controls],
        claim["provider_id"], claim["client_id"], claim["payer_id"], claim["allowed_cents"], 0,
    )  # fmt: skip


async def _remitted(db: asyncpg.Connection, billed: Billed) -> uuid.UUID:
    found: uuid.UUID = await db.fetchval(
        "SELECT id FROM remitted_claims WHERE claim_id = $1 ORDER BY ordinal LIMIT 1",
        billed.claim_id,
    )
    return found
