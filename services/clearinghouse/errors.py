"""What the clearinghouse boundary raises; each carries its HTTP status for the API."""

from __future__ import annotations

from services.core.errors import DomainError, ServiceUnavailable


class ClearinghouseUnavailable(ServiceUnavailable):
    """The clearinghouse did not answer (refused, timed out or 5xx) within the deadline."""

    code = "clearinghouse_unavailable"


class ClearinghouseError(DomainError):
    """The clearinghouse answered, but not with what we asked for (never retried)."""

    status, code, title = 502, "clearinghouse_error", "Bad gateway"


class EnvelopeRejected(ClearinghouseError):
    """A CoreEnvelopeError (or a non-Success ErrorCode): our envelope was refused."""

    code = "clearinghouse_envelope_rejected"

    def __init__(self, error_code: str, error_message: str) -> None:
        super().__init__(f"the clearinghouse refused the envelope: {error_code}: {error_message}")
        self.error_code = error_code
        self.error_message = error_message
