"""SQL for users, refresh tokens, invitations and email verifications.

Foreign tables read: providers and clients (the profile id a user's token carries, joined to
the user in the same read).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.identity import AccessStateRow, InviteRow, RefreshTokenRow, UserRow
from services.core import clock
from services.core.db import to_struct

_USER = """
    SELECT u.id, u.email, u.password_hash, u.role, u.created_at, u.disabled_at, u.token_version,
           p.id AS provider_id, c.id AS client_id
    FROM users u
    LEFT JOIN providers p ON p.user_id = u.id
    LEFT JOIN clients c ON c.user_id = u.id
"""


async def get_user_by_email(conn: asyncpg.Connection, email: str) -> UserRow | None:
    return to_struct(await conn.fetchrow(_USER + " WHERE u.email = $1", email), UserRow)


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserRow | None:
    return to_struct(await conn.fetchrow(_USER + " WHERE u.id = $1", user_id), UserRow)


async def lock_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserRow | None:
    return to_struct(
        await conn.fetchrow(_USER + " WHERE u.id = $1 FOR UPDATE OF u", user_id), UserRow
    )


async def insert_user(
    conn: asyncpg.Connection, email: str, role: str, password_hash: str | None
) -> uuid.UUID | None:
    """None when the email is taken."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO users (email, role, password_hash) VALUES ($1, $2, $3)
        ON CONFLICT (email) DO NOTHING
        RETURNING id
        """,
        email,
        role,
        password_hash,
    )
    return user_id


async def get_access_state(
    conn: asyncpg.Connection, user_id: uuid.UUID, family_id: uuid.UUID
) -> AccessStateRow | None:
    """What an access token is checked against on every request; None for an unknown user."""
    row = await conn.fetchrow(
        """
        SELECT u.role, u.disabled_at IS NOT NULL AS disabled, u.token_version,
               p.id AS provider_id, c.id AS client_id,
               EXISTS (
                   SELECT 1 FROM refresh_tokens r
                   WHERE r.family_id = $2 AND r.revoked_at IS NOT NULL
               ) AS session_revoked
        FROM users u
        LEFT JOIN providers p ON p.user_id = u.id
        LEFT JOIN clients c ON c.user_id = u.id
        WHERE u.id = $1
        """,
        user_id,
        family_id,
    )
    return to_struct(row, AccessStateRow)


async def update_password(conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str) -> int:
    """A new password ends every access token signed before it: returns the new token version."""
    version: int = await conn.fetchval(
        """
        UPDATE users
        SET password_hash = $2, password_changed_at = $3, token_version = token_version + 1
        WHERE id = $1
        RETURNING token_version
        """,
        user_id,
        password_hash,
        clock.now(),
    )
    return version


async def update_password_hash(
    conn: asyncpg.Connection, user_id: uuid.UUID, old_hash: str, new_hash: str
) -> None:
    """The same password under new argon2 parameters: no token is ended, no change recorded.

    Only while the stored hash is still the one verified, so a concurrent password change wins.
    """
    await conn.execute(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        user_id,
        old_hash,
        new_hash,
    )


async def update_disabled(
    conn: asyncpg.Connection, user_id: uuid.UUID, disabled_at: datetime | None
) -> datetime | None:
    """Disable (keeping the first time) or enable; disabling also ends every access token."""
    value: datetime | None = await conn.fetchval(
        """
        UPDATE users
        SET disabled_at = CASE WHEN $2::timestamptz IS NULL THEN NULL
                               ELSE coalesce(disabled_at, $2) END,
            token_version = token_version + CASE WHEN $2::timestamptz IS NULL THEN 0 ELSE 1 END
        WHERE id = $1
        RETURNING disabled_at
        """,
        user_id,
        disabled_at,
    )
    return value


async def insert_refresh_token(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: bytes,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
        VALUES ($1, $2, $3, $4)
        """,
        user_id,
        family_id,
        token_hash,
        expires_at,
    )


async def lock_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> RefreshTokenRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, user_id, family_id, expires_at, used_at, revoked_at
        FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE
        """,
        token_hash,
    )
    return to_struct(row, RefreshTokenRow)


async def update_refresh_token_used(conn: asyncpg.Connection, token_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1", token_id, clock.now()
    )


async def update_revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
        clock.now(),
    )


async def update_revoke_user_tokens(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
        clock.now(),
    )


async def insert_invite(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    token_hash: bytes,
    created_by: uuid.UUID | None,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO user_invites (user_id, token_hash, created_by, expires_at)
        VALUES ($1, $2, $3, $4)
        """,
        user_id,
        token_hash,
        created_by,
        expires_at,
    )


