"""`python -m infra.mail --smtp-port N --http-port M --dir .data/mail` (port 0: any free port).

The first stdout line is `listening on smtp://HOST:SMTP http://HOST:HTTP`, printed once both
sockets are bound.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path

import uvicorn
from aiosmtpd.smtp import SMTP

from infra.mail.sink import Handler, Mailbox, build_http


def _listen(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP (see the clearinghouse simulator: keep-alive answers otherwise wait on delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def serve(
    host: str, smtp_sock: socket.socket, http_sock: socket.socket, mailbox: Mailbox
) -> None:
    handler = Handler(mailbox)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(handler, hostname="hearth-mail-sink", loop=loop), sock=smtp_sock
    )
    config = uvicorn.Config(build_http(mailbox), log_level="warning", access_log=False)
    try:
        await uvicorn.Server(config).serve(sockets=[http_sock])
    finally:
        smtp.close()
        await smtp.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.mail")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path(".data/mail"))
    args = parser.parse_args(argv)
    smtp_sock = _listen(args.host, args.smtp_port)
    http_sock = _listen(args.host, args.http_port)
    smtp_port, http_port = smtp_sock.getsockname()[1], http_sock.getsockname()[1]
    print(f"listening on smtp://{args.host}:{smtp_port} http://{args.host}:{http_port}", flush=True)
    asyncio.run(serve(args.host, smtp_sock, http_sock, Mailbox(args.dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
