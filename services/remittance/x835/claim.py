"""One claim (2100: CLP and what follows it) and its lines (2110: SVC...), read and balanced.

The reader hands a CLP here with its numbered iterator over the file's segments; read_claim reads
the claim's own segments from it, in one pass with local variables, and hands back the segment
that closed the claim (the next CLP, an LX, PLB or SE). A state machine's attributes and a call
per segment made the reader under twice as fast as pyx12's X12Reader; gathering each claim's
segments in a list first, with equal CAS, DTM, AMT, procedures and units parsed once and their
frozen values shared, and tuples grown rather than lists converted, about four and a half times;
reading straight from the iterator (no segment looked at twice) and Structs built with at most
fifteen keywords (see read_claim), about six times (bench era_parse, CPU time).
Checked (DESIGN.md "835 balancing"): SVC02 less the line's CAS is SVC03, and CLP03 less the
claim's and all its lines' CAS is CLP04.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from msgspec.structs import replace

from schemas.remittance import (
    Adjustment,
    Amount,
    Claim,
    DateValue,
    Party,
    Procedure,
    Quantity,
    Reference,
    ServiceLine,
)
from services.remittance.x835 import elements as el
from services.remittance.x835.stream import X835Error
from services.remittance.x835.values import CENTS_CACHE, remember

# Segments of a claim's loop (2100 and its 2110 lines); any other closes the claim.
CLAIM_TAGS = frozenset({"CAS", "NM1", "MIA", "MOA", "REF", "DTM", "PER", "AMT", "QTY", "SVC", "LQ"})
ADJUSTMENT_GROUPS = frozenset({"CO", "PR", "OA", "PI"})
_CAS_LAST = 19  # six triplets: CAS02-04 ... CAS17-19
_DATE_VALUES: dict[tuple[str, ...], DateValue] = {}
_AMOUNTS: dict[tuple[str, ...], Amount] = {}
_PROCEDURES: dict[tuple[str, str], Procedure] = {}
_QUANTITIES: dict[str, Decimal] = {}
_CAS_VALUES: dict[tuple[str, ...], tuple[tuple[Adjustment, ...], int]] = {}


# The file's segments, numbered (the ISA is 1), as the reader walks them: one flat iterator.
Numbered = Iterator[tuple[int, list[str]]]
TRUNCATED = "the file is truncated: it ends before its SE, GE or IEA"


# One call per claim on the reader's hot path: a flat dispatch over the claim's segment ids in
# local variables reads best whole and is what keeps the reader fast (see the module docstring).
def read_claim(  # noqa: C901, PLR0915
    clp: list[str], position: int, segments: Numbered, component: str
) -> tuple[Claim, int, int, list[str]]:
    """The claim whose CLP is at `position`, its segments read from `segments` up to the one
    that closes it: the claim, the sum of its PR adjustments, and the closing segment and its
    position (for the reader). The file's end inside a claim is its truncation.
    """
    charge = CENTS_CACHE.get(clp[3]) if len(clp) > 4 else None
    if charge is None:
        charge = _money(clp, 3, position)
    paid = CENTS_CACHE.get(clp[4]) if len(clp) > 4 else None
    if paid is None:
        paid = _money(clp, 4, position)
    # Tuples grown by concatenation: a claim or line has one or two of each, and building a
    # list to turn it into a tuple cost more.
    adjustments: tuple[Adjustment, ...] = ()
    people: tuple[Party, ...] = ()
    remarks: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    dates: tuple[DateValue, ...] = ()
    amounts: tuple[Amount, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    adjusted = patient = 0
    at, seg = position, clp
    for at, seg in segments:
        tag = seg[0]
        if tag == "SVC":
            break
        if tag == "CAS":
            found, total = _CAS_VALUES.get(tuple(seg)) or _cas(seg, at)
            adjustments += found
            adjusted += total
            if seg[1] == "PR":
                patient += total
        elif tag == "DTM":
            dates += (_DATE_VALUES.get(tuple(seg)) or _date(seg, at),)
        elif tag == "NM1":
            if len(seg) < 10:
                seg = seg + [""] * (10 - len(seg))
            people += (
                Party(entity=seg[1] or el.text(seg, 1, at), name=seg[3], first_name=seg[4] or None,
                      id_qualifier=seg[8] or None, id=seg[9] or None),
            )  # fmt: skip
        elif tag == "REF":
            references += (Reference(qualifier=el.text(seg, 1, at), value=el.text(seg, 2, at)),)
        elif tag == "AMT":
            amounts += (_AMOUNTS.get(tuple(seg)) or _amount(seg, at),)
        elif tag == "QTY":
            quantities += (_quantity(seg, at),)
        elif tag == "MOA":
            remarks += tuple(v for v in seg[3:8] if v)
        elif tag == "LQ":
            raise X835Error("is out of place: it follows an SVC", tag, at)
        elif tag not in ("MIA", "PER"):  # MIA (inpatient), PER*CX: nothing to post
            break  # the claim has no lines: this segment closes it
    else:
        raise X835Error(TRUNCATED, seg[0], at)
    lines: list[ServiceLine] = []
    while seg[0] == "SVC":
        line, line_adjusted, line_patient, at, seg = _line(seg, at, segments, component)
        lines.append(line)
        adjusted += line_adjusted
        patient += line_patient
    if charge - adjusted != paid:
        raise X835Error(
            f"the claim does not balance: CLP03 {el.dollars(charge)} less its claim and line"
            f" adjustments {el.dollars(adjusted)} is not CLP04 {el.dollars(paid)}",
            "CLP",
            position,
        )
    if len(clp) < 8 or not (clp[1] and clp[2] and clp[6] and clp[7]):
        for index in (1, 2, 6, 7):  # the first of them that is missing
            el.text(clp, index, position)
    # At most fifteen keywords: with more, CPython builds a dict for the call (CALL_FUNCTION_EX)
    # and the Struct costs several times as much. What most claims lack is added by `replace`.
    claim = Claim(
        patient_control_number=clp[1],
        status=clp[2],
        charge_cents=charge,
        paid_cents=paid,
        patient_responsibility_cents=(
            (CENTS_CACHE.get(clp[5]) if clp[5] else None) or _optional_money(clp, 5, position)
        ),
        filing_indicator=clp[6],
        payer_claim_number=clp[7],
        facility_code=(clp[8] or None) if len(clp) > 8 else None,
        frequency=(clp[9] or None) if len(clp) > 9 else None,
        adjustments=adjustments,
        people=people,
        references=references,
        dates=dates,
        lines=tuple(lines),
        position=position,
    )
    if remarks or amounts or quantities:
        claim = replace(claim, remark_codes=remarks, amounts=amounts, quantities=quantities)
    return claim, patient, at, seg


# A flat dispatch over the line's segment ids reads best whole (see the module docstring).
def _line(  # noqa: C901, PLR0915
    svc: list[str], position: int, segments: Numbered, component: str
) -> tuple[ServiceLine, int, int, int, list[str]]:
    """The line whose SVC is at `position`: the line, its CAS total and PR total, and the
    segment that closes it (the next SVC, or what closes the claim) and its position."""
    charge = CENTS_CACHE.get(svc[2]) if len(svc) > 3 else None
    if charge is None:
        charge = _money(svc, 2, position)
    paid = CENTS_CACHE.get(svc[3]) if len(svc) > 3 else None
    if paid is None:
        paid = _money(svc, 3, position)
    adjustments: tuple[Adjustment, ...] = ()
    dates: tuple[DateValue, ...] = ()
    references: tuple[Reference, ...] = ()
    amounts: tuple[Amount, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    remarks: tuple[str, ...] = ()
    control_number: str | None = None
    adjusted = patient = 0
    at, seg = position, svc
    for at, seg in segments:
        tag = seg[0]
        if tag == "CAS":
            found, total = _CAS_VALUES.get(tuple(seg)) or _cas(seg, at)
            adjustments += found
            adjusted += total
            if seg[1] == "PR":
                patient += total
        elif tag == "DTM":
            dates += (_DATE_VALUES.get(tuple(seg)) or _date(seg, at),)
        elif tag == "REF":
            if len(seg) > 2 and seg[1] and seg[2]:
                qualifier, value = seg[1], seg[2]
            else:
                qualifier, value = el.text(seg, 1, at), el.text(seg, 2, at)
            if qualifier != "6R":
                references += (Reference(qualifier=qualifier, value=value),)
            elif control_number is None:
                control_number = value
            else:
                raise X835Error("is a second REF*6R for one line", "REF", at)
        elif tag == "AMT":
            amounts += (_AMOUNTS.get(tuple(seg)) or _amount(seg, at),)
        elif tag == "LQ":
            if len(seg) > 2 and seg[1] and seg[2]:
                qualifier, code = seg[1], seg[2]
            else:
                qualifier, code = el.text(seg, 1, at), el.text(seg, 2, at)
            # HE: remark codes (RARC); another list (RX, NCPDP reject codes) keeps its name.
            remarks += (code if qualifier == "HE" else f"{qualifier}:{code}",)
        elif tag == "QTY":
            quantities += (_quantity(seg, at),)
        elif tag in CLAIM_TAGS and tag != "SVC":
            raise X835Error("is out of place: it belongs to the claim, before any SVC", tag, at)
        else:
            break  # the next SVC, or the segment that closes the claim
    else:
        raise X835Error(TRUNCATED, seg[0], at)
    if charge - adjusted != paid:
        raise X835Error(
            f"the line does not balance: SVC02 {el.dollars(charge)} less its adjustments"
            f" {el.dollars(adjusted)} is not SVC03 {el.dollars(paid)}",
            "SVC",
            position,
        )
    procedure = _PROCEDURES.get((component, svc[1])) or _procedure(svc, 1, position, component)
    units = _QUANTITIES.get(svc[5]) if len(svc) > 5 else None
    if units is None and len(svc) > 5:
        units = _units(svc, 5, position)
    # The elements most lines lack are added by `replace`: fewer keywords, a cheaper Struct.
    line = ServiceLine(
        procedure=procedure,
        charge_cents=charge,
        paid_cents=paid,
        units_paid=units,
        dates=dates,
        adjustments=adjustments,
        control_number=control_number,
        amounts=amounts,
        remark_codes=remarks,
        position=position,
    )
    if references or quantities or len(svc) > 6 or (len(svc) > 4 and svc[4]):
        line = replace(
            line,
            revenue_code=svc[4] or None,
            submitted_procedure=(
                _procedure(svc, 6, position, component) if len(svc) > 6 and svc[6] else None
            ),
            units_submitted=_units(svc, 7, position) if len(svc) > 7 else None,
            references=references,
            quantities=quantities,
        )
    return line, adjusted, patient, at, seg


def _money(seg: list[str], index: int, position: int) -> int:
    """el.money with the cache looked up first: most amounts in a file repeat."""
    amount = CENTS_CACHE.get(seg[index]) if len(seg) > index else None
    return el.money(seg, index, position) if amount is None else amount


def _optional_money(seg: list[str], index: int, position: int) -> int | None:
    return _money(seg, index, position) if len(seg) > index and seg[index] else None


def _cas(seg: list[str], position: int) -> tuple[tuple[Adjustment, ...], int]:
    """The CAS's adjustments (every triplet, signs kept) and their total; equal CAS segments
    (CO-45 of the same amount) share their values."""
    key = tuple(seg)
    found = _CAS_VALUES.get(key)
    if found is not None:
        return found
    group = seg[1] if len(seg) > 1 else ""
    if group not in ADJUSTMENT_GROUPS:
        raise el.refuse(seg, 1, position, "must be CO, PR, OA or PI")
    if len(seg) > _CAS_LAST + 1:
        raise X835Error("has more than six adjustments", "CAS", position)
    adjustments: list[Adjustment] = []
    total = 0
    for i in range(2, len(seg), 3):
        reason = seg[i]
        if not reason:
            if any(seg[i + 1 : i + 3]):
                raise el.refuse(seg, i, position, "is required with its amount")
            continue
        amount = _money(seg, i + 1, position)
        total += amount
        quantity = _units(seg, i + 2, position)
        adjustments.append(
            Adjustment(group=group, reason=reason, amount_cents=amount, quantity=quantity)
        )
    if not adjustments:
        raise el.refuse(seg, 2, position, "is required")
    return remember(_CAS_VALUES, key, (tuple(adjustments), total))


def _date(seg: list[str], position: int) -> DateValue:
    key = tuple(seg)
    value = _DATE_VALUES.get(key)
    if value is None:
        value = DateValue(qualifier=el.text(seg, 1, position), value=el.day(seg, 2, position))
        remember(_DATE_VALUES, key, value)
    return value


def _amount(seg: list[str], position: int) -> Amount:
    key = tuple(seg)
    value = _AMOUNTS.get(key)
    if value is None:
        value = Amount(qualifier=el.text(seg, 1, position), amount_cents=_money(seg, 2, position))
        remember(_AMOUNTS, key, value)
    return value


def _quantity(seg: list[str], position: int) -> Quantity:
    value = _units(seg, 2, position)
    if value is None:
        raise el.refuse(seg, 2, position, "is required")
    return Quantity(qualifier=el.text(seg, 1, position), value=value)


def _units(seg: list[str], index: int, position: int) -> Decimal | None:
    if len(seg) <= index or not seg[index]:
        return None
    value = _QUANTITIES.get(seg[index])
    if value is None:
        value = el.optional_quantity(seg, index, position)
        assert value is not None
        remember(_QUANTITIES, seg[index], value)
    return value


def _procedure(seg: list[str], index: int, position: int, component: str) -> Procedure:
    key = (component, seg[index] if len(seg) > index else "")
    value = _PROCEDURES.get(key)
    if value is not None:
        return value
    parts = el.text(seg, index, position).split(component)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise el.refuse(seg, index, position, "needs a qualifier and a procedure code")
    value = Procedure(
        qualifier=parts[0],
        code=parts[1],
        modifiers=tuple(m for m in parts[2:6] if m),
        description=parts[6] if len(parts) > 6 and parts[6] else None,
    )
    return remember(_PROCEDURES, key, value)
