"""Timestamps as Nomad's JSON carries them: RFC 3339 strings, here read and written from
integer nanoseconds (the unit the rest of nomadlab counts time in)."""

from __future__ import annotations

import calendar
import datetime
import re
from typing import Optional

from .duration import SECOND

__all__ = ["format_rfc3339", "parse_rfc3339"]

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"([Zz]|[+-]\d\d:\d\d)$")


def format_rfc3339(nanos: int) -> str:
    """Go's RFC3339Nano in UTC: whole seconds, then the fraction without trailing zeros."""
    seconds, fraction = divmod(nanos, SECOND)
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def parse_rfc3339(text: Optional[str]) -> int:
    """An RFC 3339 timestamp in nanoseconds; 0 if unset.

    Go's zero time (year 1) and anything unparsable count as unset, like ``IsZero()``.
    """
    if not text:
        return 0
    match = _RFC3339.match(text.strip())
    if match is None:
        return 0
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if int(year) <= 1:
        return 0
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute),
                               int(second), 0, 0, 0))
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * SECOND + int((fraction or "0")[:9].ljust(9, "0"))
