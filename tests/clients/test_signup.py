"""Client signup that reveals nothing about who is registered, email verification, pending
signups that never block the real owner, per-address limits, and bad input."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.clients.signup import prepare_account_email
from services.core import clock
from services.core.clock import Clock
from services.core.mail import OutgoingEmail
from services.core.settings import Settings
from services.identity import verification
from tests.clients.helpers import audit_rows, signup_body
from tests.factories import PASSWORD, make_client, make_ops

NEUTRAL = {
    "status": "check_your_email",
    "detail": "If this address can be used for a new account, we sent it a link to finish"
    " signing up. Check your email.",
}


@pytest.fixture
def frozen() -> Iterator[datetime]:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock.CLOCK.freeze(at)
    yield at
    clock.CLOCK.reset()


async def account_emails(db: asyncpg.Connection, user_id: Any) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT payload FROM outbox WHERE job = 'send_account_email'"
        " AND payload->>'user_id' = $1 ORDER BY id",
        str(user_id),
    )
    return [dict(r["payload"]) for r in rows]


async def mail_for(db: asyncpg.Connection, settings: Settings, user_id: Any) -> OutgoingEmail:
    """What the job would send for the user's unsent outbox row (minting its token)."""
    outbox_id = await db.fetchval(
        "SELECT id FROM outbox WHERE job = 'send_account_email' AND completed_at IS NULL"
        " AND payload->>'user_id' = $1",
        str(user_id),
    )
    message = await prepare_account_email(db, settings, outbox_id)
    assert message is not None
    await db.execute("UPDATE outbox SET completed_at = now() WHERE id = $1", outbox_id)
    return message


def code_in(message: OutgoingEmail) -> str:
    match = re.search(r"Verification code: (\S+)", message.body)
    assert match, message.body
    return match.group(1)


async def user_of(db: asyncpg.Connection, address: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT id, password_hash, pending_password_hash, signup_pending_since FROM users"
        " WHERE email = $1",
        address.lower(),
    )
    assert row is not None
    return row


async def login(client: httpx.AsyncClient, address: str, password: str) -> int:
    response = await client.post("/auth/login", json={"email": address, "password": password})
    return response.status_code


