"""One clock: nothing in services/ or workers/ reads another, and HEARTH_CLOCK_SHIFT_TO moves
every process (API, worker, CLI) to the same day."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from services.app import create_app
from services.core import clock
from services.core.settings import SettingsError, load_settings
from tests.conftest import ROOT
from tests.core.test_settings_production import _production
from tests.live import app_env

# Wall-clock reads other than the clock's own; SQL now() is allowed only for bookkeeping
# columns nothing compares (updated_at, a fee schedule's ended_at, the migrations table).
_WALL_CLOCK = re.compile(r"datetime\.(now|utcnow|today)\(|date\.today\(|time\.time\(\)|\bnow\(\)")
_BOOKKEEPING = re.compile(
    r"(updated_at|ended_at|applied_at) (= |TIMESTAMPTZ NOT NULL DEFAULT )now\(\)"
)
# PyJWT checks a token's iat/exp against the system clock and takes no other: access tokens
# are signed with that clock too, so issue and check agree.
_ALLOWED_FILES = {"services/core/clock.py", "services/core/auth.py"}
SHIFT = "2028-02-29T12:00:00Z"


def test_services_and_workers_read_time_only_from_the_clock() -> None:
    offenders = []
    for path in sorted(
        [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")]
    ):
        name = path.relative_to(ROOT).as_posix()
        if name in _ALLOWED_FILES:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if _WALL_CLOCK.search(code.replace("clock.now()", "")) and not _BOOKKEEPING.search(
                code
            ):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_shift_is_an_instant_with_its_offset() -> None:
    settings = load_settings({"HEARTH_ENV": "test", "HEARTH_CLOCK_SHIFT_TO": SHIFT})
    assert settings.clock_shift_to == datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert load_settings({"HEARTH_ENV": "test"}).clock_shift_to is None
    for bad in ("2028-02-29T12:00:00", "2027-02-29T12:00:00Z", "tomorrow"):
        with pytest.raises(SettingsError, match="HEARTH_CLOCK_SHIFT_TO"):
            load_settings({"HEARTH_ENV": "test", "HEARTH_CLOCK_SHIFT_TO": bad})


def test_production_refuses_a_shifted_clock() -> None:
    env = _production()
    assert load_settings(env).clock_shift_to is None
    with pytest.raises(SettingsError, match="HEARTH_CLOCK_SHIFT_TO"):
        load_settings({**env, "HEARTH_CLOCK_SHIFT_TO": SHIFT})


def test_the_api_starts_its_clock_at_the_shift() -> None:
    # The autouse fixture of conftest puts the clock back after the test.
    create_app(load_settings({"HEARTH_ENV": "test", "HEARTH_CLOCK_SHIFT_TO": SHIFT}))
    assert clock.today() == date(2028, 2, 29)
    assert abs((clock.now() - datetime(2028, 2, 29, 12, 0, tzinfo=UTC)).total_seconds()) < 60


def test_the_worker_starts_its_clock_at_the_shift(committed_db: str, redis_url: str) -> None:
    script = (
        "import asyncio\n"
        "from services.core import clock\n"
        "from workers.settings import WorkerSettings\n"
        "async def main():\n"
        "    ctx = {}\n"
        "    await WorkerSettings.on_startup(ctx)\n"
        "    print(clock.now().isoformat())\n"
        "    await WorkerSettings.on_shutdown(ctx)\n"
        "asyncio.run(main())\n"
    )
    env = app_env(committed_db, redis_url, HEARTH_CLOCK_SHIFT_TO=SHIFT)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2028-02-29T12:00"), done.stdout


def test_the_cli_loads_demo_data_as_of_the_shift(committed_db: str, redis_url: str) -> None:
    env = app_env(committed_db, redis_url, HEARTH_ENV="development", HEARTH_CLOCK_SHIFT_TO=SHIFT)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "load-demo-data"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    async def read() -> tuple[date, datetime]:
        conn = await asyncpg.connect(committed_db)
        try:
            # The demo world is dated from the CLI's today: approvals from 1 January of its
            # year, sessions booked a week or two ahead of it.
            return (
                await conn.fetchval("SELECT min(effective_on) FROM credentialing_records"),
                await conn.fetchval("SELECT min(starts_at) FROM therapy_sessions"),
            )
        finally:
            await conn.close()

    effective_on, first_session = asyncio.run(read())
    assert effective_on == date(2028, 1, 1)
    assert date(2028, 3, 7) <= first_session.date() <= date(2028, 3, 14)


def test_processes_given_one_shift_from_read_the_same_instant() -> None:
    # Two processes started at different real moments but given one SHIFT_FROM share the offset:
    # each reads SHIFT_TO plus the real time elapsed since SHIFT_FROM, not since its own start.
    real_from = datetime.now(UTC) - timedelta(minutes=10)
    settings = load_settings(
        {
            "HEARTH_ENV": "test",
            "HEARTH_CLOCK_SHIFT_TO": SHIFT,
            "HEARTH_CLOCK_SHIFT_FROM": real_from.isoformat(),
        }
    )
    clock.start(settings.clock_shift_to, settings.clock_shift_from)
    elapsed = clock.now() - datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert timedelta(minutes=10) <= elapsed < timedelta(minutes=11)


def test_production_refuses_a_shift_from() -> None:
    with pytest.raises(SettingsError, match="HEARTH_CLOCK_SHIFT_FROM"):
        load_settings({**_production(), "HEARTH_CLOCK_SHIFT_FROM": SHIFT})
