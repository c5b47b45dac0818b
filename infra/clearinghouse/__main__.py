"""`python -m infra.clearinghouse --host 127.0.0.1 --port N` (port 0: any free port).

The first stdout line is `listening on http://HOST:PORT`, printed once the socket is bound.
"""

from __future__ import annotations

import argparse
import socket
import sys
from datetime import date

import uvicorn

from infra.clearinghouse.server import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.clearinghouse")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="date for 270s without DTP*291 (default: the clock's)")  # fmt: skip
    parser.add_argument("--payment-delay", type=float, default=0.0, metavar="SECONDS",
                        help="pay claims adjudicated this long ago (default 0)")  # fmt: skip
    args = parser.parse_args(argv)
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it every keep-alive answer waited ~40 ms on the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    print(f"listening on http://{args.host}:{port}", flush=True)
    # uvloop and httptools, as the API runs: in the API benchmark this process shares the
    # machine's cores with the API, so its CPU per answer counts against every check.
    # Server.run, not asyncio.run(serve()): only run() installs the configured loop.
    config = uvicorn.Config(build(args.today, args.payment_delay), loop="uvloop", http="httptools",
                            log_level="warning", access_log=False)  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
