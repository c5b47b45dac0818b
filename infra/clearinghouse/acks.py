"""The acknowledgements a payer sends back for an 837P: TA1, 999 (005010X231A1), 277CA (X214).

Each answer uses the 837's own delimiters (with `~` for a line-break terminator, as the 271 does)
and swaps the interchange's sender and receiver. 999: one AK2/IK5 per transaction set, IK3/CTX/IK4
for each segment at fault, AK9 for the group. 277CA: one 2000A per payer (NM1*PR: a payer's
277CA, the only one that accepts a claim), the submitter in 2000B, each billing provider in 2000C
and each claim in 2000D (TRN02 = CLM01, REF*1K on acceptance). A billing provider the payer does
not know is refused at 2200C (STC03 U), which rejects every claim under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from infra.clearinghouse.x12 import Control, Writer, answer_delimiters, money
from infra.clearinghouse.x837 import Claim, Interchange, Isa, TransactionSet

ACK_VERSION = "005010X231A1"
CLAIM_ACK_VERSION = "005010X214"


@dataclass(frozen=True)
class ClaimAck:
    """A payer's answer to one claim: its 277CA STC01 and, on acceptance, its claim number."""

    claim: Claim
    category: str  # A2 accepted; A3 returned as unprocessable, A6 missing, A7 invalid
    status: str  # claim status code (20 accepted for processing, 33, 562, 126, 464, ...)
    entity: str = ""  # STC01-3: the entity the status is about (IL, 82, 77, ...)
    payer_claim_number: str = ""

    @property
    def accepted(self) -> bool:
        return self.category == "A2"


def _isa(w: Writer, isa: Isa, control: Control) -> None:
    d, at = w.delims, control.at
    w.add(
        "ISA", "00", " " * 10, "00", " " * 10, isa.receiver[0], isa.receiver[1].ljust(15),
        isa.sender[0], isa.sender[1].ljust(15), at.strftime("%y%m%d"), at.strftime("%H%M"),
        d.repetition, "00501", f"{control.number:09d}", "0", isa.usage, d.component,
    )  # fmt: skip


def _close(w: Writer, st_index: int, sets: int, control: Control) -> None:
    w.add("SE", str(len(w.segments) - st_index + 1), "0001")
    w.add("GE", str(sets), str(control.number))
    w.add("IEA", "1", f"{control.number:09d}")


def write_ta1(isa: Isa, code: str, control: Control) -> str:
    """The interchange refused (TA104 R), with its TA105 note code; no group follows."""
    w = Writer(answer_delimiters(isa.delimiters))
    _isa(w, isa, control)
    w.add("TA1", isa.control, isa.day, isa.time, "R", code)
    w.add("IEA", "0", f"{control.number:09d}")
    return w.text()


def set_accepted(tset: TransactionSet) -> bool:
    return not tset.syntax and not tset.errors


def write_999(interchange: Interchange, control: Control) -> str:
    w = Writer(answer_delimiters(interchange.isa.delimiters))
    at = control.at
    _isa(w, interchange.isa, control)
    w.add("GS", "FA", interchange.gs_receiver, interchange.gs_sender, at.strftime("%Y%m%d"),
          at.strftime("%H%M"), str(control.number), "X", ACK_VERSION)  # fmt: skip
    st_index = len(w.segments)
    w.add("ST", "999", "0001", ACK_VERSION)
    w.add("AK1", "HC", interchange.gs_control, "005010X222A1")
    for tset in interchange.sets:
        w.add("AK2", "837", tset.control, "005010X222A1")
        for error in tset.errors:
            w.add("IK3", error.segment, str(error.position), error.loop, error.code)
            if error.claim_id:
                w.add("CTX", f"CLM01{w.delims.component}{error.claim_id}")
            if error.element:
                w.add("IK4", error.element, error.element_ref, error.element_code, error.value)
        if set_accepted(tset):
            w.add("IK5", "A")
        else:
            w.add("IK5", "R", *(tset.syntax or ["5"]))
    accepted = sum(1 for tset in interchange.sets if set_accepted(tset))
    count = len(interchange.sets)
    status = "A" if accepted == count else "P"
    if interchange.group_errors or accepted == 0:
        status = "R"
    w.add("AK9", status, str(count), str(count), str(accepted), *interchange.group_errors)
    _close(w, st_index, 1, control)
    return w.text()


def _stc(w: Writer, code: str, day: str, action: str, amount: int) -> None:
    w.add("STC", code, day, action, money(amount))


def _counts(w: Writer, acks: list[ClaimAck], qualifiers: tuple[str, str]) -> None:
    accepted = [ack for ack in acks if ack.accepted]
    rejected = [ack for ack in acks if not ack.accepted]
    if accepted:
        w.add("QTY", qualifiers[0], str(len(accepted)))
    if rejected:
        w.add("QTY", qualifiers[1], str(len(rejected)))
    if accepted:
        w.add("AMT", "YU", money(sum(ack.claim.charge for ack in accepted)))
    if rejected:
        w.add("AMT", "YY", money(sum(ack.claim.charge for ack in rejected)))


