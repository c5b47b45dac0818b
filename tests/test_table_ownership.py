"""Each domain's SQL writes only its own tables, and says which foreign tables it reads.

A simple scan of the string constants in services/: INSERT INTO, UPDATE ... SET and DELETE FROM
name the tables written, FROM and JOIN the tables read; TABLES maps each table (from its
migration) to the domain that owns it. A domain writes another's table through that domain's
service; a read that joins a foreign table is allowed where one query beats two, and the queries
module's docstring names the table. SQL lives only in queries modules (queries.py, or the
modules of a queries/ package; services/core keeps its own: outbox, audit, idempotency,
migrations, X12 control numbers). The domains are those of the import contracts
(pyproject.toml); tools such as the benchmarks are not scanned.
"""

from __future__ import annotations

import ast
import re
import shutil
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "infra" / "migrations"


def _domains() -> set[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (independent,) = (c for c in config["contracts"] if c["id"] == "domains-through-service")
    return {module.removeprefix("services.") for module in independent["modules"]} | {"core"}


DOMAINS = _domains()

TABLES: dict[str, str] = {
    **dict.fromkeys(("audit_events", "idempotency_keys", "outbox", "schema_migrations"), "core"),
    **dict.fromkeys(("users", "refresh_tokens", "user_invites", "email_verifications"), "identity"),
    **dict.fromkeys(("payers", "fee_schedule_keys", "fee_schedules"), "payers"),
    **dict.fromkeys(
        ("providers", "provider_licences", "provider_locations", "provider_self_pay_rates"),
        "providers",
    ),
    **dict.fromkeys(
        ("clients", "insurance_policy_keys", "insurance_policies", "client_providers"), "clients"
    ),
    **dict.fromkeys(("credentialing_records", "credentialing_events"), "credentialing"),
    **dict.fromkeys(("therapy_sessions", "therapy_session_lines"), "therapy_sessions"),
    # Ops enter them for estimates; migration 0006 (benefit checks) made them, eligibility writes.
    **dict.fromkeys(("benefit_checks", "payer_out_of_network_rates"), "eligibility"),
    "prior_authorizations": "prior_authorizations",
    **dict.fromkeys(
        (
            "claims",
            "claim_lines",
            "claim_submissions",
            "claim_status_history",
            "platform_charges",
            "claim_batches",
            "claim_batch_files",
        ),
        "claims",
    ),
    **dict.fromkeys(("ledger_accounts", "journal_entries", "journal_lines"), "ledger"),
    "ops_digests": "ops",
    **dict.fromkeys(
        (
            "stripe_customers",
            "payment_setups",
            "payment_methods",
            "client_charges",
            "client_refunds",
            "stripe_events",
            "client_disputes",
            "failed_refunds",
            "payment_exceptions",
            "client_statement_emails",
            "charge_recoveries",
            "charge_attempts",
        ),
        "payments",
    ),
    **dict.fromkeys(
        (
            "recoupment_policies",
            "recoupment_policy_changes",
            "remittance_files",
            "remittance_payments",
            "remitted_claims",
            "remitted_lines",
            "remittance_adjustments",
            "remittance_provider_adjustments",
            "remittance_fetch_cursors",
            "remittance_fetch_refusals",
            "client_true_ups",
        ),
        "remittance",
    ),
    **dict.fromkeys(("denial_resolutions", "claim_appeals", "claim_appeal_notes"), "denials"),
    **dict.fromkeys(
        (
            "payout_accounts",
            "payout_schedules",
            "payout_holds",
            "trial_balance_checks",
            "platform_top_ups",
            "payouts",
            "payout_lines",
            "payout_reversals",
            "payout_runs",
        ),
        "payouts",
    ),
    **dict.fromkeys(("good_faith_estimates", "good_faith_bills"), "good_faith"),
    **dict.fromkeys(("superbill_preferences", "superbill_emails"), "superbills"),
}

_NAME = r"([a-z_][a-z0-9_]*)"
_WRITES = re.compile(rf"\b(?:INSERT\s+INTO|DELETE\s+FROM)\s+{_NAME}|\bUPDATE\s+{_NAME}\s+SET\b")
_READS = re.compile(rf"\b(?:FROM|JOIN)\s+{_NAME}")
_CREATES = re.compile(rf"\bCREATE TABLE\s+(?:IF NOT EXISTS\s+)?{_NAME}")


def _strings(path: Path) -> list[str]:
    """The module's string constants (f-string parts too), docstrings left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _domain(services: Path, path: Path) -> str | None:
    """services/<domain>/...: the domain (core included); None outside the domains."""
    parts = path.relative_to(services).parts
    return parts[0] if len(parts) > 1 and parts[0] in DOMAINS else None


def tables_used(path: Path) -> tuple[set[str], set[str]]:
    """(tables written, tables read) by the SQL in one module; only tables TABLES knows."""
    written: set[str] = set()
    read: set[str] = set()
    for text in _strings(path):
        written |= {a or b for a, b in _WRITES.findall(text)}
        read |= set(_READS.findall(text))
    return written & TABLES.keys(), read & TABLES.keys()


def breaches(services: Path) -> list[str]:
    """Every breach of the rules in the module docstring, one line each."""
    found: list[str] = []
    for path in sorted(services.rglob("*.py")):
        domain = _domain(services, path)
        if domain is not None:
            found += _module_breaches(services, path, domain)
    return found


def _is_queries(path: Path) -> bool:
    """A queries module: queries.py, or any module of a queries/ package."""
    return path.name == "queries.py" or path.parent.name == "queries"


def _module_breaches(services: Path, path: Path, domain: str) -> list[str]:
    where = path.relative_to(services.parent).as_posix()
    written, read = tables_used(path)
    found = [
        f"{where} writes {table}, a table of {TABLES[table]}"
        for table in sorted(written)
        if TABLES[table] != domain
    ]
    if domain == "core":
        found += [
            f"{where} reads {table}: core knows no domain's tables"
            for table in sorted(read - written)
            if TABLES[table] != "core"
        ]
    elif not _is_queries(path) and (written or read):
        found.append(f"{where} has SQL ({sorted(written | read)}) outside queries.py")
    if _is_queries(path):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found += [
            f"{where} reads {table} ({TABLES[table]}) unnamed in its docstring"
            for table in sorted(read - written)
            if TABLES[table] != domain and not re.search(rf"\b{table}\b", doc)
        ]
    return found


def test_every_table_of_the_migrations_has_an_owner() -> None:
    assert set(TABLES.values()) <= DOMAINS
    # The migration runner makes its own bookkeeping table.
    sources = [*MIGRATIONS.glob("*.sql"), REPO / "services" / "core" / "migrations.py"]
    created = set()
    for source in sources:
        created |= set(_CREATES.findall(source.read_text()))
    assert created == TABLES.keys()


def test_each_domain_writes_only_its_own_tables() -> None:
    assert breaches(REPO / "services") == []


@pytest.fixture
def services_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "services"
    shutil.copytree(REPO / "services", copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _plant(copy: Path, module: str, code: str) -> None:
    with (copy / module).open("a") as file:
        file.write("\n\n" + code + "\n")


@pytest.mark.parametrize(
    ("module", "code", "breach"),
    [
        (
            "eligibility/queries.py",
            'PLANTED = "UPDATE clients SET last_name = $2 WHERE id = $1"',
            "services/eligibility/queries.py writes clients, a table of clients",
        ),
        (
            "therapy_sessions/queries.py",
            'PLANTED = """\n    INSERT INTO client_providers\n    (provider_id, client_id)\n"""',
            "services/therapy_sessions/queries.py writes client_providers, a table of clients",
        ),
        (
            "payers/queries.py",
            'PLANTED = f"DELETE FROM audit_events WHERE id = {1}"',
            "services/payers/queries.py writes audit_events, a table of core",
        ),
        (
            "payers/queries.py",
            'PLANTED = "SELECT id FROM therapy_sessions"',
            "services/payers/queries.py reads therapy_sessions (therapy_sessions) unnamed in its"
            " docstring",
        ),
        (
            "core/outbox.py",
            'PLANTED = "SELECT c.id FROM outbox o JOIN clients c ON c.id = o.id"',
            "services/core/outbox.py reads clients: core knows no domain's tables",
        ),
        (
            "eligibility/rechecks.py",
            'PLANTED = "SELECT policy_id FROM benefit_checks"',
            "services/eligibility/rechecks.py has SQL (['benefit_checks']) outside queries.py",
        ),
    ],
)
def test_a_planted_breach_fails_naming_it(
    services_copy: Path, module: str, code: str, breach: str
) -> None:
    assert breaches(services_copy) == []
    _plant(services_copy, module, code)
    assert breaches(services_copy) == [breach]
