"""Run the X12 validators from the tests: linuxforhealth-x12 (270/271) and pyx12 (837, 835...).

linuxforhealth-x12 needs pydantic 1, so it lives in `.venv-x12/` (`make x12-tools`), never in
the app's environment; pyx12's `x12valid` is installed in `.venv/bin` by `make install`. This
module only starts them on a temporary file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
X12_PYTHON = ROOT / ".venv-x12" / "bin" / "python"
VALIDATOR = ROOT / "infra" / "x12_validate.py"
X12VALID = Path(sys.executable).parent / "x12valid"
BY_PRODUCT_999 = "Failed to create 999 response"


def x279_errors(x12_text: str) -> list[str]:
    """linuxforhealth-x12's errors for one 005010X279A1 interchange (empty list: valid)."""
    if not X12_PYTHON.exists():
        raise RuntimeError(f"{X12_PYTHON} is missing: run `make x12-tools`")
    with tempfile.TemporaryDirectory(prefix="x279-") as tmp:
        path = Path(tmp) / "interchange.x12"
        path.write_text(x12_text, encoding="ascii", newline="")
        done = subprocess.run(
            [str(X12_PYTHON), str(VALIDATOR), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"x12_validate.py failed: {done.stderr.strip() or done.returncode}")
    prefix = f"{path}: "
    errors = [line.removeprefix(prefix) for line in done.stdout.splitlines() if line.strip()]
    if done.returncode == 1 and not errors:
        errors = [done.stderr.strip() or "invalid (no message)"]
    return errors


def x12valid_errors(x12_text: str) -> list[str]:
    """pyx12's errors for one interchange whose guide it has a map for (empty list: valid).

    x12valid exits 1 whether the file passes or not: its verdict is the `FILE: OK` or
    `FILE: Failure` line on stderr, after one `... ERROR ...` line per problem.
    """
    with tempfile.TemporaryDirectory(prefix="x12valid-") as tmp:
        path = Path(tmp) / "interchange.x12"
        path.write_text(x12_text, encoding="ascii", newline="")
        done = subprocess.run(
            [str(X12VALID), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    lines = done.stderr.splitlines()
    errors = [line.split(" ERROR ", 1)[1] for line in lines if " ERROR " in line]
    # pyx12 writes a 999 about the file as a by-product and logs its own failure to do so for a
    # set without ST03 (which the 835 guide marks not used): no verdict on the file.
    errors = [error for error in errors if error != BY_PRODUCT_999]
    if f"{path}: OK" in lines and not errors:
        return []
    if f"{path}: Failure" not in lines:
        raise RuntimeError(f"x12valid gave no verdict: {done.stderr.strip() or done.returncode}")
    return errors or ["Failure (no message)"]
