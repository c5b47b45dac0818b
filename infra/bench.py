"""`make bench`: every benchmark, one `bench NAME key=value ...` line each.

infra/ never imports services/, so benchmarks of service code (services/bench/) run as their
own processes (`python -m services.bench.estimate`) and their lines are passed through as they
come. The API benchmark needs servers: infra starts or finds them (infra/local/stack.py), gives
it a fresh database (dropped afterwards) and the API's command line as `make run` starts it, in
its environment.
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
MODULES = ["services.bench.estimate", "services.bench.eligibility", "services.bench.claims_837"]
API_MODULE = "services.bench.eligibility_api"
API_BENCH = API_MODULE.rpartition(".")[2]  # eligibility_api: it needs servers, infra starts them


def _run(module: str, env: dict[str, str] | None = None) -> int:
    done = subprocess.run([sys.executable, "-m", module], cwd=REPO, env=env, check=False)
    if done.returncode != 0:
        print(f"benchmark {module} failed with exit status {done.returncode}", file=sys.stderr)
    return done.returncode


def _run_api_bench() -> int:
    with LocalStack(REPO / ".data") as stack:
        name = f"hearth_bench_{uuid.uuid4().hex[:8]}"
        database_url = ensure_database(stack.server_url, name)
        try:
            env = {
                **os.environ,
                "BENCH_DATABASE_URL": database_url,
                "BENCH_REDIS_URL": stack.redis_url,
                "BENCH_API_ARGV": json.dumps(list(API_ARGV)),
            }
            return _run(API_MODULE, env)
        finally:
            drop_database(stack.server_url, name)


def main(argv: list[str] | None = None) -> int:
    """Every benchmark, or those named by module (`python -m infra.bench eligibility_api`)."""
    names = sys.argv[1:] if argv is None else argv
    by_name = {module.rpartition(".")[2]: module for module in MODULES}
    if unknown := [n for n in names if n not in by_name and n != API_BENCH]:
        known = ", ".join([*by_name, API_BENCH])
        print(f"unknown benchmark {', '.join(unknown)}; known: {known}", file=sys.stderr)
        return 2
    for name, module in by_name.items():
        if (not names or name in names) and (code := _run(module)):
            return code
    if not names or API_BENCH in names:
        return _run_api_bench()
    return 0


if __name__ == "__main__":
    sys.exit(main())
