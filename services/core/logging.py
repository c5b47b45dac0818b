"""JSON logs carrying the request id; nothing here ever logs a body or a query string."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Only these LogRecord extras are copied into the JSON line: an allow-list keeps PHI out even
# when a caller passes something it should not.
_EXTRA_FIELDS = (
    "method", "route", "status", "duration_ms", "migration", "job", "job_id", "outcome",
    "user_id", "role", "count", "error_code",
    # The clearinghouse's own error text and our PayloadID; an X12 error's segment, not value.
    "error_message", "payload_id", "x12_at",
)  # fmt: skip


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in _EXTRA_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where, not the message: exception text can quote PHI values.
            line["exc_type"] = record.exc_info[0].__name__
            line["traceback"] = self.formatStack(self._frames(record))
        return json.dumps(line, default=str)

    @staticmethod
    def _frames(record: logging.LogRecord) -> str:
        import traceback

        tb = record.exc_info[2] if record.exc_info else None
        return "".join(traceback.format_tb(tb))


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # Taken when the record is made, in the request's own context.
    record = _base_factory(*args, **kwargs)
    record.request_id = current_request_id()
    return record


def configure_logging(level: str = "INFO") -> None:
    logging.setLogRecordFactory(_record_with_request_id)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints the raw path and query string; ours prints the route template.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every URL it calls at INFO, query strings included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "arq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
