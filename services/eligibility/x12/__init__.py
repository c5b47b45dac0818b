"""Eligibility X12 for 005010X279A1: the 270 Hearth writes and the 271 it reads (pure)."""

from services.eligibility.x12.x270 import (
    Payer270,
    Person270,
    Receiver270,
    Relationship,
    Request270,
    envelope_270,
    relationship_from_ins02,
    relationship_to_ins02,
    write_270,
)

__all__ = [
    "Payer270",
    "Person270",
    "Receiver270",
    "Relationship",
    "Request270",
    "envelope_270",
    "relationship_from_ins02",
    "relationship_to_ins02",
    "write_270",
]
