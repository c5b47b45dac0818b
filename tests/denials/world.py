"""Denials as the 835 posting leaves them, for the denial queue tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.core.auth import Actor
from services.remittance.service import post_file_on
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


async def deny(
    db: asyncpg.Connection,
    ops: Actor,
    provider: Actor,
    payer_id: uuid.UUID,
    claim: str = f.DENIED,
    control: int = 101,
) -> Denial:
    """A claim billed, then denied in whole by an 835 (CLP02 4, paid nothing)."""
    billed = await bill(db, payer_id, provider)
    body = f.transaction(ours(claim, billed, "6"), bpr=H_BPR, trace=f"EFT{control}")
    await post_835(db, ops, body, control)
    return Denial(await _remitted(db, billed), billed)


async def deny_a_line(
    db: asyncpg.Connection, ops: Actor, provider: Actor, payer_id: uuid.UUID, control: int = 201
) -> Denial:
    """A claim paid but for its add-on line (CO-97): partially paid with a loss."""
    billed = await bill(db, payer_id, provider, (("90837", 12000), ("90785", 2000)))
    body = f.transaction(ours(f.LINE_DENIED, billed, "4"), trace=f"EFT{control}")
    await post_835(db, ops, body, control)
    return Denial(await _remitted(db, billed), billed)


async def pay(
    db: asyncpg.Connection, ops: Actor, provider: Actor, payer_id: uuid.UUID, control: int = 301
) -> Denial:
    """A claim paid in full: no denial."""
    billed = await bill(db, payer_id, provider)
    body = f.transaction(ours(f.PAID, billed, "1"), trace=f"EFT{control}")
    await post_835(db, ops, body, control)
    return Denial(await _remitted(db, billed), billed)


async def _remitted(db: asyncpg.Connection, billed: Billed) -> uuid.UUID:
    found: uuid.UUID = await db.fetchval(
        "SELECT id FROM remitted_claims WHERE claim_id = $1 ORDER BY ordinal LIMIT 1",
        billed.claim_id,
    )
    return found
