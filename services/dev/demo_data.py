"""The demo world `make run` loads into an empty development database.

Built through the same service functions the API calls, so the world obeys every rule a user
would meet. Everyone's password is DEMO_PASSWORD (the README lists the logins).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import msgspec

from schemas.clients import PolicyIn, Sex, SignupIn, SubscriberIn
from schemas.common import Address
from schemas.credentialing import CredentialingIn, TransitionIn
from schemas.payers import FeeScheduleIn, PayerIn
from schemas.providers import LicenceIn, LicenceType, LocationIn, ProviderIn
from schemas.therapy_sessions import BookSessionIn
from services.clients import policies
from services.clients import service as clients
from services.core import clock
from services.core.auth import Actor
from services.core.db import init_connection
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.credentialing import service as credentialing
from services.identity.service import accept_invite, create_user
from services.payers import service as payers
from services.providers import details as provider_details
from services.providers import service as providers
from services.therapy_sessions import service as therapy_sessions

OPS_EMAIL = "ops@hearth.test"
DEMO_PASSWORD = "hearth-demo-password"

# CPT code -> (allowed, provider rate) in cents, before each payer's factor.
BASE_RATES = {
    "90791": (16_500, 12_000),
    "90832": (7_200, 5_200),
    "90834": (10_500, 7_800),
    "90837": (14_500, 10_800),
    "90846": (9_800, 7_000),
    "90847": (11_000, 8_000),
}
PAYERS = [
    # name, X12 payer id, timely filing days, telehealth modifier, prior-auth CPT codes, factor,
    # claim filing indicator (SBR09)
    ("Evergreen Health Plan", "EVGRN", 90, "95", [], 1.00, "CI"),
    ("Blue Harbor Insurance", "BLHBR", 180, "GT", ["90837"], 0.92, "BL"),
    ("Summit Mutual", "SMMT1", 365, None, [], 1.08, "CI"),
]


class DemoProvider(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    first_name: str
    last_name: str
    npi: str
    taxonomy_code: str
    tax_id: str
    licences: list[tuple[str, LicenceType, str]]  # state, licence type, number
    office: Address | None  # None: telehealth only
    credentialing: dict[str, str]  # X12 payer id -> where the record stands
    self_pay: dict[str, int]  # CPT code -> cents


PROVIDERS = [
    DemoProvider(
        email="maya.okafor@hearth.test",
        first_name="Maya",
        last_name="Okafor",
        npi="1654321870",
        taxonomy_code="103T00000X",  # psychologist
        tax_id="123-45-6789",
        licences=[("NY", "PsyD", "NY-PSY-022481"), ("NJ", "PsyD", "NJ-35SI00981200")],
        office=Address(line1="200 Park Avenue South", city="New York", state="NY", zip="100031503"),
        credentialing={"EVGRN": "approved", "BLHBR": "approved", "SMMT1": "in_review"},
        self_pay={"90791": 22_000, "90834": 16_000, "90837": 20_000},
    ),
    DemoProvider(
        email="sam.rivera@hearth.test",
        first_name="Sam",
        last_name="Rivera",
        npi="1328765403",
        taxonomy_code="1041C0700X",  # clinical social worker
        tax_id="98-7654321",
        licences=[("CA", "LCSW", "LCSW-88213"), ("OR", "LCSW", "L-10387")],
        office=Address(
            line1="455 Market Street", city="San Francisco", state="CA", zip="941052401"
        ),
        credentialing={"EVGRN": "approved", "SMMT1": "denied"},
        self_pay={"90834": 14_000, "90837": 17_500},
    ),
    DemoProvider(
        email="priya.nair@hearth.test",
        first_name="Priya",
        last_name="Nair",
        npi="1482039579",
        taxonomy_code="106H00000X",  # marriage and family therapist
        tax_id="55-1234567",
        licences=[("TX", "LMFT", "LMFT-204417")],
        office=None,
        credentialing={"BLHBR": "submitted"},
        self_pay={"90834": 13_000, "90846": 15_000, "90847": 16_500},
    ),
]


class DemoClient(msgspec.Struct, frozen=True, kw_only=True):
    """A client whose member id is one the clearinghouse simulator's world knows, unless the
    card on file was mistyped (`payer_member_id`: the id the payer has)."""

    first_name: str
    last_name: str
    date_of_birth: date
    sex: Sex
    city: str
    state: str
    zip: str
    payer: str  # X12 payer id
    member_id: str  # the subscriber's
    subscriber: tuple[str, str, date, Sex] | None = None  # when the client is a dependant
    provider: str | None = None  # email of the provider with a booked session
    payer_member_id: str | None = None  # set when `member_id` is a typo the payer rejects


def _client(
    first: str, last: str, born: str, sex: Sex, place: tuple[str, str, str], payer: str,
    member_id: str, provider: str | None = None,
    subscriber: tuple[str, str, date, Sex] | None = None, payer_member_id: str | None = None,
) -> DemoClient:  # fmt: skip
    city, state, zip_code = place
    return DemoClient(
        first_name=first, last_name=last, date_of_birth=date.fromisoformat(born), sex=sex,
        city=city, state=state, zip=zip_code, payer=payer, member_id=member_id,
        subscriber=subscriber, provider=provider, payer_member_id=payer_member_id,
    )  # fmt: skip


NYC, SF, AUSTIN = (
    ("New York", "NY", "10025"),
    ("San Francisco", "CA", "94110"),
    (
        "Austin",
        "TX",
        "78704",
    ),
)
MAYA, SAM = "maya.okafor@hearth.test", "sam.rivera@hearth.test"
CLIENTS = [
    _client("Jordan", "Lee", "1990-04-12", "U", NYC, "EVGRN", "EVG100001", MAYA),
    _client("Casey", "Morgan", "1985-09-30", "F", SF, "EVGRN", "EVG100004", SAM),
    _client("Riley", "Chen", "1978-02-14", "M", SF, "EVGRN", "EVG100005"),
    _client("Avery", "Patel", "1992-11-03", "F", NYC, "EVGRN", "EVG100008", MAYA),
    _client("Quinn", "Foster", "1988-07-21", "U", SF, "EVGRN", "EVG100010"),
    _client("Alex", "Kim", "2010-08-19", "M", NYC, "BLHBR", "BHI200001", MAYA,
            subscriber=("Pat", "Kim", date(1975, 5, 5), "F")),
    _client("Morgan", "Diaz", "1969-12-01", "M", AUSTIN, "BLHBR", "BHI200006"),
    _client("Sydney", "Park", "1995-03-22", "F", NYC, "BLHBR", "BHI200009"),
    _client("Taylor", "Brooks", "1983-06-15", "F", NYC, "SMMT1", "SMM300003", MAYA),
    _client("Jamie", "Rivera", "1991-01-27", "M", AUSTIN, "SMMT1", "SMM300007"),
    # The card on file lost a zero (EVG100040 at Evergreen) and nobody checked benefits: the
    # payer's 277CA rejects the demo's claim for Blake (A3:33:IL, member not found). No
    # booking: a benefit re-check (the daily job checks next week's sessions) would catch it.
    _client("Blake", "Ellison", "1993-08-17", "U", NYC, "EVGRN", "EVG10040",
            payer_member_id="EVG100040"),
]  # fmt: skip

PATH = {
    "requested": [],
    "submitted": ["submitted"],
    "in_review": ["submitted", "in_review"],
    "approved": ["submitted", "in_review", "approved"],
    "denied": ["submitted", "in_review", "denied"],
}


async def load_demo_data(settings: Settings, today: date | None = None) -> bool:
    """Load the world unless the database already has users; True when loaded."""
    today = today or clock.today()
    conn = await asyncpg.connect(settings.database_url)
    await init_connection(conn)
    try:
        async with conn.transaction():
            # Two `make run`s starting at once must not both load it.
            await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"):
                return False
            await _load(conn, settings, today)
    finally:
        await conn.close()
    return True


async def _load(conn: asyncpg.Connection, settings: Settings, today: date) -> None:
    ops_id = await create_user(conn, settings, OPS_EMAIL, "ops", DEMO_PASSWORD)
    ops = Actor(user_id=ops_id, role="ops")
    payer_ids = await _payers(conn, ops, date(today.year, 1, 1))
    provider_ids = {
        spec.email: await _provider(conn, settings, ops, spec, payer_ids, today)
        for spec in PROVIDERS
    }
    for client in CLIENTS:
        await _demo_client(conn, settings, client, payer_ids, provider_ids, today)


async def _payers(conn: asyncpg.Connection, ops: Actor, start: date) -> dict[str, uuid.UUID]:
    ids = {}
    for name, x12_id, filing_days, modifier, prior_auth, factor, filing in PAYERS:
        payer = await payers.create_payer(
            conn,
            PayerIn(
                name=name,
                x12_payer_id=x12_id,
                timely_filing_days=filing_days,
                telehealth_modifier=modifier,  # type: ignore[arg-type]
                prior_auth_cpt_codes=prior_auth,
                claim_filing_indicator=filing,  # type: ignore[arg-type]
            ),
        )
        ids[x12_id] = payer.id
        for cpt, (allowed, rate) in BASE_RATES.items():
            await payers.create_fee_schedule(
                conn,
                ops,
                payer.id,
                FeeScheduleIn(
                    cpt_code=cpt,
                    allowed_cents=round(allowed * factor),
                    provider_rate_cents=round(rate * factor),
                    effective_from=start,
                ),
            )
    return ids


async def _provider(
    conn: asyncpg.Connection,
    settings: Settings,
    ops: Actor,
    spec: DemoProvider,
    payer_ids: dict[str, uuid.UUID],
    today: date,
) -> uuid.UUID:
    locations = [LocationIn(name="Telehealth", place_of_service="10")]
    if spec.office is not None:
        locations.insert(0, LocationIn(name="Office", place_of_service="11", address=spec.office))
    expires = date(today.year + 2, 6, 30)
    onboarded = await providers.onboard_provider(
        conn,
        settings,
        ops,
        ProviderIn(
            email=spec.email,
            first_name=spec.first_name,
            last_name=spec.last_name,
            npi=spec.npi,
            taxonomy_code=spec.taxonomy_code,
            tax_id=spec.tax_id,
            licences=[
                LicenceIn(state=state, licence_type=kind, number=number, expires_on=expires)
                for state, kind, number in spec.licences
            ],
            locations=locations,
        ),
    )
    await accept_invite(Transactions.within(conn), settings, onboarded.invite_token, DEMO_PASSWORD)
    provider_id = onboarded.provider.id
    for cpt, cents in spec.self_pay.items():
        await provider_details.set_self_pay_rate(conn, provider_id, cpt, cents)
    for x12_id, status in spec.credentialing.items():
        record = await credentialing.request_credentialing(
            conn, ops, CredentialingIn(provider_id=provider_id, payer_id=payer_ids[x12_id])
        )
        for step in PATH[status]:
            approved = step == "approved"
            await credentialing.transition(
                conn,
                ops,
                record.id,
                TransitionIn(
                    to_status=step,  # type: ignore[arg-type]
                    reason=f"demo data: {step}",
                    effective_on=date(today.year, 1, 1) if approved else None,
                    ends_on=date(today.year + 2, 12, 31) if approved else None,
                ),
            )
    return provider_id


async def _demo_client(
    conn: asyncpg.Connection,
    settings: Settings,
    spec: DemoClient,
    payer_ids: dict[str, uuid.UUID],
    provider_ids: dict[str, uuid.UUID],
    today: date,
) -> None:
    email = f"{spec.first_name}.{spec.last_name}@hearth.test".lower()
    signed = await clients.create_client_with_password(
        conn,
        settings,
        SignupIn(
            email=email,
            password=DEMO_PASSWORD,
            first_name=spec.first_name,
            last_name=spec.last_name,
            date_of_birth=spec.date_of_birth,
            sex=spec.sex,
            address=Address(line1="1 Demo Street", city=spec.city, state=spec.state, zip=spec.zip),
        ),
    )
    me = Actor(user_id=signed.user_id, role="client", client_id=signed.id)
    subscriber = None
    if spec.subscriber is not None:
        first, last, born, sex = spec.subscriber
        subscriber = SubscriberIn(first_name=first, last_name=last, date_of_birth=born, sex=sex)
    policy = await policies.add_policy(
        conn,
        me,
        signed.id,
        PolicyIn(
            payer_id=payer_ids[spec.payer],
            member_id=spec.member_id,
            priority="primary",
            relationship="self" if subscriber is None else "child",
            subscriber=subscriber,
            effective_from=date(today.year, 1, 1),
        ),
    )
    if spec.provider is None:
        return
    # Next week, 15:00 in New York: a booked session lets the provider see the client.
    days_ahead = 7 + (1 - today.weekday()) % 7
    starts = datetime.combine(today + timedelta(days=days_ahead), time(20, 0), tzinfo=UTC)
    await therapy_sessions.book_session(
        conn,
        me,
        BookSessionIn(
            provider_id=provider_ids[spec.provider],
            policy_id=policy.id,
            starts_at=starts,
            duration_minutes=53,
            place_of_service="10",
        ),
    )
