"""Settings: one frozen Struct built once from the environment."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

from schemas.common import X12_SAFE
from services.core.addresses import Network, parse_networks
from services.core.identifiers import is_valid_npi

Env = Literal["development", "test", "production"]

# Development and test run with these; production refuses to start without real values.
_DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
_DEV_TAX_ID_KEY = "k1:" + base64.b64encode(b"dev-only-aes-256-key-32-bytes!!!").decode()
_DEV_CLEARINGHOUSE_PASSWORD = "hearth-sim-password"
_DEV_PLATFORM_EIN = "990000001"
_DEV_PLATFORM_NPI = "2123456784"
# The billing provider's development address and billing-desk phone (a 555 number).
_DEV_PLATFORM_STREET = "100 Main St"
_DEV_PLATFORM_ZIP = "972041234"
_DEV_PLATFORM_PHONE = "5035550100"
# Stripe in development and tests is the simulator (infra/stripe), which takes any `sk_` key and
# signs webhooks with these secrets unless told others: the account endpoint's, and the Connect
# endpoint's (events of connected accounts, such as their account.updated).
_DEV_STRIPE_API_KEY = "sk_test_hearth_development_only"
_DEV_STRIPE_WEBHOOK_SECRET = "whsec_hearth_development_only_0123456789"
_DEV_STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_hearth_connect_development_only_0123456789"
_SECRETS = (
    "jwt_secret",
    "tax_id_keys",
    "clearinghouse_password",
    "stripe_api_key",
    "stripe_webhook_secret",
    "stripe_connect_webhook_secret",
)
# Production also refuses the development identity: a dev EIN, NPI or address on a real 270 or
# claim would be sent to payers as ours (and their payments to an address that is not ours).
_PRODUCTION_REQUIRED = (
    *_SECRETS,
    "platform_ein",
    "platform_npi",
    "platform_address_line1",
    "platform_city",
    "platform_state",
    "platform_zip",
    "platform_contact_phone",
)


# Defaults one environment overrides (a variable set explicitly still wins). Development holds
# ready claims 0 hours (DESIGN.md "Edit window and submission timing": the demo sets 0): `make
# demo` submits the claims it completes at once instead of a day later, and charges a true-up
# with no notice period (the statement email still goes first), and closes a session's edit
# window at once: the demo's payout pays the sessions the demo completed.
_ENV_DEFAULTS: dict[str, dict[str, str]] = {
    "development": {
        "claim_hold_hours": "0",
        "true_up_notice_days": "0",
        "session_edit_window_hours": "0",
    }
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # No default: a deployment that forgot HEARTH_ENV must not run with the published dev secrets.
    env: Env
    database_url: str = "postgresql://postgres@127.0.0.1:5432/hearth"
    # The schema owner's URL, used only by `migrate` and `grant-app-role`; unset: database_url.
    # In production the application's database_url names a role made by grant-app-role.
    migration_database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prefix of every Redis key we write, so deployments (and test runs) can share one Redis.
    redis_namespace: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "hearth"
    db_pool_min: Annotated[int, Meta(ge=1, le=100)] = 2
    db_pool_max: Annotated[int, Meta(ge=1, le=200)] = 10
    # A request waits this long for a pooled connection, then answers 503: an exhausted pool is
    # an outage to its callers, and waiting on would only pile more requests up behind it.
    db_acquire_timeout_s: Annotated[float, Meta(gt=0, le=120)] = 10.0
    jwt_secret: Annotated[str, Meta(min_length=32)] = _DEV_JWT_SECRET
    jwt_issuer: str = "hearth"
    access_token_ttl_s: Annotated[int, Meta(ge=60, le=86_400)] = 900
    refresh_token_ttl_s: Annotated[int, Meta(ge=3_600, le=90 * 86_400)] = 30 * 86_400
    invite_ttl_s: Annotated[int, Meta(ge=3_600, le=30 * 86_400)] = 7 * 86_400
    # "kid:base64key,kid2:base64key"; the first key encrypts, every key decrypts.
    tax_id_keys: str = _DEV_TAX_ID_KEY
    argon2_time_cost: Annotated[int, Meta(ge=1, le=20)] = 3
    argon2_memory_kib: Annotated[int, Meta(ge=8, le=1_048_576)] = 65_536
    # Login limits (services/identity/ratelimit.py says which attack each one stops). One
    # account from one address, and one address over every account, are blocked for the window
    # once over their limit; an account alone is never blocked, only slowed down: past its free
    # attempts, one attempt per delay, doubling from the base up to the cap.
    login_max_failures_per_pair: Annotated[int, Meta(ge=1, le=1000)] = 5
    login_max_failures_per_address: Annotated[int, Meta(ge=1, le=10_000)] = 50
    login_failure_window_s: Annotated[int, Meta(ge=1, le=86_400)] = 900
    login_account_free_attempts: Annotated[int, Meta(ge=1, le=1000)] = 5
    login_account_window_s: Annotated[int, Meta(ge=60, le=7 * 86_400)] = 3_600
    login_account_delay_base_s: Annotated[int, Meta(ge=1, le=3_600)] = 2
    login_account_delay_cap_s: Annotated[int, Meta(ge=1, le=3_600)] = 60
    # An address the account signed in from lately skips the account's slow-down (its owner,
    # most likely); the pair and address limits still apply to it.
    login_known_address_ttl_s: Annotated[int, Meta(ge=0, le=365 * 86_400)] = 30 * 86_400
    # Wrong current passwords on POST /auth/password, per user, before it answers 429.
    password_change_max_failures: Annotated[int, Meta(ge=1, le=1000)] = 5
    password_change_window_s: Annotated[int, Meta(ge=1, le=86_400)] = 900
    # Networks of our own proxies / load balancers ("10.0.0.0/8,192.0.2.7"): X-Forwarded-For is
    # believed only when the peer is one of them. Empty: the peer is always the client.
    trusted_proxies: Annotated[str, Meta(max_length=2000)] = ""
    # Per client address, per window: signups, email verifications and invitation acceptances
    # (each an argon2 hash or a token guess).
    signup_max_per_address: Annotated[int, Meta(ge=1, le=10_000)] = 10
    verify_email_max_per_address: Annotated[int, Meta(ge=1, le=10_000)] = 20
    invite_accept_max_per_address: Annotated[int, Meta(ge=1, le=10_000)] = 20
    account_limit_window_s: Annotated[int, Meta(ge=1, le=86_400)] = 3600
    email_verification_ttl_s: Annotated[int, Meta(ge=600, le=7 * 86_400)] = 86_400
    # Outgoing email (notifications, verification); the default is the local sink (infra/mail).
    smtp_host: Annotated[str, Meta(min_length=1, max_length=255)] = "127.0.0.1"
    smtp_port: Annotated[int, Meta(ge=1, le=65_535)] = 1025
    smtp_from: Annotated[str, Meta(min_length=3, max_length=255)] = "Hearth <no-reply@hearth.test>"
    smtp_starttls: bool = False
    smtp_username: Annotated[str, Meta(max_length=255)] = ""
    smtp_password: Annotated[str, Meta(max_length=255)] = ""
    smtp_timeout_s: Annotated[float, Meta(gt=0, le=60)] = 10.0
    # Where the people we email open the app (links in emails).
    app_url: Annotated[str, Meta(pattern=r"^https?://\S+$")] = "http://127.0.0.1:8000"
    credentialing_warn_days: Annotated[int, Meta(ge=1, le=365)] = 60
    # Claims not yet accepted whose filing deadline is this close are flagged for ops.
    timely_filing_warn_days: Annotated[int, Meta(ge=1, le=365)] = 30
    # A benefit check answered within this many days is reused instead of asking again.
    benefit_check_fresh_days: Annotated[int, Meta(ge=0, le=365)] = 30
    # `refresh: true` sends a paid 270. Per policy: at most one per this many seconds, read from
    # the policy's last check in the database so it holds across Redis flushes (0: no minimum).
    # Per caller: a count per window in Redis; ops re-verify for every client (and are exempt
    # from the per-policy minimum, to re-check a policy they just corrected), so they have a
    # larger count of their own.
    benefit_refresh_min_interval_s: Annotated[int, Meta(ge=0, le=30 * 86_400)] = 3_600
    benefit_refresh_window_s: Annotated[int, Meta(ge=1, le=86_400)] = 3_600
    benefit_refresh_max_per_caller: Annotated[int, Meta(ge=1, le=10_000)] = 10
    benefit_refresh_max_per_ops: Annotated[int, Meta(ge=1, le=100_000)] = 200
    # An outbox row handed to arq and not completed within this is handed out again; longer
    # than any job's timeout, so a slow job is not doubled while it still runs.
    outbox_visibility_s: Annotated[int, Meta(ge=5, le=86_400)] = 90
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Who may read the OpenAPI document at /schema/openapi.json: anyone, ops only, or nobody
    # (not served). Unset: public outside production, ops in production. The viewers (Scalar,
    # Swagger) load their scripts from a CDN, so they are served outside production only.
    openapi: Literal["public", "ops", "off"] | None = None
    # The clearinghouse (CAQH CORE Phase II HTTP MIME); the default is the local simulator.
    clearinghouse_url: Annotated[str, Meta(pattern=r"^https?://\S+$")] = (
        "http://127.0.0.1:8090/core"
    )
    clearinghouse_username: Annotated[str, Meta(min_length=1, max_length=128)] = "hearth"
    clearinghouse_password: Annotated[str, Meta(min_length=1, max_length=256)] = (
        _DEV_CLEARINGHOUSE_PASSWORD
    )
    # ISA06/ISA08 and the envelope's SenderID/ReceiverID: X12-safe, at most 15 characters.
    clearinghouse_sender_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,15}$")] = "HEARTH"
    clearinghouse_receiver_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,15}$")] = "HEARTHCH"
    clearinghouse_timeout_s: Annotated[float, Meta(gt=0, le=60)] = 10.0  # one attempt
    # All attempts of one real-time request; CORE real time answers within 20 seconds.
    clearinghouse_deadline_s: Annotated[float, Meta(gt=0, le=120)] = 18.0
    # Stripe (the official SDK): only the base address differs between the simulator and Stripe
    # (https://api.stripe.com); the default is the simulator's default port.
    stripe_api_base: Annotated[str, Meta(pattern=r"^https?://[^/\s]+$")] = "http://127.0.0.1:8420"
    stripe_api_key: Annotated[str, Meta(pattern=r"^(sk|rk)_[A-Za-z0-9_]{8,247}$")] = (
        _DEV_STRIPE_API_KEY
    )
    # The signing secret of our webhook endpoint (`Stripe-Signature` is checked with it).
    stripe_webhook_secret: Annotated[str, Meta(pattern=r"^whsec_[A-Za-z0-9_]{8,250}$")] = (
        _DEV_STRIPE_WEBHOOK_SECRET
    )
    # The signing secret of our Connect webhook endpoint (made with connect=true): Stripe sends
    # the events of connected accounts (`account` set, e.g. a provider's account.updated) only
    # there, signed with its own secret. /webhooks/stripe accepts a signature by either.
    stripe_connect_webhook_secret: Annotated[str, Meta(pattern=r"^whsec_[A-Za-z0-9_]{8,250}$")] = (
        _DEV_STRIPE_CONNECT_WEBHOOK_SECRET
    )
    stripe_timeout_s: Annotated[float, Meta(gt=0, le=80)] = 30.0  # one attempt
    # Failed-payment recovery: soft declines are retried on the same PaymentIntent this many
    # days after the failure ("1,3,7"), never more than payment_retry_cap attempts on one card
    # in 30 days (the card networks' limit); an unpaid charge is written off (bad debt) when its
    # last retry failed, or bad_debt_after_days after the failure when nothing is retried.
    payment_retry_days: Annotated[str, Meta(pattern=r"^[0-9]{1,2}(,[0-9]{1,2}){0,9}$")] = "1,3,7"
    payment_retry_cap: Annotated[int, Meta(ge=1, le=15)] = 15
    bad_debt_after_days: Annotated[int, Meta(ge=1, le=3650)] = 60
    # The platform is the billing provider: its EIN (TRN03 of every 270 is "1" + EIN), its
    # type-2 organization NPI and name.
    platform_ein: Annotated[str, Meta(pattern=r"^[0-9]{9}$")] = _DEV_PLATFORM_EIN
    platform_npi: Annotated[str, Meta(pattern=r"^[12][0-9]{9}$")] = _DEV_PLATFORM_NPI
    # NM1*1P of every 270 the platform asks as itself: X12-safe like every name.
    platform_name: Annotated[str, Meta(min_length=1, max_length=60, pattern=X12_SAFE)] = (
        "Hearth Health"
    )
    # The rest of the billing provider's 837P identity (2000A PRV*BI, 2010AA N3/N4: a street
    # address with a 9-digit ZIP, never a PO box; PER for the billing desk) and 1000B's name.
    platform_taxonomy: Annotated[str, Meta(pattern=r"^[0-9A-Z]{9}X$")] = "193200000X"
    platform_address_line1: Annotated[str, Meta(min_length=1, max_length=55, pattern=X12_SAFE)] = (
        _DEV_PLATFORM_STREET
    )
    platform_address_line2: Annotated[str, Meta(max_length=55, pattern=X12_SAFE)] | None = None
    platform_city: Annotated[str, Meta(min_length=1, max_length=30, pattern=X12_SAFE)] = "Portland"
    platform_state: Annotated[str, Meta(pattern=r"^[A-Z]{2}$")] = "OR"
    platform_zip: Annotated[str, Meta(pattern=r"^[0-9]{9}$")] = _DEV_PLATFORM_ZIP
    platform_contact_name: Annotated[str, Meta(min_length=1, max_length=60, pattern=X12_SAFE)] = (
        "Billing Desk"
    )
    platform_contact_phone: Annotated[str, Meta(pattern=r"^[0-9]{10}$")] = _DEV_PLATFORM_PHONE
    clearinghouse_name: Annotated[str, Meta(min_length=1, max_length=60, pattern=X12_SAFE)] = (
        "Hearth Clearinghouse"
    )
    # Claim submission (DESIGN.md "Edit window and submission timing"): a ready claim waits
    # this long (the provider may still edit it) before the submission job, run every
    # claim_submit_interval_min minutes, takes it into a batch.
    claim_hold_hours: Annotated[int, Meta(ge=0, le=720)] = 24
    # A confirmed session's coding may be edited this long after its confirmation, and only
    # while its claim is still ready (never submitted); a payout takes a session only once its
    # window has closed (0, development's: a session is payable, and no longer edited, once
    # confirmed, so `make demo` pays the sessions it completes).
    session_edit_window_hours: Annotated[int, Meta(ge=0, le=720)] = 48
    # The daily payout run (UTC hour): a provider owed less than the minimum is paid nothing
    # this time (what they are owed carries to the next payout).
    payout_run_hour: Annotated[int, Meta(ge=0, le=23)] = 6
    payout_minimum_cents: Annotated[int, Meta(ge=1, le=10_000_000)] = 100
    claim_submit_interval_min: Annotated[int, Meta(ge=1, le=60)] = 15
    # A sent batch with no 999 (or no 277CA) this long after it was received goes to ops.
    claim_ack_timeout_hours: Annotated[int, Meta(ge=1, le=720)] = 72
    # The 835 polling worker asks the clearinghouse for new 835s every this many minutes and
    # posts at most remittance_files_per_run of them per job (then queues itself again).
    remittance_poll_interval_min: Annotated[int, Meta(ge=1, le=60)] = 30
    remittance_files_per_run: Annotated[int, Meta(ge=1, le=500)] = 20
    # A payer's reversal (CLP02 22) whose correction has not come this many days after it was
    # posted goes to ops (GET /remittances/queues/awaiting-correction).
    reversal_correction_days: Annotated[int, Meta(ge=1, le=365)] = 30
    # The ops daily digest: stored each morning at this UTC hour (yesterday's), listing the
    # claims not yet accepted whose filing deadline falls within this many days of its day.
    ops_digest_hour: Annotated[int, Meta(ge=0, le=23)] = 7
    ops_digest_deadline_days: Annotated[int, Meta(ge=1, le=365)] = 14
    # The platform's fee on a self-pay or out-of-network session, in basis points of the
    # provider's self-pay rate (2000: 20%); the provider is owed the rest.
    platform_fee_bps: Annotated[int, Meta(ge=0, le=10_000)] = 2_000
    # A client owed more after the insurer's decision gets a statement this many days before
    # the true-up is charged (DESIGN.md "Charging clients"); the demo and tests may set 0.
    true_up_notice_days: Annotated[int, Meta(ge=0, le=60)] = 7
    # Client statements' months, and dates shown to clients, are in this IANA time zone (the
    # platform's: clients have none on file).
    statement_time_zone: Annotated[str, Meta(min_length=1, max_length=64)] = "America/Los_Angeles"
    # An ISO 8601 instant with its offset: every process (API, worker, CLI) starts its clock
    # there and ticks on, so CI can run the suite as on another day. Refused in production.
    clock_shift_to: Annotated[datetime, Meta(tz=True)] | None = None
    # The real instant at which the shifted clock reads clock_shift_to (default: each
    # process's start); one value for a whole run keeps its processes' clocks together.
    clock_shift_from: Annotated[datetime, Meta(tz=True)] | None = None

    @property
    def arq_queue_name(self) -> str:
        return f"{self.redis_namespace}:queue"

    @property
    def openapi_access(self) -> Literal["public", "ops", "off"]:
        if self.openapi is not None:
            return self.openapi
        return "ops" if self.env == "production" else "public"

    def tax_id_keyring(self) -> dict[str, bytes]:
        return parse_keyring(self.tax_id_keys)

    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def retry_days(self) -> tuple[int, ...]:
        """The days after a soft decline on which it is retried, ascending."""
        return tuple(sorted({int(d) for d in self.payment_retry_days.split(",") if int(d) > 0}))


def parse_keyring(value: str) -> dict[str, bytes]:
    """Parse "kid:base64,..." into {kid: 32-byte key}, first entry first."""
    keys: dict[str, bytes] = {}
    for part in value.split(","):
        kid, sep, b64 = part.strip().partition(":")
        if not sep or not kid:
            raise SettingsError("HEARTH_TAX_ID_KEYS: expected 'kid:base64key[,kid:base64key]'")
        if kid in keys:
            # A dict keeps the last of two: rows sealed under the other key would never open.
            raise SettingsError(f"HEARTH_TAX_ID_KEYS: key id {kid!r} appears more than once")
        try:
            key = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise SettingsError(f"HEARTH_TAX_ID_KEYS: key {kid!r} is not base64") from exc
        if len(key) != 32:
            raise SettingsError(f"HEARTH_TAX_ID_KEYS: key {kid!r} must be 32 bytes (AES-256)")
        keys[kid] = key
    return keys


def _env_name(field: str) -> str:
    return field.upper() if field in ("database_url", "redis_url") else f"HEARTH_{field.upper()}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from HEARTH_* variables plus DATABASE_URL and REDIS_URL."""
    environ = os.environ if environ is None else environ
    if not environ.get("HEARTH_ENV"):
        raise SettingsError("HEARTH_ENV must be set explicitly: development, test or production")
    raw: dict[str, str] = dict(_ENV_DEFAULTS.get(environ["HEARTH_ENV"], {}))
    for field in Settings.__struct_fields__:
        value = environ.get(_env_name(field))
        if value is not None and value != "":
            raw[field] = value
    settings = _convert(raw)
    if settings.env == "production":
        _refuse_unset_in_production(settings, raw)
    parse_keyring(settings.tax_id_keys)
    if settings.env == "production":
        _refuse_development_values(settings)
        _refuse_weak_transport_and_hashing(settings)
    _refuse_inconsistent(settings)
    return settings


