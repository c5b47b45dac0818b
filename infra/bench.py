"""`make bench`: every benchmark, one `bench NAME key=value ...` line each.

infra/ never imports services/, so benchmarks of service code run as their own processes
(`python -m services.bench`) and their lines are passed through as they come.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ["services.bench", "services.bench_eligibility", "services.bench_eligibility_api"]


def main() -> int:
    for module in MODULES:
        done = subprocess.run([sys.executable, "-m", module], cwd=REPO, check=False)
        if done.returncode != 0:
            print(f"benchmark {module} failed with exit status {done.returncode}", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
