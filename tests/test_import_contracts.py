"""The import contracts (pyproject.toml [tool.importlinter], run by `make lint`) fail on a breach.

Each case copies the code to a temporary folder, adds one forbidden import and runs
`lint-imports` there: it must fail and name the contract the import breaks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("services", "schemas", "workers", "infra")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_code_keeps_every_contract(tmp_path: Path) -> None:
    done = _lint_imports(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "breach", "contract"),
    [
        (
            "services/core/deps.py",
            "services.clearinghouse.client",
            "services.core imports no domain (services.<domain>)",
        ),
        (
            "services/eligibility/estimate_service.py",
            "services.providers.details",
            "A domain imports another domain only through its service (or errors) module",
        ),
        ("services/payers/routes.py", "services.payers.queries", "Routes never import queries"),
        (
            "schemas/common.py",
            "services.core.clock",
            "schemas imports nothing from services, workers or infra",
        ),
        ("services/app.py", "workers.settings", "services imports nothing from workers or infra"),
        (
            "infra/demo/claims.py",
            "schemas.common",
            "infra imports nothing from services, schemas or workers",
        ),
    ],
)
def test_a_breach_fails_naming_its_contract(
    tmp_path: Path, module: str, breach: str, contract: str
) -> None:
    root = _copy(tmp_path)
    with (root / module).open("a") as file:
        file.write(f"\nimport {breach}  # the breach\n")
    done = _lint_imports(root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contract} BROKEN" in done.stdout
    assert f"{module[:-3].replace('/', '.')} -> {breach}" in done.stdout
    assert "1 broken" in done.stdout
