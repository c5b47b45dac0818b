"""Hand-written CLPs for the true-up tests, and helpers reading what the posting made of them.

The 835s are fixtures.py's (one payer, its envelope), the claims billed.py's: allowed $120.00
and an estimated client share of $20.00 unless a test says otherwise.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.core.auth import Actor
from services.remittance.service import post_file_on
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed

# PR-3 $20 and PR-27 $30 (expenses after coverage ended): 150 - 30 - 20 - 30 = 70.
OTHER_PR = """\
CLP*HC0000008A*1*150*70*50*12*PCN0000000008*11*1~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
SVC*HC:90837*150*70**1~
DTM*472*20261102~
CAS*CO*45*30~
CAS*PR*3*20*1*27*30~
REF*6R*L0000008A1~
"""
# PR-1 $50 and PR-27 $30: 150 - 30 - 50 - 30 = 40.
DEDUCTIBLE_AND_OTHER_PR = """\
CLP*HC0000008A*1*150*40*80*12*PCN0000000009*11*1~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
SVC*HC:90837*150*40**1~
DTM*472*20261102~
CAS*CO*45*30~
CAS*PR*1*50*1*27*30~
REF*6R*L0000008A1~
"""
# The correction of fixtures.PARTLY_PAID (after its reversal): a $10 copay, 150 - 30 - 10 = 110.
CORRECTION_OF_PARTLY_PAID = """\
CLP*HC0000002A*1*150*110*10*12*PCN0000000012*11*1~
NM1*QC*1*KIM*ALEX****MI*M00000002~
SVC*HC:90834*150*110**1~
DTM*472*20261103~
CAS*CO*45*30~
CAS*PR*3*10~
REF*6R*L0000002A1~
"""


def _negated(value: str) -> str:
    return value if value in ("", "0") else value[1:] if value.startswith("-") else "-" + value


def reversal_of(clp: str) -> str:
    """A payer's reversal of `clp` (CLP02 22): every amount and quantity negated, the CLP07
    kept (it is how the reversal finds its original); the allowed amount (AMT) left out."""
    out = []
    for segment in clp.splitlines():
        elements = segment.rstrip("~").split("*")
        if elements[0] == "CLP":
            elements[2] = "22"
            elements[3:6] = [_negated(e) for e in elements[3:6]]
        elif elements[0] == "SVC":
            for i in (2, 3, 5):
                elements[i] = _negated(elements[i])
        elif elements[0] == "CAS":
            # Triplets from CAS02: reason, amount, quantity; the amount and quantity negated.
            elements = [e if i < 3 or (i - 2) % 3 == 0 else _negated(e)
                        for i, e in enumerate(elements)]  # fmt: skip
        elif elements[0] == "AMT":
            continue
        out.append("*".join(elements) + "~")
    return "\n".join(out) + "\n"


REVERSAL_OF_PARTLY_PAID = reversal_of(f.PARTLY_PAID)


def ours(text: str, billed: Billed, number: str) -> str:
    """A CLP written for claim HC000000{n}A (lines L000000{n}A..) renamed to our claim's."""
    text = text.replace(f"HC000000{number}A", billed.clm01)
    for n, control in enumerate(billed.line_controls, start=1):
        text = text.replace(f"L000000{number}A{n}", control)
    return text


def debit(dollars: int) -> str:
    """A BPR taking `dollars` back from us (a reversal alone)."""
    return f.ACH.format(amount=dollars).replace("*C*ACH*", "*D*ACH*", 1)


def paid_on(day: str, dollars: str) -> str:
    """A BPR paying `dollars` on `day` (YYYYMMDD, BPR16)."""
    return f.ACH.format(amount=dollars).replace("*20261204~", f"*{day}~")


async def post(db: asyncpg.Connection, ops: Actor, *bodies: str, control: int = 101) -> Any:
    out, _ = await post_file_on(db, f.interchange(list(bodies), control=control).encode(),
                                "upload", ops)  # fmt: skip
    return out


async def true_ups(db: asyncpg.Connection, billed: Billed) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT * FROM client_true_ups WHERE claim_id = $1 ORDER BY created_at, kind, id",
        billed.claim_id,
    )
    return [dict(r) for r in rows]


async def settle_rows(db: asyncpg.Connection) -> list[dict[str, Any]]:
    """The open settle_true_up outbox rows, oldest first."""
    rows = await db.fetch(
        "SELECT id, payload, dedupe_key FROM outbox WHERE job = 'settle_true_up'"
        " AND completed_at IS NULL ORDER BY id"
    )
    return [dict(r) for r in rows]
