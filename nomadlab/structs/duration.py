"""Durations as Nomad writes them: Go's ``time.Duration`` strings, integer nanoseconds in JSON.

Job specs say ``"30s"`` or ``"1h30m"``; the API carries ``30000000000``.  Structs keep
the integer so a round trip through JSON is exact.
"""

from __future__ import annotations

import re

__all__ = ["NANOSECOND", "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR",
           "parse_duration", "format_duration"]

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {"ns": NANOSECOND, "us": MICROSECOND, "µs": MICROSECOND, "μs": MICROSECOND,
          "ms": MILLISECOND, "s": SECOND, "m": MINUTE, "h": HOUR}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Parse a Go duration string ("15s", "1h30m", "1.5h", "-2m") into nanoseconds.

    Raises ``ValueError`` with Go's wording (``time: invalid duration "x"``) so the
    message a learner sees is the one Nomad would print; a bare number other than 0
    is rejected as in Go ("missing unit in duration").
    """
    original = text
    sign = 1
    if text and text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f'time: invalid duration "{original}"')
    pos = 0
    total = 0.0
    exact = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            if re.fullmatch(r"[\d.]+", text[pos:]):
                raise ValueError(f'time: missing unit in duration "{original}"')
            raise ValueError(f'time: invalid duration "{original}"')
        number, unit = match.groups()
        if "." in number:
            total += float(number) * _UNITS[unit]
        else:
            exact += int(number) * _UNITS[unit]
        pos = match.end()
    return sign * (exact + round(total))


def format_duration(nanos: int) -> str:
    """Go's ``Duration.String()``: 30000000000 -> "30s", 5400 s -> "1h30m0s"."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < SECOND:
        for unit, size in (("ms", MILLISECOND), ("µs", MICROSECOND)):
            if n >= size:
                return sign + _trim(n / size) + unit
        return f"{sign}{n}ns"
    hours, rest = divmod(n, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    seconds = _trim(rest / SECOND)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"
