"""Settings come from the environment; a bad value names its variable."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag

from services.core.crypto import Keyring
from services.core.settings import Settings, SettingsError, load_settings


def _load(env: dict[str, str]) -> Settings:
    """Settings for `env`, in the test environment unless `env` names another."""
    return load_settings({"HEARTH_ENV": "test", **env})


def test_hearth_env_has_no_default() -> None:
    # A deployment that forgot it would run with the development secrets.
    for missing in ({}, {"HEARTH_ENV": ""}, {"HEARTH_JWT_SECRET": "x" * 40}):
        with pytest.raises(SettingsError, match="HEARTH_ENV"):
            load_settings(missing)
    settings = load_settings({"HEARTH_ENV": "development"})
    assert settings.env == "development"
    assert settings.access_token_ttl_s == 900


def test_development_holds_ready_claims_zero_hours_unless_told() -> None:
    assert load_settings({"HEARTH_ENV": "development"}).claim_hold_hours == 0
    told = load_settings({"HEARTH_ENV": "development", "HEARTH_CLAIM_HOLD_HOURS": "2"})
    assert told.claim_hold_hours == 2
    assert _load({}).claim_hold_hours == 24
    assert Settings(env="production").claim_hold_hours == 24
    # Development closes a session's edit window at once: the demo pays what it completed.
    assert load_settings({"HEARTH_ENV": "development"}).session_edit_window_hours == 0
    assert Settings(env="production").session_edit_window_hours == 48


def test_values_are_parsed_from_strings() -> None:
    settings = _load({"HEARTH_DB_POOL_MAX": "25", "DATABASE_URL": "postgresql://x/y"})
    assert settings.db_pool_max == 25
    assert settings.database_url == "postgresql://x/y"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HEARTH_DB_POOL_MAX": "many"}, "HEARTH_DB_POOL_MAX"),
        ({"HEARTH_DB_POOL_MAX": "0"}, "HEARTH_DB_POOL_MAX"),
        ({"HEARTH_ENV": "staging"}, "HEARTH_ENV"),
        ({"HEARTH_JWT_SECRET": "short"}, "HEARTH_JWT_SECRET"),
        ({"HEARTH_TAX_ID_KEYS": "k1:not base64!"}, "HEARTH_TAX_ID_KEYS"),
        ({"HEARTH_TAX_ID_KEYS": "k1:" + base64.b64encode(b"16 bytes only!!!").decode()},
         "HEARTH_TAX_ID_KEYS"),
        ({"HEARTH_ENV": "production"}, "HEARTH_JWT_SECRET"),
    ],
)  # fmt: skip
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        _load(env)


def test_production_needs_every_secret() -> None:
    key = "k2:" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    env = {
        "HEARTH_ENV": "production",
        "HEARTH_JWT_SECRET": "x" * 40,
        "HEARTH_CLEARINGHOUSE_URL": "https://clearinghouse.example/core",
    }
    with pytest.raises(SettingsError, match="HEARTH_TAX_ID_KEYS"):
        _load(env)
    env["HEARTH_TAX_ID_KEYS"] = key
    for name, value in [
        ("HEARTH_CLEARINGHOUSE_PASSWORD", "real-password"),
        ("HEARTH_STRIPE_API_KEY", "sk_live_realkey0123456789"),
        ("HEARTH_STRIPE_WEBHOOK_SECRET", "whsec_realsecret0123456789"),
        ("HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_realconnectsecret0123456789"),
        ("HEARTH_PLATFORM_EIN", "123456789"),
        ("HEARTH_PLATFORM_NPI", "1234567893"),
        ("HEARTH_PLATFORM_ADDRESS_LINE1", "200 Pearl St"),
        ("HEARTH_PLATFORM_CITY", "Boulder"),
        ("HEARTH_PLATFORM_STATE", "CO"),
        ("HEARTH_PLATFORM_ZIP", "803021234"),
        ("HEARTH_PLATFORM_CONTACT_PHONE", "3035550199"),
        ("HEARTH_STRIPE_API_BASE", "https://api.stripe.com"),
    ]:
        with pytest.raises(SettingsError, match=name):
            _load(env)
        env[name] = value
    assert _load(env).env == "production"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HEARTH_PLATFORM_NPI": "1234567890"}, "HEARTH_PLATFORM_NPI"),  # check digit
        ({"HEARTH_PLATFORM_NPI": "123456789"}, "HEARTH_PLATFORM_NPI"),
        ({"HEARTH_PLATFORM_EIN": "12-3456789"}, "HEARTH_PLATFORM_EIN"),
        ({"HEARTH_CLEARINGHOUSE_SENDER_ID": "HEARTH*X"}, "HEARTH_CLEARINGHOUSE_SENDER_ID"),
        ({"HEARTH_CLEARINGHOUSE_URL": "ftp://x"}, "HEARTH_CLEARINGHOUSE_URL"),
        ({"HEARTH_CLEARINGHOUSE_TIMEOUT_S": "30"}, "HEARTH_CLEARINGHOUSE_TIMEOUT_S"),
    ],
)
def test_clearinghouse_and_platform_settings_checked(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        _load(env)


def test_clearinghouse_defaults_point_at_the_simulator() -> None:
    s = _load({})
    assert (s.clearinghouse_url, s.clearinghouse_username) == (
        "http://127.0.0.1:8090/core",
        "hearth",
    )
    assert (s.clearinghouse_sender_id, s.clearinghouse_receiver_id) == ("HEARTH", "HEARTHCH")
    assert s.clearinghouse_deadline_s < 20
    assert (s.platform_ein, s.platform_npi) == ("990000001", "2123456784")


def test_keyring_rotation_decrypts_old_values_and_encrypts_with_the_first_key() -> None:
    old = "k1:" + base64.b64encode(b"a" * 32).decode()
    new = "k2:" + base64.b64encode(b"b" * 32).decode()
    before = Keyring(_load({"HEARTH_TAX_ID_KEYS": old}).tax_id_keyring())
    kid, blob = before.encrypt("123456789", b"providers.tax_id")
    after = Keyring(_load({"HEARTH_TAX_ID_KEYS": f"{new},{old}"}).tax_id_keyring())
    assert after.decrypt(kid, blob, b"providers.tax_id") == "123456789"
    assert after.encrypt("987654321", b"providers.tax_id")[0] == "k2"
    with pytest.raises(InvalidTag):  # bound to its column: another context fails
        after.decrypt(kid, blob, b"clients.other")
