"""Times, durations and sizes spelled the way the ``nomad`` CLI spells them."""

from __future__ import annotations

import datetime
import math
import time
from typing import Optional, Union

from ..structs.duration import SECOND
from ..structs.timestamps import parse_rfc3339

__all__ = ["format_time", "pretty_time_diff", "format_task_time", "ibytes", "now_ns", "limit",
           "SHORT_ID"]

#: How long an ID is shown unless ``-verbose`` (Nomad's shortId).
SHORT_ID = 8


def now_ns() -> int:
    return time.time_ns()


def limit(text: str, length: Optional[int]) -> str:
    """Nomad's ``limit``: an ID cut to ``length`` characters (None: whole)."""
    return text if length is None else text[:length]


def _nanos(moment: Union[int, str, None]) -> int:
    if isinstance(moment, str):
        return parse_rfc3339(moment)
    return int(moment or 0)


def format_time(moment: Union[int, str, None]) -> str:
    """Nomad's ``formatTime``: RFC 3339 in the local time zone, whole seconds
    (``2026-11-29T22:18:52Z`` in UTC, ``...+01:00`` elsewhere); "" when unset."""
    nanos = _nanos(moment)
    if not nanos:
        return ""
    local = datetime.datetime.fromtimestamp(nanos // SECOND).astimezone()
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    offset = local.utcoffset() or datetime.timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_task_time(moment: Union[int, str, None]) -> str:
    """Nomad's ``formatTaskTimes``: the time, or ``N/A`` when the task never got there."""
    return format_time(moment) or "N/A"


_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def pretty_time_diff(moment: Union[int, str, None], now: Optional[int] = None) -> str:
    """Nomad's ``prettyTimeDiff``: ``5m26s ago``, ``1h2m ago``, ``3s from now`` — the two
    largest units, rounded to the second; "" when unset."""
    nanos = _nanos(moment)
    if not nanos:
        return ""
    now = now_ns() if now is None else now
    first, second = round(nanos / SECOND), round(now / SECOND)
    suffix = " ago" if second >= first else " from now"
    seconds = abs(second - first)
    if seconds == 0:
        return "0s" + suffix
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2]) + suffix


_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def ibytes(size: int) -> str:
    """go-humanize's ``IBytes``: ``300 MiB``, ``7.7 GiB``, ``0 B``."""
    if size < 10:
        return f"{size} B"
    exponent = int(math.floor(math.log(size) / math.log(1024)))
    value = math.floor(size / 1024 ** exponent * 10 + 0.5) / 10
    return (f"{value:.1f} {_IEC[exponent]}" if value < 10 else f"{value:.0f} {_IEC[exponent]}")
