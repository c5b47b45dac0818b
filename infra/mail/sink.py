"""The sink's two faces: an SMTP handler that files each message, and an HTTP app to read them.

Messages are files (`<dir>/<seq>.json`: envelope and raw text), so they survive a restart and
can be read without the HTTP side. Like the simulators, it shares no code with services/.
"""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime
from email import message_from_string
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from litestar import Litestar, delete, get


class Mailbox:
    """Received messages, one JSON file each, numbered in arrival order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        last = max((int(p.stem) for p in directory.glob("*.json")), default=0)
        self._seq = itertools.count(last + 1)

    def store(self, mail_from: str, rcpt_tos: list[str], data: str) -> int:
        number = next(self._seq)
        record = {
            "id": number,
            "from": mail_from,
            "to": [r.lower() for r in rcpt_tos],
            "received_at": datetime.now(UTC).isoformat(),
            "data": data,
        }
        tmp = self.directory / f"{number:08d}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(self.directory / f"{number:08d}.json")  # readers never see half a message
        return number

    def messages(self, to: str | None) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.directory.glob("*.json")):
            record = json.loads(path.read_text())
            if to is not None and to.lower() not in record["to"]:
                continue
            message = message_from_string(record["data"], policy=default)
            body = message.get_body(preferencelist=("plain",))
            out.append(
                {
                    "id": record["id"],
                    "from": record["from"],
                    "to": record["to"],
                    "received_at": record["received_at"],
                    "subject": str(message["subject"] or ""),
                    "body": body.get_content() if body is not None else "",
                    "attachments": _attachments(message),
                }
            )
        return out

    def clear(self) -> None:
        for path in self.directory.glob("*.json"):
            path.unlink(missing_ok=True)


def _attachments(message: EmailMessage) -> list[dict[str, Any]]:
    """Each attached file: its name, type, size and content (base64, as JSON carries bytes)."""
    found = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        found.append(
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(data),
                "data_base64": base64.b64encode(data).decode(),
            }
        )
    return found


class Handler:
    """aiosmtpd handler: accept every recipient, file every message."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        self.mailbox.store(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], text)
        return "250 Message accepted for delivery"


def build_http(mailbox: Mailbox) -> Litestar:
    @get("/messages")
    async def list_messages(to: str | None = None) -> list[dict[str, Any]]:
        """Messages received, oldest first; `to` keeps those sent to that address."""
        return mailbox.messages(to)

    @delete("/messages", status_code=204)
    async def clear_messages() -> None:
        """Forget every message (tests reset the sink between tests)."""
        mailbox.clear()

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar([list_messages, clear_messages, health], openapi_config=None)
