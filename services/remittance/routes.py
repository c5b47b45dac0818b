"""/recoupment-policies: who carries a denial's or reversal's loss, per CARC (ops only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, put
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, PathParameter

from schemas.recoupment import (
    CARC_CODE_PATTERN,
    CARC_GROUP_PATTERN,
    RecoupmentPolicyChangeOut,
    RecoupmentPolicyIn,
    RecoupmentPolicyOut,
)
from services.core.auth import allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.remittance import policies

GroupPath = Annotated[
    str,
    PathParameter(pattern=CARC_GROUP_PATTERN, description="adjustment group: CO, PI, OA or PR"),
]
CodePath = Annotated[
    str,
    PathParameter(
        pattern=CARC_CODE_PATTERN, description="claim adjustment reason code (50, 197, B7)"
    ),
]
# Who carries a loss is the platform's decision: providers and clients neither read nor change it.
OPS = [allow("ops")]


class RecoupmentPoliciesController(Controller):
    path = "/recoupment-policies"
    tags = ["remittance"]

    @get("/", guards=OPS, operation_id="list_recoupment_policies")
    async def list(
        self, conn: Conn, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
    ) -> Page[RecoupmentPolicyOut]:
        """Every CARC's policy, oldest first (DESIGN.md's defaults, then those ops added)."""
        return await policies.list_policies(conn, limit, cursor)

    @get("/{policy_id:uuid}", guards=OPS, operation_id="get_recoupment_policy")
    async def show(self, policy_id: FromPath[uuid.UUID], conn: Conn) -> RecoupmentPolicyOut:
        """One policy."""
        return await policies.get_policy(conn, policy_id)

    @get("/{policy_id:uuid}/changes", guards=OPS, operation_id="list_recoupment_policy_changes")
    async def changes(
        self,
        policy_id: FromPath[uuid.UUID],
        conn: Conn,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[RecoupmentPolicyChangeOut]:
        """Who changed the policy, when, and its terms before and after, oldest first."""
        return await policies.list_changes(conn, policy_id, limit, cursor)

    @put(
        "/{group:str}/{code:str}",
        guards=OPS,
        operation_id="set_recoupment_policy",
        responses={201: ResponseSpec(RecoupmentPolicyOut, description="The policy was created")},
    )
    async def set(
        self,
        group: GroupPath,
        code: CodePath,
        data: JSONBody[RecoupmentPolicyIn],
        conn: Conn,
        actor: Caller,
    ) -> Response[RecoupmentPolicyOut]:
        """Set a CARC's policy: 201 when it is new, 200 when it changed or already said so."""
        policy, created = await policies.set_policy(conn, actor, group, code, data)
        return Response(policy, status_code=201 if created else 200)

    @delete("/{group:str}/{code:str}", guards=OPS, operation_id="delete_recoupment_policy")
    async def remove(self, group: GroupPath, code: CodePath, conn: Conn, actor: Caller) -> None:
        """Delete a policy ops added (409 for DESIGN.md's defaults: change those instead)."""
        await policies.delete_policy(conn, actor, group, code)
