"""Run the X12 tool environment's validator (linuxforhealth-x12) from the tests.

linuxforhealth-x12 needs pydantic 1, so it lives in `.venv-x12/` (`make x12-tools`), never in
the app's environment; this module only starts that interpreter on a temporary file.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
X12_PYTHON = ROOT / ".venv-x12" / "bin" / "python"
VALIDATOR = ROOT / "infra" / "x12_validate.py"


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
