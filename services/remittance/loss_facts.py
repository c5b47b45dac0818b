"""The facts a loss is decided on (recoupment.py), from the claim the posting matched.

The claim match query (queries/posting.py) reads them with the claim, in the same statement:
one round trip per claim, or per payment once matches are fetched in bulk. A fact the match
could not establish stays None, and a condition that reads it never recoups (ops are told).
"""

from __future__ import annotations

from schemas.recoupment import LossFacts
from services.remittance.queries.posting import ClaimMatch
from services.remittance.recoupment import confirmed_late


def loss_facts(match: ClaimMatch) -> LossFacts:
    """Whether an authorization was recorded, the session confirmed late (with less than the
    platform's margin left of the payer's filing window), the provider's licence lapsed."""
    late = None
    if match.confirmed_on is not None:
        late = confirmed_late(match.service_date, match.confirmed_on, match.timely_filing_days)
    return LossFacts(
        authorization_recorded=match.authorization_recorded,
        confirmed_late=late,
        licence_lapsed=match.licence_lapsed,
    )
