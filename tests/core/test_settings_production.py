"""Production refuses the published development values, plain HTTP to the clearinghouse and
argon2 parameters below OWASP's minimum, even when each is set explicitly."""

from __future__ import annotations

import base64

import pytest

from services.core.settings import Settings, SettingsError, load_settings

_DEV_KEY_BYTES = base64.b64encode(b"dev-only-aes-256-key-32-bytes!!!").decode()
_REAL_KEY = "k2:" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _production(**overrides: str) -> dict[str, str]:
    env = {
        "HEARTH_ENV": "production",
        "HEARTH_JWT_SECRET": "a-real-secret-" + "x" * 40,
        "HEARTH_TAX_ID_KEYS": _REAL_KEY,
        "HEARTH_CLEARINGHOUSE_PASSWORD": "real-password",
        "HEARTH_CLEARINGHOUSE_URL": "https://clearinghouse.example/core",
        "HEARTH_PLATFORM_EIN": "123456789",
        "HEARTH_PLATFORM_NPI": "1234567893",
        "HEARTH_PLATFORM_ADDRESS_LINE1": "200 Pearl St",
        "HEARTH_PLATFORM_CITY": "Boulder",
        "HEARTH_PLATFORM_STATE": "CO",
        "HEARTH_PLATFORM_ZIP": "803021234",
        "HEARTH_PLATFORM_CONTACT_PHONE": "3035550199",
        "HEARTH_STRIPE_API_BASE": "https://api.stripe.com",
        "HEARTH_STRIPE_API_KEY": "sk_live_realkey0123456789",
        "HEARTH_STRIPE_WEBHOOK_SECRET": "whsec_realsecret0123456789",
        "HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_realconnectsecret0123456789",
    }
    env.update(overrides)
    return env


def test_a_production_configuration_with_real_values_loads() -> None:
    settings: Settings = load_settings(_production())
    assert settings.env == "production"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEARTH_JWT_SECRET", "dev-only-jwt-secret-change-me-0123456789abcdef"),
        ("HEARTH_TAX_ID_KEYS", "k1:" + _DEV_KEY_BYTES),
        # The published key under another id, or kept as an old key for decryption.
        ("HEARTH_TAX_ID_KEYS", "prod1:" + _DEV_KEY_BYTES),
        ("HEARTH_TAX_ID_KEYS", f"{_REAL_KEY},k1:{_DEV_KEY_BYTES}"),
        ("HEARTH_CLEARINGHOUSE_PASSWORD", "hearth-sim-password"),
        ("HEARTH_PLATFORM_EIN", "990000001"),
        ("HEARTH_PLATFORM_NPI", "2123456784"),
        ("HEARTH_PLATFORM_ADDRESS_LINE1", "100 Main St"),
        ("HEARTH_PLATFORM_ZIP", "972041234"),
        ("HEARTH_PLATFORM_CONTACT_PHONE", "5035550100"),
        ("HEARTH_STRIPE_API_KEY", "sk_test_hearth_development_only"),
        ("HEARTH_STRIPE_WEBHOOK_SECRET", "whsec_hearth_development_only_0123456789"),
        (
            "HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET",
            "whsec_hearth_connect_development_only_0123456789",
        ),
    ],
)
def test_production_refuses_a_development_value_set_explicitly(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable}: the development value is refused"):
        load_settings(_production(**{variable: value}))
    # Outside production the same value is what development runs with.
    load_settings(_production(HEARTH_ENV="development", **{variable: value}))


def test_production_refuses_plain_http_to_the_clearinghouse() -> None:
    plain = {"HEARTH_CLEARINGHOUSE_URL": "http://clearinghouse.example/core"}
    with pytest.raises(SettingsError, match="HEARTH_CLEARINGHOUSE_URL: production needs an https"):
        load_settings(_production(**plain))
    assert load_settings(_production(HEARTH_ENV="test", **plain)).env == "test"


def test_production_refuses_plain_http_to_stripe() -> None:
    plain = {"HEARTH_STRIPE_API_BASE": "http://127.0.0.1:8420"}
    with pytest.raises(SettingsError, match="HEARTH_STRIPE_API_BASE: production needs an https"):
        load_settings(_production(**plain))
    assert load_settings(_production(HEARTH_ENV="development", **plain)).env == "development"


@pytest.mark.parametrize(
    "variable",
    [
        "HEARTH_STRIPE_API_KEY",
        "HEARTH_STRIPE_WEBHOOK_SECRET",
        "HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET",
    ],
)
def test_production_needs_the_stripe_secrets_set(variable: str) -> None:
    env = _production()
    del env[variable]
    with pytest.raises(SettingsError, match=f"{variable} must be set in production"):
        load_settings(env)


@pytest.mark.parametrize("env", ["production", "development"])
def test_the_connect_secret_must_differ_from_the_account_secret(env: str) -> None:
    same = _production(
        HEARTH_ENV=env, HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET="whsec_realsecret0123456789"
    )
    with pytest.raises(SettingsError, match="HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET: the same as"):
        load_settings(same)
    bad = _production(HEARTH_ENV=env, HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET="secret_without_prefix")
    with pytest.raises(SettingsError, match="HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET"):
        load_settings(bad)


@pytest.mark.parametrize(
    ("memory_kib", "time_cost", "accepted"),
    [
        ("19456", "2", True),  # OWASP's recommended minimum
        ("47104", "1", True),
        ("65536", "3", True),  # our default
        ("19455", "2", False),
        ("19456", "1", False),
        ("12288", "2", False),
        ("1024", "1", False),  # what the tests use
    ],
)
def test_production_refuses_argon2_below_owasp_minimum(
    memory_kib: str, time_cost: str, accepted: bool
) -> None:
    env = _production(HEARTH_ARGON2_MEMORY_KIB=memory_kib, HEARTH_ARGON2_TIME_COST=time_cost)
    if accepted:
        assert load_settings(env).argon2_memory_kib == int(memory_kib)
    else:
        with pytest.raises(SettingsError, match="HEARTH_ARGON2_MEMORY_KIB"):
            load_settings(env)
