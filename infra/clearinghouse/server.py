"""The clearinghouse over HTTP: `POST /core` (CORE real time and batch) and `/_admin/*`."""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile

from infra import shifted_clock as clock
from infra.clearinghouse import caqh_core, eligibility
from infra.clearinghouse.claims import BatchAnswer, Payers, TakebackRefused
from infra.clearinghouse.remittance import Era, Remitter
from infra.clearinghouse.world import World, load_world
from infra.clearinghouse.x12 import Control, X12Error, read_270, write_271

# envelope_error: every CORE request is answered with a CoreEnvelopeError (HTTP 500, ServerError).
MODES = ("normal", "slow", "down", "aaa42", "envelope_error")
# PayloadIDs (and batches) remembered; the oldest are forgotten past this, so a long `make run`
# stays small.
REMEMBERED = 50_000
CARC = re.compile(r"[0-9A-Z]{1,5}")  # a claim adjustment reason code, as a takeback names it


@dataclass
class Simulator:
    world: World
    creds: caqh_core.Credentials
    today: date | None = None  # fixed "today" for 270s without DTP*291 (None: the clock's)
    mode: str = "normal"
    delay_s: float = 0.0
    # (SenderID, PayloadID) -> the first answer; a future while it is being made, so a
    # concurrent repeat waits for it instead of processing the payload a second time.
    answers: dict[tuple[str, str], asyncio.Future[tuple[int, dict[str, str]]]] = field(
        default_factory=dict
    )
    # Seeded from the clock so control numbers keep increasing across restarts.
    last_control: int = field(default_factory=lambda: int(time.time()) % 900_000_000)
    payers: Payers = field(init=False)
    remitter: Remitter = field(init=False)
    # A payment run, before each 835 retrieval, pays claims adjudicated at least this long ago.
    payment_delay_s: float = 0.0
    # (SenderID, submission PayloadID) -> what its retrieval requests fetch.
    batches: dict[tuple[str, str], BatchAnswer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.payers = Payers(self.world)
        self.remitter = Remitter(self.payers)

    def reset(self) -> None:
        """Normal mode, no PayloadIDs, batches or results: the world as world.json has it."""
        self.mode, self.delay_s = "normal", 0.0
        self.answers.clear()
        self.batches.clear()
        self.world = load_world()
        self.payers = Payers(self.world)
        self.remitter = Remitter(self.payers)

    def next_control(self) -> int:
        self.last_control = self.last_control % 999_999_999 + 1
        return self.last_control

    def answer(self, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
        kind = fields["PayloadType"]
        if kind == caqh_core.SUBMIT_837:
            return self.answer_837(fields)
        if kind in (caqh_core.RETRIEVE_999, caqh_core.RETRIEVE_277):
            return self.retrieve(fields)
        if kind == caqh_core.REQUEST_835:
            return self.retrieve_835(fields)
        return self.answer_270(fields)

    def answer_837(self, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Receive a batch: acknowledge and adjudicate it now; the answer confirms receipt only."""
        received = self.today or clock.today()
        controls = (Control(self.next_control(), clock.now()),
                    Control(self.next_control(), clock.now()))  # fmt: skip
        try:
            parties = (fields["SenderID"], self.creds.receiver_id)
            batch = self.payers.receive(fields["Payload"], parties, received,
                                        controls)  # fmt: skip
        except X12Error as error:
            return 400, caqh_core.response_fields(
                fields, self.creds, caqh_core.ENVELOPE_ERROR, "", "PayloadIllegal", str(error)
            )
        self.batches[(fields["SenderID"], fields["PayloadID"])] = batch
        while len(self.batches) > REMEMBERED:
            del self.batches[next(iter(self.batches))]
        return 200, caqh_core.response_fields(fields, self.creds, caqh_core.RECEIPT, "")

    def retrieve(self, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
        """A 999 (or TA1) or 277CA retrieval; its Payload names the submission's PayloadID."""
        batch = self.batches.get((fields["SenderID"], fields["Payload"].strip()))
        if fields["PayloadType"] == caqh_core.RETRIEVE_999:
            if batch is None:
                kind, text = caqh_core.NO_ACK, ""
            else:
                kind = caqh_core.RESPONSE_TA1 if batch.refused else caqh_core.RESPONSE_999
                text = batch.acknowledgement
        elif batch is None or batch.claim_acknowledgement is None:
            kind, text = caqh_core.NO_RESULTS, ""
        else:
            kind, text = caqh_core.RESPONSE_277, batch.claim_acknowledgement
        return 200, caqh_core.response_fields(fields, self.creds, kind, text)

    def payment_run(self, day: date | None = None, delay_s: float | None = None) -> list[Era]:
        """The payers pay what they adjudicated `delay_s` ago or earlier (None: everything)."""
        cutoff = None if delay_s is None else clock.now() - timedelta(seconds=delay_s)
        parties = (self.creds.receiver_id, self.creds.sender_id)
        return self.remitter.run(day or self.today or clock.today(), cutoff,
                                 lambda: Control(self.next_control(), clock.now()),
                                 parties)  # fmt: skip

    def retrieve_835(self, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
        """The next 835 after the cursor (the Payload: "0" or the ISA13 of the last one held)."""
        cursor = fields["Payload"].strip()
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 9):
            return 400, caqh_core.response_fields(
                fields, self.creds, caqh_core.ENVELOPE_ERROR, "", "PayloadIllegal",
                "Payload must be 0 or the ISA13 of the last 835 received",
            )  # fmt: skip
        self.payment_run(delay_s=self.payment_delay_s)
        era = self.remitter.after(cursor.zfill(9))
        if era is None:
            return 200, caqh_core.response_fields(fields, self.creds, caqh_core.NO_RESULTS, "")
        return 200, caqh_core.response_fields(fields, self.creds, caqh_core.RESPONSE_835,
                                              era.text)  # fmt: skip

    def answer_270(self, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
        try:
            inquiry = read_270(fields["Payload"])
        except X12Error as error:
            return 400, caqh_core.response_fields(
                fields, self.creds, caqh_core.ENVELOPE_ERROR, "", "PayloadIllegal", str(error)
            )
        today = self.today or clock.today()
        response = eligibility.answer(self.world, inquiry, today, unable=self.mode == "aaa42")
        control = Control(self.next_control(), clock.now())
        text = write_271(inquiry, response, control)
        return 200, caqh_core.response_fields(fields, self.creds, caqh_core.RESPONSE_271, text)


def credentials_from_env() -> caqh_core.Credentials:
    env = os.environ
    return caqh_core.Credentials(
        username=env.get("HEARTH_CLEARINGHOUSE_USERNAME", "hearth"),
        password=env.get("HEARTH_CLEARINGHOUSE_PASSWORD", "hearth-sim-password"),
        sender_id=env.get("HEARTH_CLEARINGHOUSE_SENDER_ID", "HEARTH"),
        receiver_id=env.get("HEARTH_CLEARINGHOUSE_RECEIVER_ID", "HEARTHCH"),
    )


async def _form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    # Plain fields read directly, without the framework's multipart parser (the simulator's
    # CPU shares the machine with the API in the bench).
    plain = caqh_core.plain_form_fields(
        request.headers.get("content-type", ""), await request.body()
    )
    if plain is not None:
        return plain
    form = await request.form()
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            fields[name] = (await value.read()).decode("utf-8", errors="replace")
        else:
            fields[name] = str(value)
    return fields


def _multipart(status: int, fields: dict[str, str]) -> Response[bytes]:
    body, content_type = caqh_core.encode_multipart(fields)
    return Response(body, status_code=status, media_type=content_type)


def create_app(sim: Simulator) -> Litestar:
    @post("/core", status_code=200)
    async def core_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        """CORE real-time request: a 270 in, a 271 (or an envelope error) out."""
        if sim.mode == "down":
            return Response(b"clearinghouse is down (test switch)", status_code=503,
                            media_type="text/plain", headers={"Retry-After": "1"})  # fmt: skip
        if sim.mode == "slow":
            await asyncio.sleep(sim.delay_s)
        fields = await _form_fields(request)
        if sim.mode == "envelope_error":
            payload = caqh_core.response_fields(
                fields, sim.creds, caqh_core.ENVELOPE_ERROR, "", "ServerError",
                "test switch: envelope error",
            )  # fmt: skip
            payload.pop("Payload")
            return _multipart(500, payload)
        try:
            caqh_core.check_request(fields, sim.creds)
        except caqh_core.EnvelopeError as error:
            payload = caqh_core.response_fields(
                fields, sim.creds, caqh_core.ENVELOPE_ERROR, "", error.code, error.message
            )
            payload.pop("Payload")
            return _multipart(error.status, payload)
        status, answer = await _answer_once(sim, fields)
        return _multipart(status, answer)

    return Litestar(
        route_handlers=[core_endpoint, *_admin_routes(sim)], openapi_config=None, debug=False
    )


async def _answer_once(sim: Simulator, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
    """The answer to this sender's PayloadID: the first request's, for every retry of it."""
    key = (fields["SenderID"], fields["PayloadID"])
    first = sim.answers.get(key)
    if first is None:
        future: asyncio.Future[tuple[int, dict[str, str]]] = (
            asyncio.get_running_loop().create_future()
        )
        sim.answers[key] = future
        while len(sim.answers) > REMEMBERED:
            del sim.answers[next(iter(sim.answers))]
        try:
            future.set_result(sim.answer(fields))
        except Exception as error:
            del sim.answers[key]  # a crash is not an answer: the retry gets a fresh try
            future.set_exception(error)
            raise
        if sim.mode == "aaa42" and fields["PayloadType"] == caqh_core.REQUEST_270:
            # "Unable to respond now" is the payer not processing the inquiry at all, so
            # it is not kept as this PayloadID's answer: a retry with the same PayloadID
            # (as CORE clients retry) gets processed once the payer is back.
            del sim.answers[key]
        first = future
    return await asyncio.shield(first)


def _admin_routes(sim: Simulator) -> list[Any]:
    """The test switches: mode, reset, health."""

    @post("/_admin/mode", status_code=200)
    async def set_mode(data: dict[str, Any]) -> Response[dict[str, Any]]:
        """Switch the test mode: normal, slow (delay_s), down, aaa42, envelope_error."""
        mode = data.get("mode")
        delay = data.get("delay_s", 0.0)
        if mode not in MODES:
            return Response({"error": f"mode must be one of {', '.join(MODES)}"}, status_code=400)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 600:
            return Response({"error": "delay_s must be a number of seconds, 0..600"},
                            status_code=400)  # fmt: skip
        sim.mode, sim.delay_s = mode, float(delay)
        return Response({"mode": sim.mode, "delay_s": sim.delay_s})

    @post("/_admin/reset", status_code=200)
    async def reset() -> dict[str, Any]:
        """Back to normal mode; forget every PayloadID, batch, adjudication, 835 and hold."""
        sim.reset()
        return {"mode": sim.mode, "delay_s": sim.delay_s}

    @get("/_admin/health")
    async def health() -> dict[str, Any]:
        """Liveness and the current mode."""
        return {"status": "ok", "mode": sim.mode, "delay_s": sim.delay_s}

    @get("/_admin/claims")
    async def claims() -> dict[str, Any]:
        """Every claim the payers adjudicated, by payer claim number (for the remittance's 835s)."""
        return {"items": [asdict(result) for result in sim.payers.results.values()]}

    return [set_mode, reset, health, claims, *_remittance_routes(sim)]


def _remittance_routes(sim: Simulator) -> list[Any]:
    """The payers' payment runs and the 835s they wrote, for tests and the demo."""

    @post("/_admin/payment-run", status_code=200)
    async def payment_run(data: dict[str, Any] | None = None) -> Response[dict[str, Any]]:
        """Pay every claim adjudicated and not yet reported, as of `day` (default: today)."""
        raw = (data or {}).get("day")
        try:
            day = date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            day = None
        if raw is not None and day is None:
            return Response({"error": "day must be a date, YYYY-MM-DD"}, status_code=400)
        return Response({"items": [asdict(era) for era in sim.payment_run(day)]})

    @post("/_admin/hold", status_code=200)
    async def hold(data: dict[str, Any]) -> Response[dict[str, Any]]:
        """The claims (CLM01) the payers keep out of their payment runs; [] releases them all."""
        ids = data.get("claim_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return Response({"error": "claim_ids must be a list of CLM01s"}, status_code=400)
        sim.remitter.held = set(ids)
        return Response({"claim_ids": sorted(sim.remitter.held)})

    @get("/_admin/remittances")
    async def remittances() -> dict[str, Any]:
        """Every 835 written, oldest first, and the claims no 835 reported yet."""
        pending = [r.claim_id for r in sim.payers.results.values() if not r.remitted]
        return {"items": [asdict(era) for era in sim.remitter.eras], "pending": pending}

    return [payment_run, hold, remittances, _takeback_route(sim)]


def _takeback_route(sim: Simulator) -> Any:
    """A payer's post-payment review, for tests and the demo."""

    @post("/_admin/takeback", status_code=200)
    async def takeback(data: dict[str, Any]) -> Response[dict[str, Any]]:
        """A post-payment review: the paid claim `claim_id` (CLM01) denied for `reason` (a CARC,
        default 50: not medically necessary); the next payment run reverses its payment and
        reports it denied under a new payer claim number."""
        claim_id, reason = data.get("claim_id"), data.get("reason", "50")
        if not isinstance(claim_id, str) or not claim_id:
            return Response({"error": "claim_id must be a CLM01"}, status_code=400)
        if not isinstance(reason, str) or not CARC.fullmatch(reason):
            return Response({"error": "reason must be a CARC (1-5 letters or digits)"},
                            status_code=400)  # fmt: skip
        try:
            result = sim.payers.take_back(claim_id, reason, clock.now())
        except TakebackRefused as refused:
            return Response({"error": str(refused)}, status_code=refused.status)
        original = sim.payers.results[result.original]
        return Response({"claim_id": claim_id, "payer": result.payer, "reason": reason,
                         "original": original.payer_claim_number,
                         "payer_claim_number": result.payer_claim_number,
                         "taken_back": original.paid})  # fmt: skip

    return takeback


def build(today: date | None = None, payment_delay_s: float = 0.0) -> Litestar:
    return create_app(Simulator(world=load_world(), creds=credentials_from_env(), today=today,
                                payment_delay_s=payment_delay_s))  # fmt: skip
