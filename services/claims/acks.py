"""Readers of what comes back for an 837P: TA1, 999 (005010X231A1), 277CA (005010X214) (pure).

Each reader turns a file into decisions per claim (DESIGN.md "Acknowledgements"); applying
them to our rows is the submission service's work. Codes are kept as the file wrote them with
`:` between components, whatever the file's own separator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from services.core.x12 import Delimiters, X12Error, components, read_interchange, segments

Decision = Literal["acknowledged", "accepted", "rejected", "unchanged", "ops"]

# 277CA STC01-1 categories (DESIGN.md "Acknowledgements"); any other goes to ops.
_ACCEPTED = {"A2", "A5"}
_PENDING = {"A0", "A1"}
_REJECTED = {"A3", "A4", "A6", "A7", "A8"}


@dataclass(frozen=True)
class ClaimAnswer:
    """What one acknowledgement says of one claim (CLM01)."""

    decision: Decision
    codes: tuple[str, ...] = ()
    payer_claim_number: str | None = None
    proof_date: date | None = None  # a payer's 277CA date, the proof of timely filing


@dataclass(frozen=True)
class Ta1:
    interchange_control: str
    refused: bool
    note: str


@dataclass
class Ack999:
    """The 999's answer to our set: the decision and the reasons per CLM01 (or for the set)."""

    decision: Decision
    set_codes: list[str] = field(default_factory=list)
    claim_codes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Result277:
    """Per CLM01 the 2200D answer; `all_rejected` holds the codes of a 2200B/2200C refusal
    that covers every claim of the file the 277CA lists no 2000D for."""

    claims: dict[str, ClaimAnswer] = field(default_factory=dict)
    all_rejected: list[str] = field(default_factory=list)


def _code(value: str, d: Delimiters) -> str:
    return ":".join(part for part in components(value, d))


def read_ta1(text: str) -> Ta1:
    """A TA1 answer: refused when TA104 is R (the whole interchange, no 999 will come)."""
    for seg in segments(text):
        if seg[0] == "TA1":
            padded = [*seg, "", "", "", "", ""]
            return Ta1(padded[1], padded[4] == "R", padded[5])
    raise X12Error("the TA1 answer has no TA1 segment")


# One pass over the segments, as core/x12.read_interchange reads: a state machine over tags.
def read_999(text: str, group_control: int, set_control: str) -> Ack999:  # noqa: C901
    """The IK5 of our set (AK102 = GS06, AK202 = ST02) with its IK3/IK4/CTX reasons."""
    interchange = read_interchange(text)
    d = interchange.delimiters
    for tset in interchange.transactions:
        ours_group = False
        current = ""
        found: Ack999 | None = None
        errors: list[tuple[str | None, list[str]]] = []  # per IK3: CTX's CLM01, its notes
        group_codes: list[str] = []
        for seg in tset.segments:
            tag, el = seg[0], [*seg, "", "", "", "", "", ""]
            ours = found is not None and current == set_control
            if tag == "AK1":
                ours_group = el[2].lstrip("0") == str(group_control)
            elif tag == "AK2":
                current = el[2]
                if ours_group and current == set_control:
                    found = Ack999("unchanged")
            elif ours and tag == "IK3":
                errors.append((None, [_note(seg, d)]))
            elif ours and tag == "CTX" and errors and el[1].startswith("CLM01"):
                errors[-1] = (_code(el[1], d).partition(":")[2] or None, errors[-1][1])
            elif ours and tag == "IK4" and errors:
                errors[-1][1].append(_note(seg, d))
            elif ours and tag == "IK5" and found is not None:
                found.decision = _IK5.get(el[1], "ops")
                found.set_codes.extend(f"IK5:{code}" for code in seg[1:] if code)
                for clm01, notes in errors:
                    target = found.claim_codes.setdefault(clm01, []) if clm01 else found.set_codes
                    target.extend(notes)
            elif tag == "AK9" and ours_group:
                group_codes = [f"AK9:{code}" for code in [el[1], *seg[5:]] if code]
        if found is not None:
            return found
        if group_codes[:1] == ["AK9:R"]:
            # The group was refused without a word on our set: every claim in it is rejected.
            return Ack999("rejected", group_codes)
    return Ack999("ops", ["999 names neither our group nor our set"])


