"""Outgoing email over SMTP. Only jobs send (never a request): see the outbox."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage

import asyncpg
import msgspec

from services.core import outbox
from services.core.db import transaction
from services.core.settings import Settings


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A file sent with a message (a superbill's PDF); content_type is `maintype/subtype`."""

    filename: str
    content_type: str
    data: bytes


class OutgoingEmail(msgspec.Struct, frozen=True, kw_only=True):
    to: str
    subject: str
    body: str
    # Made by the job when it sends (never queued: payloads carry ids only).
    attachments: tuple[Attachment, ...] = ()


class MailUnavailable(Exception):
    """The SMTP server refused or could not be reached: transient, the job tries again later."""


class RecipientRefused(Exception):
    """The server refused the address itself: sending again would not help."""


def _message(settings: Settings, email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message.set_content(email.body)
    for attachment in email.attachments:
        # The plain-text body stays the first part: a reader without the file still reads it.
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
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
    """Deliver one message; RecipientRefused when the address is refused, MailUnavailable on
    any other SMTP or network failure."""
    try:
        # smtplib blocks: a thread keeps the worker's event loop free.
        await asyncio.to_thread(_send, settings, _message(settings, email))
    except smtplib.SMTPRecipientsRefused as exc:
        raise RecipientRefused(_describe(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise MailUnavailable(_describe(exc)) from exc


def _describe(exc: Exception) -> str:
    # The class and SMTP code only: an exception's text may quote the recipient's address,
    # and this ends up in the outbox row and the logs.
    code = getattr(exc, "smtp_code", None) or getattr(exc, "errno", None)
    return type(exc).__name__ + (f" ({code})" if code is not None else "")


async def send_queued(
    pool: asyncpg.Pool,
    settings: Settings,
    outbox_id: int,
    prepare: Callable[[asyncpg.Connection], Awaitable[OutgoingEmail | None]],
    retry_in: timedelta,
    *,
    sent: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> str:
    """One outbox row's email: `prepare` reads it in a transaction (None: nothing to send, and
    it completed the row); the SMTP call holds no transaction or lock; the row is completed
    once sent (with `sent`'s writes, in that transaction), or put back for `retry_in` while
    the server is unavailable."""
    async with transaction(pool) as conn:
        message = await prepare(conn)
    if message is None:
        return "nothing to send"
    try:
        await send(settings, message)
    except MailUnavailable as exc:
        async with transaction(pool) as conn:
            await outbox.record_failure(conn, outbox_id, str(exc), retry_in)
        return "mail server unavailable; retrying later"
    except RecipientRefused:
        # A bad address stays bad: the row is done (a corrected address gets the next one).
        async with transaction(pool) as conn:
            await outbox.complete(conn, outbox_id)
        return "recipient refused"
    async with transaction(pool) as conn:
        if sent is not None:
            await sent(conn)
        await outbox.complete(conn, outbox_id)
    return "sent"
