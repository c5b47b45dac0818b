"""An httpx transport that sends each HTTP/1.1 request in one write.

httpcore writes a request's head and its body separately: two system calls, and the receiver
wakes twice (reads the head, then the body). Here the writes wait until the connection next
reads (a request is always written whole before its answer is read) and go out as one buffer.
Everything else is httpx's own transport: pool, keep-alive, timeouts, TLS.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

SocketOption = Any  # httpcore's SOCKET_OPTION, not exported
# (`timeout` parameters below: httpcore's signatures, hence the noqa ASYNC109)


class _OneWriteStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._timeout: float | None = None

    async def _flush(self) -> None:
        if self._pending:
            buffer = b"".join(self._pending)
            self._pending.clear()
            await self._stream.write(buffer, timeout=self._timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if buffer:
            self._pending.append(buffer)
            self._timeout = timeout

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        await self._flush()
        return await self._stream.read(max_bytes, timeout=timeout)

    async def aclose(self) -> None:
        self._pending.clear()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _OneWriteStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _OneWriteBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _OneWriteStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _OneWriteStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def one_write_transport(**options: Any) -> httpx.AsyncHTTPTransport:
    """httpx.AsyncHTTPTransport(**options) (HTTP/1.1 only) whose requests go out in one write."""
    if options.get("http2"):
        raise ValueError("one_write_transport is for HTTP/1.1")
    transport = httpx.AsyncHTTPTransport(**options)
    pool = transport._pool
    # httpcore takes a network backend only when the pool is built, which httpx does itself.
    pool._network_backend = _OneWriteBackend(pool._network_backend)
    return transport
