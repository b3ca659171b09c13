#!/usr/bin/env python
"""Rewrite the expected API JSON of the valid job spec corpus from the current parser.

    .venv/bin/python tests/jobspecs/regenerate.py            # rewrite every expected file
    .venv/bin/python tests/jobspecs/regenerate.py web shop   # only these specs
    .venv/bin/python tests/jobspecs/regenerate.py --check    # list what would change

For every ``valid/<name>.nomad.hcl`` and ``valid/<name>.input.json`` this writes
``valid/<name>.expected.json``: the full ``nomadlab.parse_job(text).to_api()``.

The expected files are the test's idea of what Nomad produces, so the parser's output
is NOT automatically right: REVIEW THE DIFF BEFORE COMMITTING (``git diff
tests/jobspecs/valid``) and check every changed value against Nomad (PascalCase keys,
durations in integer nanoseconds, the defaults of the job's type).  A value that
Nomad would not produce is a parser bug to fix, not an expectation to freeze.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

VALID = Path(__file__).resolve().parent / "valid"
SUFFIXES = (".nomad.hcl", ".input.json")


def specs() -> dict[str, Path]:
    """Spec name -> input file, for every input of the valid corpus."""
    found: dict[str, Path] = {}
    for path in sorted(VALID.iterdir()):
        for suffix in SUFFIXES:
            if path.name.endswith(suffix):
                found[path.name[: -len(suffix)]] = path
    return found


def expected_path(name: str) -> Path:
    return VALID / f"{name}.expected.json"


def render(path: Path) -> str:
    """The expected file's text for one input, as this parser produces it."""
    from nomadlab import parse_job

    job = parse_job(path.read_text(encoding="utf-8"), path.name)
    return json.dumps(job.to_api(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="spec names (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the expected files that would change")
    args = parser.parse_args(argv)

    corpus = specs()
    unknown = [n for n in args.names if n not in corpus]
    if unknown:
        print(f"unknown spec(s): {', '.join(unknown)}; known: {', '.join(corpus)}",
              file=sys.stderr)
        return 2
    changed = []
    for name in args.names or corpus:
        target = expected_path(name)
        text = render(corpus[name])
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == text:
            continue
        changed.append(target.name)
        if not args.check:
            target.write_text(text, encoding="utf-8")
    verb = "would change" if args.check else "rewritten"
    print(f"{len(changed)} expected file(s) {verb}" + (": " + ", ".join(changed) if changed else ""))
    if changed and not args.check:
        print("Review the diff before committing: git diff tests/jobspecs/valid")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
