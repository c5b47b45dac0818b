"""`python -m infra.stripe --host 127.0.0.1 --port N` (port 0: any free port).

The first stdout line is `listening on http://HOST:PORT`, printed once the socket is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys

import uvloop
from aiohttp import web
from aiohttp.web_runner import GracefulExit

from infra.stripe.server import build
from infra.stripe.state import DEFAULT_AVAILABLE_DELAY_S, Config
from infra.stripe.webhooks import Endpoint

# The development webhook signing secrets (the account endpoint's and the Connect endpoint's),
# shared with Hearth's settings defaults (the simulator imports nothing from services/);
# production refuses them there.
DEV_WEBHOOK_SECRET = "whsec_hearth_development_only_0123456789"
DEV_CONNECT_WEBHOOK_SECRET = "whsec_hearth_connect_development_only_0123456789"
WEBHOOK_PATH = "/webhooks/stripe"


def _endpoints(args: argparse.Namespace) -> list[Endpoint]:
    """Two endpoints per URL, as a Connect platform has in Stripe: the account endpoint (the
    platform's events) and the Connect endpoint (connected accounts' events), each with its
    secret."""
    urls = list(args.webhook)
    if args.webhook_to_api and os.environ.get("HEARTH_API_URL"):
        urls.append(os.environ["HEARTH_API_URL"].rstrip("/") + WEBHOOK_PATH)
    secret = (
        args.webhook_secret
        or os.environ.get("HEARTH_STRIPE_WEBHOOK_SECRET")
        or (DEV_WEBHOOK_SECRET)
    )
    connect_secret = (
        args.connect_webhook_secret
        or os.environ.get("HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET")
        or DEV_CONNECT_WEBHOOK_SECRET
    )
    return [endpoint for n, url in enumerate(urls) for endpoint in (
        Endpoint(f"we_startup{n}", url, secret, None, from_startup=True),
        Endpoint(f"we_startup{n}_connect", url, connect_secret, None, from_startup=True,
                 connect=True),
    )]  # fmt: skip


async def serve(sock: socket.socket, config: Config, endpoints: list[Endpoint]) -> None:
    _, app = build(config, endpoints)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.stripe")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--available-delay", type=int, default=DEFAULT_AVAILABLE_DELAY_S,
                        metavar="SECONDS", help="a charge's funds stay pending this long "
                        "(simulator clock; default two days)")  # fmt: skip
    parser.add_argument("--topup-delay", type=int, default=0, metavar="SECONDS")
    parser.add_argument("--webhook", action="append", default=[], metavar="URL",
                        help="deliver every event to URL: an account and a Connect endpoint "
                        "(repeatable)")  # fmt: skip
    parser.add_argument("--webhook-to-api", action="store_true",
                        help=f"also to $HEARTH_API_URL{WEBHOOK_PATH} (make run)")  # fmt: skip
    parser.add_argument("--webhook-secret", default=None,
                        help="signing secret (default: $HEARTH_STRIPE_WEBHOOK_SECRET, else the "
                        "development secret)")  # fmt: skip
    parser.add_argument("--connect-webhook-secret", default=None,
                        help="the Connect endpoint's signing secret, for connected accounts' "
                        "events (default: $HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET, else the "
                        "development one)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = Config(available_delay_s=args.available_delay, topup_delay_s=args.topup_delay)
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP (see the clearinghouse simulator: keep-alive answers otherwise wait on delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    print(f"listening on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt, GracefulExit):  # SIGINT or SIGTERM: a clean stop
        uvloop.run(serve(sock, config, _endpoints(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
