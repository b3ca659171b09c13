"""When a periodic job launches next: its cron specs read in its time zone, as Nomad's
periodic dispatcher does.  The server schedules launches with it; ``job run`` and
``job status`` print it."""

from __future__ import annotations

from typing import Optional

from .job import Job

__all__ = ["next_launch"]


def next_launch(job: Job, after_ns: int) -> Optional[int]:
    """When a periodic job next launches after ``after_ns`` (ns since the epoch), by its
    cron spec in its time zone; None when it is not an active periodic job."""
    if not job.is_periodic or job.stop or job.periodic is None:
        return None
    import datetime
    import zoneinfo

    from croniter import croniter
    specs = [s for s in ([job.periodic.spec] + list(job.periodic.specs)) if s]
    if not specs:
        return None
    try:
        zone = zoneinfo.ZoneInfo(job.periodic.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    start = datetime.datetime.fromtimestamp(after_ns / 1e9, tz=zone)
    times = [croniter(spec, start).get_next(datetime.datetime) for spec in specs]
    return int(min(times).timestamp()) * 1_000_000_000
