"""The coding rules a completion must pass before it can become a claim (no I/O).

DESIGN.md "Validation rules that real payers enforce". Each refusal names its rule (the
problem's `code`) and the field; the rules that need the database (credentialing, policy,
prior authorization, timely filing) are in completion.py.
"""

from __future__ import annotations

import re
from typing import Final

from schemas.therapy_sessions import CompleteSessionIn
from services.therapy_sessions.errors import CompletionRefused

# Psychotherapy time ranges in minutes, inclusive; None: no upper bound.
TIME_BASED: Final[dict[str, tuple[int, int | None]]] = {
    "90832": (16, 37),
    "90834": (38, 52),
    "90837": (53, None),
}
# Other primary codes: the intake (no time rule) and family psychotherapy (26 minutes or more).
OTHER_PRIMARY: Final[dict[str, tuple[int, int | None]]] = {
    "90791": (1, None),
    "90846": (26, None),
    "90847": (26, None),
}
PRIMARY: Final = TIME_BASED | OTHER_PRIMARY
# Add-on codes: reported only beside a primary code (90785 interactive complexity).
ADD_ONS: Final = frozenset({"90785"})
TELEHEALTH: Final = frozenset({"02", "10"})
TELEHEALTH_MODIFIERS: Final = frozenset({"95", "93", "GT"})
# Letter, digit, alphanumeric, then up to four alphanumerics; the dot (after the third
# character) is how people write it, and is not sent.
_ICD10: Final = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")


def _refuse(rule: str, message: str, field: str) -> CompletionRefused:
    return CompletionRefused(message, code=rule, field=field)


def diagnoses(codes: list[str]) -> list[str]:
    """The ICD-10-CM codes, format-checked, without their dots."""
    if not 1 <= len(codes) <= 12:
        raise _refuse(
            "diagnosis_count",
            f"a claim carries 1 to 12 diagnoses, not {len(codes)}",
            "diagnosis_codes",
        )
    for n, code in enumerate(codes):
        if not _ICD10.match(code):
            raise _refuse(
                "icd10_format",
                "an ICD-10-CM code is a letter, a digit, a letter or digit, then up to four "
                "more (e.g. F41.1)",
                f"diagnosis_codes[{n}]",
            )
    plain = [code.replace(".", "") for code in codes]
    if len(set(plain)) != len(plain):
        raise _refuse("diagnosis_repeated", "each diagnosis is listed once", "diagnosis_codes")
    return plain


def _codes(data: CompleteSessionIn) -> None:
    """Known codes; one primary (so one time-based code), add-ons only beside it."""
    primaries = [n for n, line in enumerate(data.lines) if line.cpt_code in PRIMARY]
    for n, line in enumerate(data.lines):
        if line.cpt_code not in PRIMARY and line.cpt_code not in ADD_ONS:
            raise _refuse(
                "cpt_code_unknown",
                f"{line.cpt_code} is not a psychotherapy code the platform bills",
                f"lines[{n}].cpt_code",
            )
    if not primaries:
        raise _refuse(
            "add_on_without_primary",
            "an add-on code is billed only with a primary code",
            "lines[0].cpt_code",
        )
    if len(primaries) > 1:
        raise _refuse(
            "one_primary_code",
            "a session bills one primary (time-based, intake or family) code",
            f"lines[{primaries[1]}].cpt_code",
        )
    if primaries[0] != 0:
        raise _refuse(
            "add_on_without_primary",
            "the primary code is the first line; add-ons follow it",
            "lines[0].cpt_code",
        )
    codes = [line.cpt_code for line in data.lines]
    if len(set(codes)) != len(codes):
        raise _refuse("cpt_code_repeated", "each code is billed once", "lines")


def _time(data: CompleteSessionIn) -> None:
    code = data.lines[0].cpt_code
    low, high = PRIMARY[code]
    minutes = data.duration_minutes
    if minutes < low or (high is not None and minutes > high):
        span = f"{low}+" if high is None else f"{low}-{high}"
        raise _refuse(
            "cpt_time_range",
            f"{code} is billed for {span} minutes, not {minutes}",
            "lines[0].cpt_code",
        )


def _pointers(data: CompleteSessionIn, count: int) -> None:
    for n, line in enumerate(data.lines):
        if len(set(line.diagnosis_pointers)) != len(line.diagnosis_pointers):
            raise _refuse(
                "diagnosis_pointer", "a line points at a diagnosis once",
                f"lines[{n}].diagnosis_pointers",
            )  # fmt: skip
        for pointer in line.diagnosis_pointers:
            if pointer > count:
                raise _refuse(
                    "diagnosis_pointer",
                    f"pointer {pointer} names no diagnosis (there are {count})",
                    f"lines[{n}].diagnosis_pointers",
                )


def _telehealth(data: CompleteSessionIn, modifier: str | None) -> None:
    """Telehealth lines carry the payer's modifier (when it wants one); office lines none."""
    remote = data.place_of_service in TELEHEALTH
    for n, line in enumerate(data.lines):
        given = TELEHEALTH_MODIFIERS.intersection(line.modifiers)
        if remote and modifier is not None and given != {modifier}:
            raise _refuse(
                "telehealth_modifier",
                f"the payer wants modifier {modifier} on telehealth lines",
                f"lines[{n}].modifiers",
            )
        if given and not (remote and modifier is not None):
            raise _refuse(
                "telehealth_modifier",
                "a telehealth modifier is only for a telehealth session whose payer wants it",
                f"lines[{n}].modifiers",
            )
        if len(set(line.modifiers)) != len(line.modifiers):
            raise _refuse(
                "modifier_repeated", "each modifier is given once", f"lines[{n}].modifiers"
            )


def check_coding(data: CompleteSessionIn, telehealth_modifier: str | None) -> list[str]:
    """Every coding rule, in order; the diagnoses as they are stored (no dots)."""
    if not data.note_attested:
        raise _refuse(
            "note_not_attested", "the provider attests the session's note", "note_attested"
        )
    _codes(data)
    _time(data)
    codes = diagnoses(data.diagnosis_codes)
    _pointers(data, len(codes))
    _telehealth(data, telehealth_modifier)
    return codes
