"""The clearinghouse adapter and its CORE-over-HTTP implementation (httpx).

Only transient failures are retried: connection errors, timeouts and HTTP 5xx, with jittered
exponential backoff under one overall deadline. Every retry sends the SAME PayloadID, so a
receiver that did process an attempt whose answer we lost answers the retry with that first
answer instead of processing it twice. An envelope refusal or any other answer is final.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx

from services.clearinghouse.caqh_core import (
    BATCH,
    NO_ACK_FILE,
    NO_RESULTS_FILE,
    PAYLOAD_277,
    PAYLOAD_835,
    PAYLOAD_837,
    PAYLOAD_999,
    PAYLOAD_TA1,
    REALTIME,
    RECEIPT,
    REQUEST_835,
    RETRIEVE_277,
    RETRIEVE_999,
    CoreProtocolError,
    CoreResponse,
    Credentials,
    encode_multipart,
    parse_response,
    request_fields,
)
from services.clearinghouse.errors import (
    ClearinghouseError,
    ClearinghouseUnavailable,
    EnvelopeRejected,
)
from services.core import clock
from services.core.settings import Settings

# The batch PayloadTypes and the answer type are part of the adapter's surface: domains reach
# the clearinghouse through this module (the import contracts), never caqh_core.
__all__ = [
    "NO_ACK_FILE",
    "NO_RESULTS_FILE",
    "PAYLOAD_277",
    "PAYLOAD_835",
    "PAYLOAD_837",
    "PAYLOAD_999",
    "PAYLOAD_TA1",
    "RECEIPT",
    "REQUEST_835",
    "RETRIEVE_277",
    "RETRIEVE_999",
    "ClearinghouseAdapter",
    "CoreHttpClient",
    "CoreResponse",
]

log = logging.getLogger(__name__)

# The headers an httpx.AsyncClient sends by default, which this client sent before it called
# the transport directly: the clearinghouse sees the same request as before.
_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}

# Connection refused or reset, a timeout, a dropped connection: the request may be retried.
_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class ClearinghouseAdapter(Protocol):
    """A way to reach the clearinghouse, real time and batch (CORE HTTP MIME today; REST later)."""

    async def realtime(
        self, payload_type: str, payload: str, *, payload_id: uuid.UUID | None = None
    ) -> str:
        """Send one payload (a 270, say) and return the answer's payload (the 271).

        `payload_id` names the exchange; every retry of it reuses the same one.
        """
        ...

    async def batch(
        self, payload_type: str, payload: str, *, payload_id: uuid.UUID
    ) -> CoreResponse:
        """Send one batch request (an 837P, a 999 or 277CA retrieval); the whole answer.

        An envelope error comes back as an answer (the caller stores it), not as an exception.
        """
        ...

    async def next_835(self, cursor: str, *, payload_id: uuid.UUID) -> CoreResponse:
        """The next 835 after `cursor` ("0", or the ISA13 of the last 835 we hold): PAYLOAD_835,
        or NO_RESULTS_FILE when there is none; envelope errors come back as answers."""
        ...


class CoreHttpClient:
    """CAQH CORE Phase II HTTP MIME over an httpx transport (a shared one, or its own)."""

    def __init__(
        self,
        *,
        url: str,
        credentials: Credentials,
        timeout_s: float,
        deadline_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 4.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = httpx.URL(url)
        self.credentials = credentials
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._owns_transport = transport is None
        # A transport, not an AsyncClient: one POST to one URL needs none of the client's
        # cookie jar, auth, redirect or event-hook layers, which cost about 0.12 ms of CPU a
        # call (a sixth of the call) on every benefit check.
        self._transport = transport or httpx.AsyncHTTPTransport()

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> CoreHttpClient:
        return cls(
            url=settings.clearinghouse_url,
            credentials=Credentials(
                username=settings.clearinghouse_username,
                password=settings.clearinghouse_password,
                sender_id=settings.clearinghouse_sender_id,
                receiver_id=settings.clearinghouse_receiver_id,
            ),
            timeout_s=settings.clearinghouse_timeout_s,
            deadline_s=settings.clearinghouse_deadline_s,
            transport=transport,
        )

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()

    async def realtime(
        self, payload_type: str, payload: str, *, payload_id: uuid.UUID | None = None
    ) -> str:
        """The answer's payload; ClearinghouseUnavailable when it stays down until the deadline."""
        answer = await self._exchange(payload_type, payload, payload_id or uuid.uuid4(), REALTIME)
        if answer.is_envelope_error:
            raise EnvelopeRejected(answer.error_code, answer.error_message)
        return answer.payload

    async def batch(
        self, payload_type: str, payload: str, *, payload_id: uuid.UUID
    ) -> CoreResponse:
        """The whole answer, envelope errors included; ClearinghouseUnavailable as realtime."""
        return await self._exchange(payload_type, payload, payload_id, BATCH)

    async def next_835(self, cursor: str, *, payload_id: uuid.UUID) -> CoreResponse:
        """A batch retrieval of the next 835: one PayloadID per request (the caller's, new each
        time: a repeated one gets its first answer), the same one across its retries."""
        return await self.batch(REQUEST_835, cursor, payload_id=payload_id)

    async def _exchange(
        self, payload_type: str, payload: str, payload_id: uuid.UUID, mode: str
    ) -> CoreResponse:
        fields = request_fields(
            payload_type=payload_type,
            payload=payload,
            payload_id=payload_id,
            now=clock.now(),
            credentials=self.credentials,
            processing_mode=mode,
        )
        body, content_type = encode_multipart(fields, f"hearth-{uuid.uuid4().hex}")
        answer = await self._post_until_deadline(body, content_type, payload_id)
        if not answer.is_envelope_error and answer.payload_id != str(payload_id):
            raise ClearinghouseError(f"the answer names PayloadID {answer.payload_id!r}, not ours")
        return answer

    async def _post_until_deadline(
        self, body: bytes, content_type: str, payload_id: uuid.UUID
    ) -> CoreResponse:
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            reason = await self._attempt(body, content_type, min(self.timeout_s, remaining))
            if isinstance(reason, CoreResponse):
                return reason
            # Full jitter over an exponential ceiling keeps many workers from retrying in step.
            ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
            pause = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not secrets)
            log.warning(
                "clearinghouse attempt failed",
                extra={"payload_id": str(payload_id), "attempt": attempt, "reason": reason},
            )
            if time.monotonic() + pause >= deadline:
                raise ClearinghouseUnavailable(
                    f"the clearinghouse did not answer within {self.deadline_s:g} s "
                    f"({attempt} attempts; last: {reason})"
                )
            await self._sleep(pause)

    async def _attempt(
        self, body: bytes, content_type: str, attempt_s: float
    ) -> CoreResponse | str:
        """The answer, or why this attempt failed transiently (a string)."""
        request = httpx.Request(
            "POST",
            self.url,
            content=body,
            headers={**_HEADERS, "Content-Type": content_type},
            extensions={"timeout": httpx.Timeout(max(attempt_s, 0.001)).as_dict()},
        )
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except _TRANSIENT_ERRORS as exc:
            return type(exc).__name__
        if response.status_code >= 500:
            return f"HTTP {response.status_code}"
        try:
            return parse_response(response.headers.get("content-type", ""), response.content)
        except CoreProtocolError as exc:
            raise ClearinghouseError(
                f"the clearinghouse answered HTTP {response.status_code} without a CORE envelope"
                f" ({exc})"
            ) from exc
