"""Client self-signup that does not reveal who is registered, and the emails it sends.

The request answers 202 the same way for every address and writes an outbox row; the job
`send_account_email` carries only that row's id, mints the verification token itself (only its
hash is stored) and mails it, or tells a registered address's owner that someone tried.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from redis.asyncio import Redis

from schemas.clients import AccountEmailJob, AccountEmailKind, SignupAcceptedOut, SignupIn
from services.clients import queries
from services.clients.service import ENTITY, _columns, check_birth_date, self_actor
from services.core import audit, mail, outbox
from services.core.auth import SYSTEM
from services.core.settings import Settings
from services.identity import service as identity

RETRY_IN = timedelta(minutes=1)


async def sign_up(
    conn: asyncpg.Connection, redis: Redis, settings: Settings, data: SignupIn, address: str
) -> SignupAcceptedOut:
    """Start a signup; what happens next depends on the address and goes by email only."""
    await identity.limit_address(
        redis, settings, "signup", address, settings.signup_max_per_address
    )
    check_birth_date(data.date_of_birth, "date_of_birth")
    user = await identity.register_signup(conn, settings, data.email, data.password)
    kind: AccountEmailKind = "verify_email"
    if user.status == "new":
        client = await queries.insert_client(conn, user.user_id, data.email.lower(), _columns(data))
        await audit.record(conn, self_actor(client), "create", ENTITY, [client.id])
    elif user.status == "pending":
        # An unverified signup for this address is replaced by this one: its profile too.
        pending = await queries.lock_client_by_user(conn, user.user_id)
        if pending is not None:
            client = await queries.update_client(conn, pending.id, _columns(data))
            await audit.record(conn, self_actor(client), "update", ENTITY, [client.id])
    else:
        kind = "signup_attempt"
    # Deduplicated while unsent: repeated signups do not flood the address's owner.
    job = AccountEmailJob(user_id=user.user_id, kind=kind)
    await outbox.add(conn, job, dedupe_key=f"account-email:{kind}:{user.user_id}")
    return SignupAcceptedOut()


def _verify_email(settings: Settings, first_name: str, token: str) -> tuple[str, str]:
    hours = settings.email_verification_ttl_s // 3600
    return "Confirm your email address for Hearth", (
        f"Hello {first_name},\n\n"
        "To finish signing up for Hearth, confirm this email address by opening\n\n"
        f"{settings.app_url}/verify-email#token={token}\n\n"
        "or by entering this code in the app.\n\n"
        f"Verification code: {token}\n\n"
        f"The code works once and expires in {hours} hours. If you did not sign up for Hearth,\n"
        "ignore this email: no account is opened without it.\n"
    )


def _signup_attempt(settings: Settings, first_name: str | None) -> tuple[str, str]:
    greeting = f"Hello {first_name}," if first_name else "Hello,"
    return "Someone tried to sign up with your email address", (
        f"{greeting}\n\n"
        "Someone, perhaps you, tried to open a new Hearth account with this email address,\n"
        "which already has one. Nothing was changed.\n\n"
        f"If it was you, sign in at {settings.app_url}; if you do not remember your password,\n"
        "change it from your account or ask our support team. If it was not you, you can\n"
        "ignore this email.\n"
    )


async def prepare_account_email(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int
) -> mail.OutgoingEmail | None:
    """The message an outbox row asks for (minting its token); None when nothing is to send,
    in which case the row is completed."""
    job = await outbox.lock(conn, outbox_id, AccountEmailJob)
    if job is None:
        return None
    user_id = job.user_id
    to = await identity.get_email(conn, user_id)
    client = await queries.lock_client_by_user(conn, user_id)
    name = client.first_name if client is not None else None
    if client is not None:
        await audit.record(conn, SYSTEM, "read", ENTITY, [client.id])  # the job reads the name
    if to is None:
        await outbox.complete(conn, outbox_id)
        return None
    if job.kind == "signup_attempt":
        subject, body = _signup_attempt(settings, name)
        return mail.OutgoingEmail(to=to, subject=subject, body=body)
    token = await identity.create_email_verification(conn, settings, user_id)
    if token is None or client is None:  # verified or claimed by ops since the signup
        await outbox.complete(conn, outbox_id)
        return None
    subject, body = _verify_email(settings, client.first_name, token)
    return mail.OutgoingEmail(to=to, subject=subject, body=body)


async def run_account_email(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> str:
    """One outbox row's email; the SMTP call holds no transaction or lock."""
    return await mail.send_queued(
        pool, settings, outbox_id,
        lambda conn: prepare_account_email(conn, settings, outbox_id), RETRY_IN,
    )  # fmt: skip