_IK5: dict[str, Decision] = {
    "A": "acknowledged",
    "E": "acknowledged",
    **dict.fromkeys(("R", "M", "W", "X"), "rejected"),
}


def _note(seg: list[str], d: Delimiters) -> str:
    return f"{seg[0]}:" + "/".join(_code(value, d) for value in seg[1:] if value)


def read_277ca(text: str) -> Result277:
    """Each claim's answer: 2200B/2200C refusals first (STC03 U), then each 2200D."""
    interchange = read_interchange(text)
    d = interchange.delimiters
    result = Result277()
    for tset in interchange.transactions:
        _read_277_set(tset.segments, d, result)
    return result


@dataclass
class _Claim:
    clm01: str = ""
    stcs: list[list[str]] = field(default_factory=list)
    claim_number: str | None = None
    inherited: list[str] = field(default_factory=list)


def _read_277_set(segs: list[list[str]], d: Delimiters, result: Result277) -> None:  # noqa: C901
    refusals: dict[str, list[str]] = {}  # HL id -> the codes of its STC03 U
    parents: dict[str, str] = {}
    level, hl_id = "", ""
    received: date | None = None
    claim: _Claim | None = None
    claims: list[_Claim] = []
    for seg in segs:
        tag, el = seg[0], [*seg, "", "", "", "", "", "", "", "", "", "", "", ""]
        if tag == "HL":
            hl_id, level = el[1], el[3]
            parents[hl_id] = el[2]
            claim = None
            if level == "PT":
                claim = _Claim(inherited=_inherited(hl_id, parents, refusals))
                claims.append(claim)
        elif tag == "DTP" and el[1] == "009" and received is None:
            received = _day(el[3])
        elif tag == "TRN" and claim is not None and el[1] == "2":
            claim.clm01 = el[2]
        elif tag == "REF" and claim is not None and el[1] == "1K":
            claim.claim_number = el[2]
        elif tag == "STC" and claim is not None:
            claim.stcs.append(seg)
        elif tag == "STC" and level in ("21", "19") and el[3] == "U":
            refusals[hl_id] = _stc_codes(seg, d)
    for found in claims:
        result.claims[found.clm01] = _decide(found, d, received)
    if refusals and not claims:
        result.all_rejected = [code for codes in refusals.values() for code in codes]


def _inherited(hl_id: str, parents: dict[str, str], refusals: dict[str, list[str]]) -> list[str]:
    codes: list[str] = []
    parent = parents.get(hl_id, "")
    while parent:
        codes = refusals.get(parent, []) + codes
        parent = parents.get(parent, "")
    return codes


def _stc_codes(seg: list[str], d: Delimiters) -> list[str]:
    """Every STC01, STC10 and STC11 code of one STC."""
    el = [*seg, "", "", "", "", "", "", "", "", "", "", "", ""]
    return [_code(el[index], d) for index in (1, 10, 11) if el[index]]


def _decide(claim: _Claim, d: Delimiters, received: date | None) -> ClaimAnswer:
    codes = list(claim.inherited)
    categories: set[str] = set()
    refused = bool(claim.inherited)
    proof: date | None = None
    for seg in claim.stcs:
        codes.extend(_stc_codes(seg, d))
        el = [*seg, "", "", "", "", "", "", "", "", "", "", "", ""]
        refused = refused or el[3] == "U"
        categories.update(code.split(":")[0] for code in _stc_codes(seg, d))
        proof = proof or _day(el[2])
    unique = tuple(dict.fromkeys(codes))
    if refused or categories & _REJECTED:
        return ClaimAnswer("rejected", unique)
    if categories - _ACCEPTED - _PENDING - _REJECTED or not categories:
        return ClaimAnswer("ops", unique)
    if categories & _ACCEPTED:
        return ClaimAnswer("accepted", unique, claim.claim_number, proof or received)
    return ClaimAnswer("unchanged", unique)


def _day(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
