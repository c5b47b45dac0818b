"""Eligibility X12 for 005010X279A1: the 270 Hearth writes and the 271 it reads (pure)."""

from schemas.eligibility import Benefits
from services.core.x12 import X12Error
from services.eligibility.x12.benefits import build_benefits
from services.eligibility.x12.x270 import (
    Payer270,
    Person270,
    Receiver270,
    Relationship,
    Request270,
    Sex,
    envelope_270,
    relationship_from_ins02,
    relationship_to_ins02,
    write_270,
)
from services.eligibility.x12.x271 import TRANSIENT_AAA, TraceMismatch, find_answer


def parse_271(text: str, expected_trace: str) -> Benefits:
    """The benefits a 271 gives for our trace; TraceMismatch when it does not answer it."""
    return build_benefits(find_answer(text, expected_trace))


__all__ = [
    "TRANSIENT_AAA",
    "Payer270",
    "Person270",
    "Receiver270",
    "Relationship",
    "Request270",
    "Sex",
    "TraceMismatch",
    "X12Error",
    "envelope_270",
    "parse_271",
    "relationship_from_ins02",
    "relationship_to_ins02",
    "write_270",
]