def _convert(raw: dict[str, str]) -> Settings:
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec says "... - at `$.field`": name the variable instead of the field.
        message = str(exc)
        field = message.rsplit("$.", 1)[-1].rstrip("`") if "$." in message else ""
        name = _env_name(field) if field in Settings.__struct_fields__ else "environment"
        raise SettingsError(f"{name}: {message.split(' - at ')[0]}") from exc


def _refuse_unset_in_production(settings: Settings, raw: dict[str, str]) -> None:
    for secret in _PRODUCTION_REQUIRED:
        if secret not in raw:
            raise SettingsError(f"{_env_name(secret)} must be set in production")
    if settings.clock_shift_to is not None:
        raise SettingsError("HEARTH_CLOCK_SHIFT_TO is refused in production")
    if settings.clock_shift_from is not None:
        raise SettingsError("HEARTH_CLOCK_SHIFT_FROM is refused in production")


def _refuse_inconsistent(settings: Settings) -> None:
    """Values that parse but cannot work: a bad proxy network or NPI, limits out of order."""
    try:
        settings.trusted_proxy_networks()
    except ValueError as exc:
        raise SettingsError(f"HEARTH_TRUSTED_PROXIES: {exc}") from exc
    if not is_valid_npi(settings.platform_npi):
        raise SettingsError("HEARTH_PLATFORM_NPI: the NPI check digit is wrong")
    if settings.login_account_delay_base_s > settings.login_account_delay_cap_s:
        raise SettingsError("HEARTH_LOGIN_ACCOUNT_DELAY_BASE_S: longer than the cap")
    if settings.stripe_connect_webhook_secret == settings.stripe_webhook_secret:
        # Stripe gives each endpoint its own secret: the same value twice is one pasted twice,
        # and the other endpoint's events would all be refused.
        raise SettingsError(
            "HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET: the same as HEARTH_STRIPE_WEBHOOK_SECRET (the"
            " Connect endpoint has its own signing secret)"
        )
    if settings.clearinghouse_timeout_s > settings.clearinghouse_deadline_s:
        raise SettingsError("HEARTH_CLEARINGHOUSE_TIMEOUT_S: longer than the deadline")
    try:
        ZoneInfo(settings.statement_time_zone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise SettingsError("HEARTH_STATEMENT_TIME_ZONE: not an IANA time zone") from exc


def _refuse_development_values(settings: Settings) -> None:
    """Set explicitly is not enough: the development values are published in the repository."""
    published = {
        "jwt_secret": settings.jwt_secret == _DEV_JWT_SECRET,
        "clearinghouse_password": settings.clearinghouse_password == _DEV_CLEARINGHOUSE_PASSWORD,
        "stripe_api_key": settings.stripe_api_key == _DEV_STRIPE_API_KEY,
        "stripe_webhook_secret": settings.stripe_webhook_secret == _DEV_STRIPE_WEBHOOK_SECRET,
        "stripe_connect_webhook_secret": (
            settings.stripe_connect_webhook_secret == _DEV_STRIPE_CONNECT_WEBHOOK_SECRET
        ),
        "platform_ein": settings.platform_ein == _DEV_PLATFORM_EIN,
        "platform_npi": settings.platform_npi == _DEV_PLATFORM_NPI,
        "platform_address_line1": settings.platform_address_line1 == _DEV_PLATFORM_STREET,
        "platform_zip": settings.platform_zip == _DEV_PLATFORM_ZIP,
        "platform_contact_phone": settings.platform_contact_phone == _DEV_PLATFORM_PHONE,
        # Compared by key bytes: the same key under another key id is still the published one.
        "tax_id_keys": bool(
            set(parse_keyring(_DEV_TAX_ID_KEY).values()) & set(settings.tax_id_keyring().values())
        ),
    }
    for field, is_published in published.items():
        if is_published:
            raise SettingsError(
                f"{_env_name(field)}: the development value is refused in production"
            )


# OWASP Password Storage Cheat Sheet, argon2id with p=1: each pair (memory KiB, iterations) is
# an equivalent minimum; m=19 MiB with t=2 is the one it recommends.
ARGON2_FLOORS = ((47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5))


def _refuse_weak_transport_and_hashing(settings: Settings) -> None:
    # The 270 carries names, birth dates and member ids, and we send our password with it.
    if not settings.clearinghouse_url.startswith("https://"):
        raise SettingsError("HEARTH_CLEARINGHOUSE_URL: production needs an https:// URL")
    # Card data and the secret key travel on it.
    if not settings.stripe_api_base.startswith("https://"):
        raise SettingsError("HEARTH_STRIPE_API_BASE: production needs an https:// URL")
    memory, time_cost = settings.argon2_memory_kib, settings.argon2_time_cost
    if not any(memory >= m and time_cost >= t for m, t in ARGON2_FLOORS):
        raise SettingsError(
            "HEARTH_ARGON2_MEMORY_KIB / HEARTH_ARGON2_TIME_COST: below OWASP's argon2id minimum"
            " (e.g. 19456 KiB with time cost 2)"
        )
