"""Looking for a leaked value in a response body."""

from __future__ import annotations

import re


def leaks(marker: str, text: str) -> bool:
    """Whether `marker` is in `text`; a marker of digits only counts as a token of its own.

    Every body carries random hex (a problem's request id, UUIDs), which holds any run of five
    digits now and then (`43210` was found inside a request id): a figure that leaked stands
    apart from letters and digits (`"cents": 43210,`), one inside a hex run does not.
    """
    if not marker.isdigit():
        return marker in text
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(marker)}(?![0-9A-Za-z])", text) is not None
