"""The local SMTP sink: what arrives over SMTP is filed and shown over HTTP, per recipient."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

import httpx

from infra.mail.__main__ import _listen
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
