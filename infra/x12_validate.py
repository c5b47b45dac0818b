"""Validate X12 files with linuxforhealth-x12; run by the X12 tool environment (.venv-x12/).

    .venv-x12/bin/python infra/x12_validate.py FILE [FILE ...]
    .venv-x12/bin/python infra/x12_validate.py --serve

Each file is parsed with X12ModelReader, which checks every transaction set it knows
(005010X279A1 270 and 271 among them) against its guide's model. Errors are printed as
`FILE: message` lines; the exit status is 1 when any file has one. `--serve` reads one path a
line from stdin and answers each with one JSON line, the list of its errors, until stdin
closes: the tests keep one such process rather than pay the start-up (about half a second,
nearly all of a check) for every interchange. This script runs in the
tool environment only (linuxforhealth-x12 needs pydantic 1): it imports nothing from Hearth.
"""

from __future__ import annotations

import json
import sys

from linuxforhealth.x12.io import X12ModelReader


def errors_of(path: str) -> list[str]:
    """Every error X12ModelReader reports for one file (empty: valid)."""
    try:
        with X12ModelReader(path) as reader:
            models = list(reader.models())
    except Exception as exc:  # the reader raises ValidationError, ValueError, KeyError, ...
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return [f"{type(exc).__name__}: {' | '.join(lines) or repr(exc)}"]
    if not models:
        return ["no transaction set found"]
    return []


def serve() -> int:
    answers, sys.stdout = sys.stdout, sys.stderr  # what the reader prints never mixes in
    for line in sys.stdin:
        answers.write(json.dumps(errors_of(line.rstrip("\n"))) + "\n")
        answers.flush()
    return 0


def main(paths: list[str]) -> int:
    if paths == ["--serve"]:
        return serve()
    if not paths:
        print("usage: x12_validate.py FILE [FILE ...]", file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        for error in errors_of(path):
            failed = True
            print(f"{path}: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