async def test_a_new_address_gets_a_pending_account_and_a_verification_email(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    body = signup_body(email="New.Client@Example.test")
    response = await client.post("/clients/signup", json=body)
    assert response.status_code == 202, response.text
    assert response.json() == NEUTRAL
    user = await user_of(db, "new.client@example.test")
    assert user["password_hash"] is None
    assert user["signup_pending_since"] is not None
    row = await db.fetchrow(
        "SELECT id, user_id, first_name FROM clients WHERE email = 'new.client@example.test'"
    )
    assert row["user_id"] == user["id"]
    assert row["first_name"] == "Ada"
    [audit] = await audit_rows(db, "client", row["id"])
    assert (audit["action"], audit["actor_user_id"]) == ("create", user["id"])
    assert audit["request_id"]
    # The job carries ids only: no address, name or token in the outbox row it relays.
    assert await account_emails(db, user["id"]) == [
        {"user_id": str(user["id"]), "kind": "verify_email"}
    ]
    # Pending: the password chosen at signup does not sign in before the address is verified.
    assert await login(client, body["email"], body["password"]) == 401
    message = await mail_for(db, settings, user["id"])
    assert message.to == "new.client@example.test"
    assert message.subject == "Confirm your email address for Hearth"
    assert message.body.startswith("Hello Ada,")
    assert "Lovelace" not in message.body
    reads = [a for a in await audit_rows(db, "client", row["id"]) if a["action"] == "read"]
    assert [(a["actor_role"], a["actor_user_id"]) for a in reads] == [("system", None)]
    assert "1990" not in message.body


async def test_a_registered_address_gets_the_same_answer_and_nothing_changes(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    owner = await make_client(db, settings, first_name="Grace")
    address = await db.fetchval("SELECT email FROM users WHERE id = $1", owner.user_id)
    before = await user_of(db, address)
    audited = await audit_rows(db, "client", owner.client_id)
    new = await client.post("/clients/signup", json=signup_body())
    again = await client.post(
        "/clients/signup", json=signup_body(email=address.upper(), password="another passphrase")
    )
    assert (again.status_code, again.json()) == (new.status_code, new.json()) == (202, NEUTRAL)
    assert await user_of(db, address) == before  # same password, not pending
    assert await db.fetchval("SELECT count(*) FROM clients WHERE email = $1", address) == 1
    assert await audit_rows(db, "client", owner.client_id) == audited
    assert await login(client, address, PASSWORD) == 200
    assert await login(client, address, "another passphrase") == 401
    # The owner is told someone tried; the mail carries no token and nothing of the attempt.
    assert await account_emails(db, owner.user_id) == [
        {"user_id": str(owner.user_id), "kind": "signup_attempt"}
    ]
    message = await mail_for(db, settings, owner.user_id)
    assert message.to == address
    assert message.subject == "Someone tried to sign up with your email address"
    assert message.body.startswith("Hello Grace,")
    assert "Verification code" not in message.body
    assert await db.fetchval("SELECT count(*) FROM email_verifications") == 0


async def test_each_path_hashes_the_password_once(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registered path does the new path's argon2 work, so the time taken tells nothing."""
    calls: list[str] = []
    real = verification.hash_password

    async def counted(password: str, time_cost: int, memory_kib: int) -> str:
        calls.append(password)
        return await real(password, time_cost, memory_kib)

    monkeypatch.setattr(verification, "hash_password", counted)
    owner = await make_client(db, settings)
    address = await db.fetchval("SELECT email FROM users WHERE id = $1", owner.user_id)
    assert (await client.post("/clients/signup", json=signup_body())).status_code == 202
    assert len(calls) == 1
    response = await client.post("/clients/signup", json=signup_body(email=address))
    assert response.status_code == 202
    assert len(calls) == 2


async def test_the_mailed_token_verifies_the_address_once_and_signs_in(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    body = signup_body()
    assert (await client.post("/clients/signup", json=body)).status_code == 202
    user = await user_of(db, body["email"])
    token = code_in(await mail_for(db, settings, user["id"]))
    # Only the token's hash is stored.
    stored = await db.fetchval("SELECT token_hash FROM email_verifications")
    assert stored == hashlib.sha256(token.encode()).digest()
    verified = await client.post(
        "/auth/verify-email", json={"token": token, "password": body["password"]}
    )
    assert verified.status_code == 200, verified.text
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {verified.json()['access_token']}"}
    )
    assert me.json()["email"] == body["email"]
    assert me.json()["role"] == "client"
    assert me.json()["client_id"] is not None
    assert await login(client, body["email"], body["password"]) == 200
    reused = await client.post(
        "/auth/verify-email", json={"token": token, "password": body["password"]}
    )
    assert reused.status_code == 401
    assert reused.json()["code"] == "bad_verification_token"
    # Verified: a later signup for the address is a registered one and replaces nothing.
    later = signup_body(email=body["email"], password="someone elses passphrase")
    assert (await client.post("/clients/signup", json=later)).status_code == 202
    assert await login(client, body["email"], body["password"]) == 200
    assert [e["kind"] for e in await account_emails(db, user["id"])] == [
        "verify_email",
        "signup_attempt",
    ]


async def test_an_unknown_or_expired_token_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, frozen: datetime
) -> None:
    body = signup_body()
    assert (await client.post("/clients/signup", json=body)).status_code == 202
    user = await user_of(db, body["email"])
    token = code_in(await mail_for(db, settings, user["id"]))
    unknown = await client.post(
        "/auth/verify-email", json={"token": "x" * 43, "password": "p" * 12}
    )
    assert unknown.status_code == 401
    assert unknown.json()["errors"][0]["field"] == "token"
    clock.CLOCK.advance(timedelta(seconds=settings.email_verification_ttl_s))
    expired = await client.post(
        "/auth/verify-email", json={"token": token, "password": body["password"]}
    )
    assert expired.status_code == 401
    assert (await user_of(db, body["email"]))["signup_pending_since"] is not None
    assert await login(client, body["email"], body["password"]) == 401


async def test_a_pending_signup_does_not_block_a_later_one(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    """Someone signed up with another person's address and never verified it: the real owner
    signs up later, gets a fresh link, and their password and profile are the ones kept."""
    squatter = signup_body(password="squatter passphrase", first_name="Mallory")
    assert (await client.post("/clients/signup", json=squatter)).status_code == 202
    user = await user_of(db, squatter["email"])
    squatter_token = code_in(await mail_for(db, settings, user["id"]))
    owner = signup_body(email=squatter["email"], first_name="Ada")
    again = await client.post("/clients/signup", json=owner)
    assert (again.status_code, again.json()) == (202, NEUTRAL)
    assert (await user_of(db, owner["email"]))["id"] == user["id"]
    [row] = await db.fetch("SELECT id, first_name FROM clients WHERE email = $1", owner["email"])
    assert row["first_name"] == "Ada"
    assert [a["action"] for a in await audit_rows(db, "client", row["id"])] == [
        "create",
        "read",  # the job read the squatter's name for their email
        "update",
    ]
    # The earlier link stopped working; the owner's link verifies with the owner's password.
    stale = await client.post(
        "/auth/verify-email", json={"token": squatter_token, "password": squatter["password"]}
    )
    assert stale.status_code == 401
    message = await mail_for(db, settings, user["id"])
    assert message.body.startswith("Hello Ada,")
    verified = await client.post(
        "/auth/verify-email", json={"token": code_in(message), "password": owner["password"]}
    )
    assert verified.status_code == 200
    assert await login(client, owner["email"], owner["password"]) == 200
    assert await login(client, owner["email"], squatter["password"]) == 401


async def test_the_mailbox_owner_cannot_activate_a_strangers_signup_with_the_link_alone(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    """The attack: a stranger signs up with someone's address and a password they know; the
    owner follows the mailed link; the stranger would then own a verified account there.
    The link alone verifies nothing: the signup's password must come with it."""
    squatter = signup_body(password="squatter passphrase")
    assert (await client.post("/clients/signup", json=squatter)).status_code == 202
    user = await user_of(db, squatter["email"])
    link = code_in(await mail_for(db, settings, user["id"]))
    for attempt in ({"token": link}, {"token": link, "password": "the owners own guess"}):
        refused = await client.post("/auth/verify-email", json=attempt)
        assert refused.status_code in (400, 401), refused.text
        assert refused.json()["errors"][0]["field"] == "password"
    assert (await user_of(db, squatter["email"]))["signup_pending_since"] is not None
    assert await login(client, squatter["email"], squatter["password"]) == 401
    # A mistyped password does not spend the token.
    verified = await client.post(
        "/auth/verify-email", json={"token": link, "password": squatter["password"]}
    )
    assert verified.status_code == 200


async def test_ops_create_a_client_for_a_pending_address(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    squatter = signup_body(password="squatter passphrase")
    assert (await client.post("/clients/signup", json=squatter)).status_code == 202
    user = await user_of(db, squatter["email"])
    squatter_token = code_in(await mail_for(db, settings, user["id"]))
    ops = await make_ops(db)
    body = signup_body(email=squatter["email"], first_name="Grace")
    del body["password"]
    created = await client.post("/clients", json=body, headers=token(ops))
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["client"]["user_id"] == str(user["id"])
    assert out["client"]["first_name"] == "Grace"
    claimed = await user_of(db, body["email"])
    assert claimed["signup_pending_since"] is None
    assert claimed["password_hash"] is None
    assert claimed["pending_password_hash"] is None
    assert (
        await client.post(
            "/auth/verify-email", json={"token": squatter_token, "password": squatter["password"]}
        )
    ).status_code == 401
    assert await login(client, body["email"], squatter["password"]) == 401
    [_, _, update] = await audit_rows(db, "client", uuid.UUID(out["client"]["id"]))
    assert (update["action"], update["actor_user_id"]) == ("update", ops.user_id)
    accepted = await client.post(
        "/auth/invites/accept", json={"token": out["invite_token"], "password": PASSWORD}
    )
    assert accepted.status_code == 200
    assert await login(client, body["email"], PASSWORD) == 200
    # The verification job queued by the signup now sends nothing.
    outbox_id = await db.fetchval(
        "SELECT id FROM outbox WHERE job = 'send_account_email' AND completed_at IS NULL"
    )
    if outbox_id is not None:
        assert await prepare_account_email(db, settings, outbox_id) is None


def other_address(app_client: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """The same app, called from another client address."""
    app = app_client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hearth.test")


async def test_signup_is_limited_per_address(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    """Stops one address from making the API hash passwords (or mail strangers) at will."""
    for _ in range(settings.signup_max_per_address):
        assert (await client.post("/clients/signup", json=signup_body())).status_code == 202
    body = signup_body()
    refused = await client.post("/clients/signup", json=body)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= settings.account_limit_window_s
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", body["email"]) == 0
    async with other_address(client, "198.51.100.20") as elsewhere:
        assert (await elsewhere.post("/clients/signup", json=body)).status_code == 202


async def test_email_verification_is_limited_per_address(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Stops guessing verification tokens from one address."""
    for _ in range(settings.verify_email_max_per_address):
        response = await client.post(
            "/auth/verify-email", json={"token": "y" * 43, "password": "p" * 12}
        )
        assert response.status_code == 401
    refused = await client.post(
        "/auth/verify-email", json={"token": "y" * 43, "password": "p" * 12}
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    async with other_address(client, "198.51.100.21") as elsewhere:
        response = await elsewhere.post(
            "/auth/verify-email", json={"token": "y" * 43, "password": "p" * 12}
        )
        assert response.status_code == 401


async def test_invitation_acceptance_is_limited_per_address(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    """Stops one address from guessing invitation tokens and making the API hash passwords."""
    ops = await make_ops(db)
    body = signup_body()
    del body["password"]
    invited = (await client.post("/clients", json=body, headers=token(ops))).json()
    for _ in range(settings.invite_accept_max_per_address):
        bad = await client.post(
            "/auth/invites/accept", json={"token": "z" * 43, "password": PASSWORD}
        )
        assert bad.status_code == 401
    good = {"token": invited["invite_token"], "password": PASSWORD}
    refused = await client.post("/auth/invites/accept", json=good)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    async with other_address(client, "198.51.100.22") as elsewhere:
        assert (await elsewhere.post("/auth/invites/accept", json=good)).status_code == 200


async def test_weak_password_is_400_naming_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/clients/signup", json=signup_body(password="short"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


@pytest.mark.parametrize("dob", ["2026-11-28", "1899-12-31"])  # the clock: 2026-11-26
async def test_date_of_birth_in_the_future_or_before_1900_is_422(
    client: httpx.AsyncClient, db: asyncpg.Connection, clock: Clock, dob: str
) -> None:
    body = signup_body(date_of_birth=dob)
    response = await client.post("/clients/signup", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "date_of_birth"
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", body["email"]) == 0


async def test_a_date_of_birth_of_29_february(
    client: httpx.AsyncClient, db: asyncpg.Connection, clock: Clock
) -> None:
    clock.freeze(datetime(2028, 2, 29, 12, 0, tzinfo=UTC))
    for dob in ("1992-02-29", "2028-02-29"):  # a leap day long ago, and today's
        response = await client.post("/clients/signup", json=signup_body(date_of_birth=dob))
        assert response.status_code == 202, response.text  # accepted: the email link follows
    tomorrow = await client.post("/clients/signup", json=signup_body(date_of_birth="2028-03-01"))
    assert tomorrow.status_code == 422
    assert tomorrow.json()["errors"][0]["field"] == "date_of_birth"
    no_such_day = await client.post("/clients/signup", json=signup_body(date_of_birth="2027-02-29"))
    assert no_such_day.status_code in (400, 422)
    assert no_such_day.json()["errors"][0]["field"] == "date_of_birth"


BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("first_name", {"first_name": "x" * 101}),
    ("first_name", {"first_name": 12}),
    ("date_of_birth", {"date_of_birth": "1990-02-30"}),
    ("date_of_birth", {"date_of_birth": 99999999999999999999}),
    ("sex", {"sex": "X"}),
    ("address.state", {"address": {"line1": "1", "city": "c", "state": "ZZ", "zip": "62701"}}),
    ("address.zip", {"address": {"line1": "1", "city": "c", "state": "IL", "zip": "6270"}}),
    ("phone", {"phone": "call me"}),
    ("email", {"email": "not-an-email"}),
    ("admin", {"admin": True}),
]


@pytest.mark.parametrize(("field", "change"), BAD_BODIES)
async def test_bad_signup_input_is_400_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, field: str, change: dict[str, Any]
) -> None:
    before = await db.fetchval("SELECT count(*) FROM users")
    response = await client.post("/clients/signup", json=signup_body(**change))
    assert response.status_code == 400, response.text
    problem = response.json()
    # An unknown field is named in the message (the field is the body itself).
    assert field in problem["detail"] or field in problem["errors"][0]["message"]
    assert await db.fetchval("SELECT count(*) FROM users") == before


async def test_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/clients/signup", content=b"\xff\x00{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_ops_create_a_client_with_an_invitation(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    body = signup_body()
    del body["password"]
    response = await client.post("/clients", json=body, headers=token(ops))
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["client"]["email"] == body["email"]
    assert (
        await db.fetchval(
            "SELECT password_hash FROM users WHERE id = $1::uuid", out["client"]["user_id"]
        )
        is None
    )
    accepted = await client.post(
        "/auth/invites/accept", json={"token": out["invite_token"], "password": PASSWORD}
    )
    assert accepted.status_code == 200
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"}
    )
    assert me.json()["client_id"] == out["client"]["id"]
    [audit] = await db.fetch(
        "SELECT actor_user_id, action FROM audit_events WHERE entity = 'client'"
        " AND entity_id = $1::uuid",
        out["client"]["id"],
    )
    assert (audit["actor_user_id"], audit["action"]) == (ops.user_id, "create")


async def test_ops_create_refuses_a_password_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.post("/clients", json=signup_body(), headers=token(ops))
    assert response.status_code == 400
    assert "password" in response.json()["errors"][0]["message"]