async def lock_invite(conn: asyncpg.Connection, token_hash: bytes) -> InviteRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, user_id, expires_at, accepted_at
        FROM user_invites WHERE token_hash = $1 FOR UPDATE
        """,
        token_hash,
    )
    return to_struct(row, InviteRow)


async def update_invite_accepted(conn: asyncpg.Connection, invite_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE user_invites SET accepted_at = $2 WHERE id = $1", invite_id, clock.now()
    )


async def update_expire_invites(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE user_invites SET expires_at = $2 WHERE user_id = $1 AND accepted_at IS NULL",
        user_id,
        clock.now(),
    )


# --- self-signup pending verification -------------------------------------------------------


async def lock_user_by_email(conn: asyncpg.Connection, email: str) -> tuple[uuid.UUID, bool] | None:
    """(user id, whether it is a self-signup still pending verification), locked."""
    row = await conn.fetchrow(
        "SELECT id, signup_pending_since IS NOT NULL AS pending FROM users"
        " WHERE email = $1 FOR UPDATE",
        email,
    )
    return None if row is None else (row["id"], row["pending"])


async def insert_pending_user(
    conn: asyncpg.Connection, email: str, role: str, pending_hash: str, now: datetime
) -> uuid.UUID | None:
    """None when the email is taken (a concurrent signup won the race)."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO users (email, role, pending_password_hash, signup_pending_since)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (email) DO NOTHING
        RETURNING id
        """,
        email,
        role,
        pending_hash,
        now,
    )
    return user_id


async def update_pending_signup(
    conn: asyncpg.Connection, user_id: uuid.UUID, pending_hash: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE users SET pending_password_hash = $2, signup_pending_since = $3"
        " WHERE id = $1 AND signup_pending_since IS NOT NULL",
        user_id,
        pending_hash,
        now,
    )


async def update_end_pending(
    conn: asyncpg.Connection, user_id: uuid.UUID, now: datetime, *, keep_password: bool
) -> None:
    """Verified (the pending password becomes the password) or claimed by ops (it is dropped)."""
    await conn.execute(
        """
        UPDATE users SET
            password_hash = CASE WHEN $3 THEN pending_password_hash ELSE password_hash END,
            password_changed_at = CASE WHEN $3 THEN $2 ELSE password_changed_at END,
            pending_password_hash = NULL, signup_pending_since = NULL
        WHERE id = $1 AND signup_pending_since IS NOT NULL
        """,
        user_id,
        now,
        keep_password,
    )


async def get_pending_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    hashed: str | None = await conn.fetchval(
        "SELECT pending_password_hash FROM users WHERE id = $1", user_id
    )
    return hashed


async def lock_pending(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    """Whether the user is a self-signup still pending verification; locks the user."""
    pending: bool | None = await conn.fetchval(
        "SELECT signup_pending_since IS NOT NULL FROM users"
        " WHERE id = $1 AND disabled_at IS NULL FOR UPDATE",
        user_id,
    )
    return bool(pending)


async def insert_email_verification(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    token_hash: bytes,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO email_verifications (user_id, token_hash, created_at, expires_at)
        VALUES ($1, $2, $3, $4)
        """,
        user_id,
        token_hash,
        now,
        expires_at,
    )


async def lock_email_verification(
    conn: asyncpg.Connection, token_hash: bytes
) -> tuple[uuid.UUID, uuid.UUID, datetime, datetime | None] | None:
    """(id, user id, expires at, used at), locked."""
    row = await conn.fetchrow(
        "SELECT id, user_id, expires_at, used_at FROM email_verifications"
        " WHERE token_hash = $1 FOR UPDATE",
        token_hash,
    )
    return None if row is None else (row["id"], row["user_id"], row["expires_at"], row["used_at"])


async def update_email_verification_used(
    conn: asyncpg.Connection, verification_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        "UPDATE email_verifications SET used_at = $2 WHERE id = $1", verification_id, now
    )


async def update_expire_email_verifications(
    conn: asyncpg.Connection, user_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        "UPDATE email_verifications SET expires_at = $2"
        " WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2",
        user_id,
        now,
    )
