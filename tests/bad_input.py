"""Request bodies every `{"note": ...}` route refuses with 400, each with the field it names."""

from __future__ import annotations

from typing import Any


def bad_note_bodies(max_length: int = 500) -> list[tuple[dict[str, Any], str]]:
    """(body, field): missing, empty, too long, a control character, an unknown field."""
    return [
        ({}, "note"),
        ({"note": ""}, "note"),
        ({"note": "x" * (max_length + 1)}, "note"),
        ({"note": "bad\x00byte"}, "note"),
        ({"note": "ok", "extra": 1}, "extra"),
    ]
