"""decide_loss: every default policy and every condition both ways, unknown facts and CARCs."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import asyncpg
import pytest

from schemas.recoupment import LossFacts, RecoupmentPolicyIn
from services.core.auth import Actor
from services.remittance import policies
from services.remittance.recoupment import confirmed_late, decide_loss
from tests.factories import make_ops

# DESIGN.md "Who carries a loss": (group, code) -> (decision, condition).
DEFAULTS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("CO", "50"): ("recoup", None),
    ("CO", "197"): ("recoup", "no_authorization_recorded"),
    ("CO", "15"): ("recoup", "no_authorization_recorded"),
    ("CO", "198"): ("recoup", "no_authorization_recorded"),
    ("CO", "29"): ("recoup", "confirmed_late"),
    ("CO", "16"): ("absorb", None),
    ("CO", "B7"): ("recoup", "licence_lapsed"),
    ("CO", "185"): ("recoup", "licence_lapsed"),
    ("CO", "22"): ("absorb", None),  # coordination of benefits
    ("OA", "23"): ("absorb", None),  # a prior payer's adjudication
}
UNCONDITIONAL = [carc for carc, (_, condition) in DEFAULTS.items() if condition is None]
BOOLS: list[bool | None] = [True, False, None]
EVERY_FACTS = [
    LossFacts(authorization_recorded=a, confirmed_late=c, licence_lapsed=licence)
    for a, c, licence in itertools.product(BOOLS, BOOLS, BOOLS)
]


def F(**facts: Any) -> LossFacts:
    return LossFacts(**facts)


# (group, code, facts, decision, flag_ops, words the reason must carry)
CONDITIONAL: list[tuple[str, str, LossFacts, str, bool, str]] = [
    # Authorization: recoup only when the provider had recorded none.
    *[
        row
        for code in ("197", "15", "198")
        for row in (
            ("CO", code, F(authorization_recorded=False), "recoup", False, "no prior auth"),
            ("CO", code, F(authorization_recorded=True), "absorb", False, "a prior auth"),
            ("CO", code, F(), "absorb", True, "not known"),
            # Other facts never stand in for the one the condition reads.
            ("CO", code, F(confirmed_late=True, licence_lapsed=True), "absorb", True, "not known"),
        )
    ],
    # Timely filing: recoup only when the session was confirmed late.
    ("CO", "29", F(confirmed_late=True), "recoup", False, "confirmed too late"),
    ("CO", "29", F(confirmed_late=False), "absorb", False, "confirmed in time"),
    ("CO", "29", F(), "absorb", True, "not known"),
    ("CO", "29", F(authorization_recorded=False, licence_lapsed=True), "absorb", True, "not known"),
    # Provider not eligible: absorb unless the licence lapsed on the date of service.
    *[
        row
        for code in ("B7", "185")
        for row in (
            ("CO", code, F(licence_lapsed=True), "recoup", False, "licence had lapsed"),
            ("CO", code, F(licence_lapsed=False), "absorb", False, "licence was current"),
            ("CO", code, F(), "absorb", True, "not known"),
            ("CO", code, F(confirmed_late=True, authorization_recorded=False), "absorb", True, ""),
        )
    ],
]


async def _policy_id(db: asyncpg.Connection, group: str, code: str) -> Any:
    return await db.fetchval(
        "SELECT id FROM recoupment_policies WHERE carc_group = $1 AND carc_code = $2", group, code
    )


async def test_the_migration_seeds_exactly_design_defaults(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        "SELECT carc_group, carc_code, decision, condition, is_default, updated_by,"
        " length(description) > 10 AS described FROM recoupment_policies"
    )
    seeded = {(r["carc_group"], r["carc_code"]): (r["decision"], r["condition"]) for r in rows}
    assert seeded == DEFAULTS
    assert all(r["is_default"] and r["updated_by"] is None and r["described"] for r in rows)


@pytest.mark.parametrize("facts", EVERY_FACTS, ids=str)
@pytest.mark.parametrize("carc", UNCONDITIONAL, ids="-".join)
async def test_an_unconditional_default_ignores_the_facts(
    db: asyncpg.Connection, carc: tuple[str, str], facts: LossFacts
) -> None:
    group, code = carc
    decision = await decide_loss(db, group, code, facts)
    assert decision.decision == DEFAULTS[carc][0]
    assert decision.policy_id == await _policy_id(db, group, code)
    assert not decision.flag_ops
    who = "Recouped from the provider" if decision.decision == "recoup" else "Absorbed"
    assert decision.reason_text.startswith(who)
    assert f"({group}-{code})" in decision.reason_text


@pytest.mark.parametrize(
    ("group", "code", "facts", "expected", "flag", "words"),
    CONDITIONAL,
    ids=[f"{g}-{c}-{f}" for g, c, f, *_ in CONDITIONAL],
)
async def test_a_conditional_default_recoups_only_when_its_condition_holds(
    db: asyncpg.Connection,
    group: str,
    code: str,
    facts: LossFacts,
    expected: str,
    flag: bool,
    words: str,
) -> None:
    decision = await decide_loss(db, group, code, facts)
    assert (decision.decision, decision.flag_ops) == (expected, flag)
    assert decision.policy_id == await _policy_id(db, group, code)
    assert words in decision.reason_text
    assert f"({group}-{code})" in decision.reason_text


def test_every_conditional_default_is_covered_both_ways() -> None:
    covered = {(g, c, d) for g, c, _, d, flag, _ in CONDITIONAL if not flag}
    conditional = [carc for carc, (_, condition) in DEFAULTS.items() if condition]
    assert covered == {(*carc, d) for carc in conditional for d in ("recoup", "absorb")}


@pytest.mark.parametrize(
    ("group", "code"),
    [("CO", "B9"), ("PI", "50"), ("OA", "16"), ("PR", "204"), ("CO", "P14"), ("co", "b9")],
)
async def test_an_unknown_carc_is_absorbed_and_flagged(
    db: asyncpg.Connection, group: str, code: str
) -> None:
    decision = await decide_loss(db, group, code, F(authorization_recorded=False))
    assert (decision.decision, decision.policy_id, decision.flag_ops) == ("absorb", None, True)
    assert f"{group.upper()}-{code.upper()} has no recoupment policy" in decision.reason_text


@pytest.mark.parametrize(
    ("group", "code"), [("ZZ", "50"), ("CO", "0"), ("CO", "1234"), ("CO", "<b>x</b>"), ("", "")]
)
async def test_a_value_that_is_no_carc_is_flagged_and_not_repeated(
    db: asyncpg.Connection, group: str, code: str
) -> None:
    decision = await decide_loss(db, group, code, F())
    assert (decision.decision, decision.policy_id, decision.flag_ops) == ("absorb", None, True)
    assert "an unrecognised adjustment reason" in decision.reason_text
    assert "<b>" not in decision.reason_text


@pytest.mark.parametrize("group", ["CO", "PI", "OA", "PR", "co"])
async def test_carc_45_is_never_a_loss(db: asyncpg.Connection, group: str) -> None:
    decision = await decide_loss(db, group, "45", F(licence_lapsed=True))
    assert (decision.decision, decision.policy_id, decision.flag_ops) == ("not_a_loss", None, False)


async def test_lower_case_and_padding_find_the_row(db: asyncpg.Connection) -> None:
    decision = await decide_loss(db, " co", "b7 ", F(licence_lapsed=True))
    assert decision.decision == "recoup"
    assert decision.policy_id == await _policy_id(db, "CO", "B7")


async def test_ops_changes_decide_the_next_loss(db: asyncpg.Connection) -> None:
    ops: Actor = await make_ops(db)
    assert (await decide_loss(db, "CO", "16", F())).decision == "absorb"
    await policies.set_policy(
        db, ops, "CO", "16", RecoupmentPolicyIn(decision="recoup", description="our rule")
    )
    changed = await decide_loss(db, "CO", "16", F())
    assert (changed.decision, changed.flag_ops) == ("recoup", False)
    assert changed.reason_text == "Recouped from the provider: our rule (CO-16)"
    # CO-29 without its condition recoups whatever the facts say.
    await policies.set_policy(
        db, ops, "CO", "29", RecoupmentPolicyIn(decision="recoup", description="late")
    )
    assert (await decide_loss(db, "CO", "29", F(confirmed_late=False))).decision == "recoup"
    # A new CARC stops being flagged once ops give it a policy.
    await policies.set_policy(
        db,
        ops,
        "PI",
        "B9",
        RecoupmentPolicyIn(decision="recoup", condition="licence_lapsed", description="pi"),
    )
    new = await decide_loss(db, "PI", "B9", F(licence_lapsed=False))
    assert (new.decision, new.flag_ops) == ("absorb", False)
    assert new.policy_id == await _policy_id(db, "PI", "B9")


# The window closes 90 days after 1 January 2026: 1 April; the margin leaves 25 March.
@pytest.mark.parametrize(
    ("confirmed_on", "late"),
    [
        (date(2026, 1, 1), False),
        (date(2026, 3, 25), False),  # exactly the margin left
        (date(2026, 3, 26), True),
        (date(2026, 4, 1), True),  # the window's last day
        (date(2026, 5, 1), True),
    ],
)
def test_confirmed_late_leaves_the_platform_its_margin(confirmed_on: date, late: bool) -> None:
    assert confirmed_late(date(2026, 1, 1), confirmed_on, 90, margin_days=7) is late


def test_confirmed_late_uses_the_default_margin() -> None:
    service = date(2026, 1, 1)
    assert confirmed_late(service, date(2026, 3, 25), 90) is False
    assert confirmed_late(service, date(2026, 3, 26), 90) is True