def _claim(w: Writer, ack: ClaimAck, hl: int, parent: int, day: str) -> None:
    claim = ack.claim
    person = claim.patient or claim.subscriber
    w.add("HL", str(hl), str(parent), "PT")
    w.add("NM1", "QC", "1", person.last, person.first, "", "", "", "MI",
          claim.subscriber.member_id)  # fmt: skip
    w.add("TRN", "2", claim.id)
    code = ":".join(part for part in (ack.category, ack.status, ack.entity) if part)
    code = code.replace(":", w.delims.component)
    _stc(w, code, day, "WQ" if ack.accepted else "U", claim.charge)
    if ack.payer_claim_number:
        w.add("REF", "1K", ack.payer_claim_number)
    first, last = claim.first_day, claim.last_day
    if first is not None and last is not None:
        if first == last:
            w.add("DTP", "472", "D8", first.strftime("%Y%m%d"))
        else:
            w.add("DTP", "472", "RD8", f"{first:%Y%m%d}-{last:%Y%m%d}")


def _provider(w: Writer, theirs: list[ClaimAck], hl: int, receiver: int, day: str,
              submitter_refused: bool) -> int:  # fmt: skip
    """2000C for one billing provider and its claims' 2000D; the last HL number used."""
    provider = hl + 1
    w.add("HL", str(provider), str(receiver), "19", "1")
    w.add("NM1", "85", "2", theirs[0].claim.billing_name, "", "", "", "", "XX",
          theirs[0].claim.billing_npi)  # fmt: skip
    w.add("TRN", "1", "0")
    # A billing provider the payer does not contract with: 2200C rejects (STC03 U) every claim
    # it covers, and each claim's 2200D repeats why. 2200C's STC has no date.
    refused = all(ack.entity in ("85", "41") for ack in theirs)
    status = ("A3", "562", "85") if refused else ("A1", "19", "85")
    if submitter_refused:
        status = ("A3", "24", "41")
    _stc(w, w.delims.component.join(status), "", "U" if refused else "WQ",
         sum(ack.claim.charge for ack in theirs))  # fmt: skip
    _counts(w, theirs, ("QA", "QC"))
    hl = provider
    for ack in theirs:
        hl += 1
        _claim(w, ack, hl, provider, day)
    return hl


def _payer(w: Writer, interchange: Interchange, mine: list[ClaimAck], name: str, hl: int,
           day: str, control: Control) -> int:  # fmt: skip
    """2000A for one payer, the submitter's 2000B under it, and its providers; the last HL."""
    source, receiver = hl + 1, hl + 2
    payer = mine[0].claim.payer_id
    w.add("HL", str(source), "", "20", "1")
    w.add("NM1", "PR", "2", name, "", "", "", "", "PI", payer)
    w.add("TRN", "1", f"{control.number}{payer}")
    w.add("DTP", "050", "D8", day)
    w.add("DTP", "009", "D8", day)  # processed the day it was received
    w.add("HL", str(receiver), str(source), "21", "1")
    w.add("NM1", "41", "2", interchange.submitter_name, "", "", "", "", "46",
          interchange.submitter_id)  # fmt: skip
    references = {tset.control: tset.reference for tset in interchange.sets}
    w.add("TRN", "2", references.get(mine[0].claim.set_control, "0") or "0")
    # A submitter the payer does not accept: 2200B rejects (STC03 U) every claim below.
    submitter_refused = all(ack.entity == "41" for ack in mine)
    status = ("A3", "24", "41") if submitter_refused else ("A1", "19", "PR")
    _stc(w, w.delims.component.join(status), day, "U" if submitter_refused else "WQ",
         sum(ack.claim.charge for ack in mine))  # fmt: skip
    _counts(w, mine, ("90", "AA"))
    hl = receiver
    for npi in dict.fromkeys(ack.claim.billing_npi for ack in mine):
        theirs = [ack for ack in mine if ack.claim.billing_npi == npi]
        hl = _provider(w, theirs, hl, receiver, day, submitter_refused)
    return hl


def write_277ca(
    interchange: Interchange, acks: list[ClaimAck], payer_names: dict[str, str],
    received: date, control: Control,
) -> str:  # fmt: skip
    """One 277CA set for the interchange's accepted sets: a 2000A per payer."""
    w = Writer(answer_delimiters(interchange.isa.delimiters))
    at = control.at
    day = received.strftime("%Y%m%d")
    _isa(w, interchange.isa, control)
    w.add("GS", "HN", interchange.gs_receiver, interchange.gs_sender, at.strftime("%Y%m%d"),
          at.strftime("%H%M"), str(control.number), "X", CLAIM_ACK_VERSION)  # fmt: skip
    st_index = len(w.segments)
    w.add("ST", "277", "0001", CLAIM_ACK_VERSION)
    w.add("BHT", "0085", "08", f"{control.number}", at.strftime("%Y%m%d"), at.strftime("%H%M%S"),
          "TH")  # fmt: skip
    hl = 0
    for payer in dict.fromkeys(ack.claim.payer_id for ack in acks):
        mine = [ack for ack in acks if ack.claim.payer_id == payer]
        name = payer_names.get(payer, mine[0].claim.payer_name)
        hl = _payer(w, interchange, mine, name, hl, day, control)
    _close(w, st_index, 1, control)
    return w.text()
