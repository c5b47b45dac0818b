"""Golden 835s: the simulator's files with the clock and control numbers fixed.

They pin the writer's output segment by segment, and give the remittance parser real files of
every shape. `HEARTH_UPDATE_GOLDEN=1` rewrites them (then read the diff).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from itertools import count

import pytest

from infra.clearinghouse.claims import Payers
from infra.clearinghouse.remittance import Remitter
from infra.clearinghouse.world import load_world
from infra.clearinghouse.x12 import Control
from tests.infra.clearinghouse.conftest import FIXTURES, fixture
from tests.infra.clearinghouse.x835_reader import balance_errors, pyx12_errors

AT = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
RECEIVED = date(2026, 11, 26)
PARTIES = ("HEARTHCH", "HEARTH")


class _Payers:
    """The payers with a fixed clock: each interchange received or written takes the next
    control number."""

    def __init__(self) -> None:
        self.payers = Payers(load_world())
        self.remitter = Remitter(self.payers)
        self.numbers = count(900)

    def control(self) -> Control:
        return Control(next(self.numbers), AT)

    def receive(self, name: str) -> None:
        self.payers.receive(fixture(name), PARTIES[::-1], RECEIVED,
                            (self.control(), self.control()))  # fmt: skip

    def run(self, day: date = RECEIVED) -> dict[str, str]:
        return {era.payer: era.text for era in self.remitter.run(day, None, self.control,
                                                                 PARTIES)}  # fmt: skip


def _scenarios() -> dict[str, str]:
    found = {}
    payers = _Payers()
    payers.receive("837_accepted.x12")
    found["835_paid.x12"] = payers.run()["EVGRN"]
    payers.receive("837_corrections.x12")
    found["835_reversals.x12"] = payers.run()["EVGRN"]
    payers = _Payers()
    payers.receive("837_denied.x12")
    found["835_denied.x12"] = payers.run()["EVGRN"]
    payers = _Payers()
    payers.receive("837_accepted.x12")
    found["835_interest.x12"] = payers.run(date(2027, 1, 15))["EVGRN"]
    return found


SCENARIOS = _scenarios()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_835(name: str) -> None:
    text = SCENARIOS[name]
    assert pyx12_errors(text) == []
    assert balance_errors(text) == []
    path = FIXTURES / name
    if os.environ.get("HEARTH_UPDATE_GOLDEN") == "1":
        path.write_text(text.replace("~", "~\n"))
    assert path.read_text().replace("~\n", "~") == text
