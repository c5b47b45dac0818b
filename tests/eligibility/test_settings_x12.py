"""Settings that end up in a 270: X12-safe, refused at start-up naming the variable."""

from __future__ import annotations

import pytest

from services.core.settings import SettingsError, load_settings


@pytest.mark.parametrize("name", ["Hearth*Health", "Hearth~", "Hearth:Health", "Hearth^"])
def test_a_platform_name_a_270_cannot_carry_is_refused(name: str) -> None:
    with pytest.raises(SettingsError, match="HEARTH_PLATFORM_NAME"):
        load_settings({"HEARTH_ENV": "test", "HEARTH_PLATFORM_NAME": name})


def test_refresh_limits_are_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "HEARTH_ENV": "test",
            "HEARTH_PLATFORM_NAME": "Hearth Health, Inc.",
            "HEARTH_BENEFIT_REFRESH_MIN_INTERVAL_S": "0",
            "HEARTH_BENEFIT_REFRESH_MAX_PER_OPS": "50",
        }
    )
    assert settings.platform_name == "Hearth Health, Inc."
    assert settings.benefit_refresh_min_interval_s == 0
    assert settings.benefit_refresh_max_per_ops == 50
    with pytest.raises(SettingsError, match="HEARTH_BENEFIT_REFRESH_MAX_PER_CALLER"):
        load_settings({"HEARTH_ENV": "test", "HEARTH_BENEFIT_REFRESH_MAX_PER_CALLER": "0"})
