"""`make bench`: every benchmark, one `bench NAME key=value ...` line each.

infra/ never imports services/, so benchmarks of service code (services/bench/) run as their
own processes (`python -m services.bench.estimate`) and their lines are passed through as they
come. The API benchmarks need servers: infra starts or finds them (infra/local/stack.py), gives
each a fresh database (dropped afterwards) and the API's command line as `make run` starts it, in
its environment; `era_post`, `charges`, `payout_run` and `outbox_relay` get the same fresh
database (no API: they post 835s into it, charge or pay providers through the Stripe simulator
they start, or relay outbox rows to arq in the Redis infra gives).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from infra.local.run import API_ARGV
from infra.local.stack import LocalStack, drop_database, ensure_database

REPO = Path(__file__).resolve().parents[1]
MODULES = [
    "services.bench.estimate",
    "services.bench.eligibility",
    "services.bench.claims_837",
    "services.bench.era_parse",
]
# These need servers: infra starts them. session_completion also gets pgbench and a database.
API_MODULES = ["services.bench.eligibility_api", "services.bench.session_completion"]
PGBENCH_USERS = {"services.bench.session_completion"}
# These need a database of their own (made and dropped here), no API; charges starts the
# Stripe simulator itself, as does payout_run.
DATABASE_MODULES = [
    "services.bench.era_post",
    "services.bench.charges",
    "services.bench.payout_run",
    "services.bench.outbox_relay",
]
MACHINE_PGBENCH = "/usr/lib/postgresql/*/bin/pgbench"


def _run(module: str, env: dict[str, str] | None = None) -> int:
    done = subprocess.run([sys.executable, "-m", module], cwd=REPO, env=env, check=False)
    if done.returncode != 0:
        print(f"benchmark {module} failed with exit status {done.returncode}", file=sys.stderr)
    return done.returncode


def find_pgbench(stack: LocalStack) -> str | None:
    """The embedded server's own pgbench, or the machine's (the newest); None: neither."""
    if stack.postgres_source == "embedded":
        from pgserver._commands import POSTGRES_BIN_PATH

        embedded = Path(POSTGRES_BIN_PATH) / "pgbench"
        return str(embedded) if embedded.exists() else None
    found = sorted(Path("/").glob(MACHINE_PGBENCH.lstrip("/")), key=lambda p: int(p.parts[-3]))
    return str(found[-1]) if found else None


def _run_with_servers(module: str) -> int:
    with LocalStack(REPO / ".data") as stack:
        names = [f"hearth_bench_{uuid.uuid4().hex[:8]}"]
        database_url = ensure_database(stack.server_url, names[0])
        try:
            env = {
                **os.environ,
                "BENCH_DATABASE_URL": database_url,
                "BENCH_REDIS_URL": stack.redis_url,
                "BENCH_API_ARGV": json.dumps(list(API_ARGV)),
            }
            if module in PGBENCH_USERS and (pgbench := find_pgbench(stack)):
                names.append(f"hearth_pgbench_{uuid.uuid4().hex[:8]}")
                scratch = ensure_database(stack.server_url, names[1])
                done = subprocess.run(
                    [pgbench, "-i", "-q", scratch], capture_output=True, text=True, check=False
                )
                if done.returncode != 0:
                    print(f"pgbench -i failed: {done.stderr}", file=sys.stderr)
                    return done.returncode
                env |= {"BENCH_PGBENCH": pgbench, "BENCH_PGBENCH_DATABASE_URL": scratch}
            return _run(module, env)
        finally:
            for name in names:
                drop_database(stack.server_url, name)


def main(argv: list[str] | None = None) -> int:
    """Every benchmark, or those named by module (`python -m infra.bench eligibility_api`)."""
    names = sys.argv[1:] if argv is None else argv
    by_name = {module.rpartition(".")[2]: module for module in MODULES}
    api_by_name = {
        module.rpartition(".")[2]: module for module in [*API_MODULES, *DATABASE_MODULES]
    }
    if unknown := [n for n in names if n not in by_name and n not in api_by_name]:
        known = ", ".join([*by_name, *api_by_name])
        print(f"unknown benchmark {', '.join(unknown)}; known: {known}", file=sys.stderr)
        return 2
    # One benchmark failing does not hide the others' figures: every one runs, and make bench
    # fails at the end naming those that failed.
    failed = [
        name for name, module in by_name.items() if (not names or name in names) and _run(module)
    ]
    failed += [
        name
        for name, module in api_by_name.items()
        if (not names or name in names) and _run_with_servers(module)
    ]
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
