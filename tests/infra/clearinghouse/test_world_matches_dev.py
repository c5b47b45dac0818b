"""The simulator's payers know the platform, providers and members development runs as.

The simulator shares no code with services/, so nothing else ties its world to the dev
settings and demo data: with a billing NPI it does not contract with, or a demo provider it
never credentialed, every demo claim would come back rejected (277CA A3:562:85, A7:562:82);
with a member it does not know, A3:33. The demo's one rejection is a card mistyped on purpose.
"""

from __future__ import annotations

from datetime import date

from infra.clearinghouse.world import load_world
from services.core.settings import load_settings
from services.dev.demo_data import CLIENTS, PROVIDERS


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


def test_payers_know_each_demo_member_but_the_mistyped_card() -> None:
    world = load_world()
    mistyped = [c for c in CLIENTS if c.payer_member_id is not None]
    assert [(c.first_name, c.last_name) for c in mistyped] == [("Blake", "Ellison")]
    for client in CLIENTS:
        patient = None if client.subscriber is None else (client.first_name, client.last_name)
        if client.payer_member_id is not None:
            # The payer knows nobody under the card's id (277CA A3:33), but the person under
            # the id the payer has: a corrected claim goes through.
            assert world.person(client.member_id, patient) is None
            found = world.person(client.payer_member_id, patient)
        else:
            found = world.person(client.member_id, patient)
        assert found is not None, client.member_id
        member, person = found
        assert member.payer == client.payer, client.member_id
        assert (person.first, person.last, person.dob) == (
            client.first_name,
            client.last_name,
            client.date_of_birth,
        )
