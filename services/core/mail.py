"""Outgoing email over SMTP. Only jobs send (never a request): see the outbox."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import msgspec

from services.core.settings import Settings


class OutgoingEmail(msgspec.Struct, frozen=True, kw_only=True):
    to: str
    subject: str
    body: str


class MailUnavailable(Exception):
    """The SMTP server refused or could not be reached: transient, the job tries again later."""


def _message(settings: Settings, email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message.set_content(email.body)
    return message


def _send(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)


async def send(settings: Settings, email: OutgoingEmail) -> None:
    """Deliver one message; raises MailUnavailable on any SMTP or network failure."""
    try:
        # smtplib blocks: a thread keeps the worker's event loop free.
        await asyncio.to_thread(_send, settings, _message(settings, email))
    except (smtplib.SMTPException, OSError) as exc:
        raise MailUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc
