"""Refusals of the ops domain."""

from __future__ import annotations

from services.core.errors import DomainError, NotFound


class DigestNotFound(NotFound):
    code = "ops_digest_not_found"


class BadDigestDay(DomainError):
    """A day outside what a digest can cover (before 2000, or not yet over)."""

    code = "bad_digest_day"
