"""one_write_transport: a request's head and body leave in one write, answers read as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore
import httpx

from services.clearinghouse.transport import one_write_transport


class _Counting(httpcore.AsyncNetworkBackend):
    """The real network backend, counting the writes that reach a socket."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self.backend = backend
        self.writes: list[bytes] = []

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        stream = await self.backend.connect_tcp(*args, **kwargs)
        writes = self.writes

        class Stream(httpcore.AsyncNetworkStream):
            async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
                return await stream.read(max_bytes, timeout)

            async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
                if buffer:  # httpcore also hands over empty ones, which send nothing
                    writes.append(buffer)
                await stream.write(buffer, timeout)

            async def aclose(self) -> None:
                await stream.aclose()

        return Stream()


async def _echo_server() -> tuple[asyncio.Server, int, list[bytes]]:
    """An HTTP/1.1 server answering each request with its body's length, keep-alive."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the client closed its connection
                writer.close()
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            received.append(head + body)
            answer = str(len(body)).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], received


def _counted(transport: httpx.AsyncHTTPTransport) -> _Counting:
    pool: Any = transport._pool
    backend = pool._network_backend
    # Under the one-write wrapper when there is one: count what reaches the socket.
    inner = getattr(backend, "_backend", None)
    counting = _Counting(inner or backend)
    if inner is not None:
        backend._backend = counting
    else:
        pool._network_backend = counting
    return counting


async def test_a_request_leaves_in_one_write_and_its_answer_is_read() -> None:
    server, port, received = await _echo_server()
    async with server:
        one = one_write_transport()
        plain = httpx.AsyncHTTPTransport()
        counts = {"one": _counted(one), "plain": _counted(plain)}
        for transport in (one, plain):
            async with httpx.AsyncClient(transport=transport) as http:
                for size in (10, 70_000):  # a small body and one past a socket buffer
                    body = b"x" * size
                    answer = await http.post(f"http://127.0.0.1:{port}/core", content=body)
                    assert answer.status_code == 200
                    assert answer.text == str(size)
                    assert received[-1].endswith(b"\r\n\r\n" + body)
                answer = await http.get(f"http://127.0.0.1:{port}/")
                assert answer.text == "0"
        # httpx's own transport writes a request's head and body separately.
        assert len(counts["plain"].writes) == 5
        assert len(counts["one"].writes) == 3


def test_http2_is_refused() -> None:
    try:
        one_write_transport(http2=True)
    except ValueError:
        return
    raise AssertionError("http2=True was accepted")
