"""The simulator's payers know the platform and providers that development runs as.

The simulator shares no code with services/, so nothing else ties its world to the dev
settings and demo data: with a billing NPI it does not contract with, or a demo provider it
never credentialed, every demo claim would come back rejected (277CA A3:562:85, A7:562:82).
"""

from __future__ import annotations

from datetime import date

from infra.clearinghouse.world import load_world
from services.core.settings import load_settings
from services.dev.demo_data import PROVIDERS


def test_every_payer_contracts_with_the_development_platform() -> None:
    platform_npi = load_settings({"HEARTH_ENV": "development"}).platform_npi
    world = load_world()
    assert world.payer_rules
    for payer in world.payer_rules.values():
        assert platform_npi in payer.billing_npis, payer.id


def test_payers_credential_the_demo_providers_the_demo_marks_approved() -> None:
    world = load_world()
    approved = [
        (provider.npi, payer_id)
        for provider in PROVIDERS
        for payer_id, step in provider.credentialing.items()
        if step == "approved"
    ]
    assert approved
    for npi, payer_id in approved:
        credentials = world.payer_rules[payer_id].credentials(npi)
        assert any(c.covers(date(2026, 11, 26)) for c in credentials), (npi, payer_id)
    not_approved = [
        (provider.npi, payer_id)
        for provider in PROVIDERS
        for payer_id, step in provider.credentialing.items()
        if step != "approved"
    ]
    for npi, payer_id in not_approved:
        assert world.payer_rules[payer_id].credentials(npi) == [], (npi, payer_id)
