"""The leak check of the authorization matrices: a figure inside random hex is no leak."""

from __future__ import annotations

from tests.leaks import leaks


def test_a_figure_inside_a_request_id_is_not_a_leak() -> None:
    # The failure this replaced: `43210` found inside a problem's random hex request id.
    for request_id in (
        "9f8e43210ab4c1d2",
        "43210abcdef",
        "abcdef43210",
        "00000000-4321-4000-8000-000000043210",
    ):
        assert not leaks("43210", f'{{"status": 404, "request_id": "{request_id}"}}')


def test_a_figure_as_a_value_or_in_words_is_a_leak() -> None:
    assert leaks("43210", '{"provider_rate_cents": 43210}')
    assert leaks("43210", '{"detail": "rate 43210 cents"}')
    assert leaks("Foreign", '{"detail": "Foreign Payer"}')
    assert leaks("2031-02-03", '{"effective_from": "2031-02-03"}')
