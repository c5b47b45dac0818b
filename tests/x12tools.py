"""Run the X12 validators from the tests: linuxforhealth-x12 (270/271) and pyx12 (837, 835...).

linuxforhealth-x12 needs pydantic 1, so it lives in `.venv-x12/` (`make x12-tools`), never in
the app's environment; pyx12's `x12valid` is installed in `.venv/bin` by `make install`. This
module only starts them on a temporary file.
"""

from __future__ import annotations

import atexit
import json
import select
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
X12_PYTHON = ROOT / ".venv-x12" / "bin" / "python"
VALIDATOR = ROOT / "infra" / "x12_validate.py"
X12VALID = Path(sys.executable).parent / "x12valid"
BY_PRODUCT_999 = "Failed to create 999 response"
TIMEOUT_S = 120


def x279_errors(x12_text: str) -> list[str]:
    """linuxforhealth-x12's errors for one 005010X279A1 interchange (empty list: valid)."""
    with tempfile.TemporaryDirectory(prefix="x279-") as tmp:
        path = Path(tmp) / "interchange.x12"
        path.write_text(x12_text, encoding="ascii", newline="")
        return _X279.errors_of(path)


class _Validator:
    """One `x12_validate.py --serve` per test process, started on first use: a check costs
    about 10 ms in it, against half a second for a process of its own."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        atexit.register(self._stop)

    def errors_of(self, path: Path) -> list[str]:
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write(f"{path}\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT_S)
            line = proc.stdout.readline() if ready else ""
            if not line:  # no answer: a hung or dead validator is not reused
                self._stop()
                raise RuntimeError(f"x12_validate.py --serve gave no answer for {path}")
        errors: list[str] = json.loads(line)
        return errors

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            if not X12_PYTHON.exists():
                raise RuntimeError(f"{X12_PYTHON} is missing: run `make x12-tools`")
            self._proc = subprocess.Popen(
                [str(X12_PYTHON), str(VALIDATOR), "--serve"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, bufsize=1,
            )  # fmt: skip
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


_X279 = _Validator()


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
