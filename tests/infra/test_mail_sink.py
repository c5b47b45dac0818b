"""The local SMTP sink: what arrives over SMTP is filed and shown over HTTP, per recipient."""

from __future__ import annotations

import base64
import smtplib
import socket
from email.message import EmailMessage

import httpx
import msgspec

from infra.mail.__main__ import _listen
from services.core import mail
from services.core.settings import Settings
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture


def _send(sink: MailSink, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "Hearth <no-reply@hearth.test>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"about {subject}")
    with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


def test_messages_are_shown_per_recipient_and_can_be_cleared(
    mail_sink: MailSink,  # noqa: F811
) -> None:
    _send(mail_sink, "Ada@Sink.test", "first")
    _send(mail_sink, "grace@sink.test", "second")
    [ada] = mail_sink.messages("ada@sink.test")
    assert ada["subject"] == "first"
    assert ada["attachments"] == []
    assert ada["body"].strip() == "about first"
    assert ada["to"] == ["ada@sink.test"]
    assert [m["subject"] for m in mail_sink.messages("grace@sink.test")] == ["second"]
    assert httpx.delete(f"{mail_sink.http_url}/messages", timeout=5).status_code == 204
    assert mail_sink.messages("ada@sink.test") == []


def test_listening_sockets_say_tcp_so_asyncio_sets_nodelay() -> None:
    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_an_attachment_is_sent_and_shown_with_its_content(
    settings: Settings,
    mail_sink: MailSink,  # noqa: F811
) -> None:
    sink = msgspec.structs.replace(settings, smtp_port=mail_sink.smtp_port)
    pdf = b"%PDF-1.3 not really\n%%EOF"
    await mail.send(
        sink,
        mail.OutgoingEmail(
            to="attach@sink.test", subject="with a file", body="see attached",
            attachments=(mail.Attachment(filename="a.pdf", content_type="application/pdf",
                                         data=pdf),),
        ),
    )  # fmt: skip
    [message] = mail_sink.messages("attach@sink.test")
    assert message["body"].strip() == "see attached"
    [attached] = message["attachments"]
    assert (attached["filename"], attached["content_type"], attached["size"]) == (
        "a.pdf",
        "application/pdf",
        len(pdf),
    )
    assert base64.b64decode(attached["data_base64"]) == pdf
