"""A client cut off from the servers stops what it was told to: ``stop_on_client_after``.

Nomad's ``client/heartbeatstop.go``: the client remembers when a heartbeat last got
through; an allocation whose group has ``disconnect.stop_on_client_after`` (or the older
``stop_after_client_disconnect``) is stopped by the client itself once that long has
passed without one, so it never runs beside the replacement the server places for it.
Liveness is real time, like heartbeats (a lab may move the scheduling clock forward).
"""

from __future__ import annotations

import time
from typing import Iterable

from ..scheduler.disconnect import stop_on_client_after
from .allocrunner import AllocRunner

__all__ = ["HeartbeatStop"]


class HeartbeatStop:
    """Call :meth:`ok` after each heartbeat that got through, :meth:`check` otherwise."""

    def __init__(self) -> None:
        self._last_ok = time.monotonic_ns()

    def ok(self) -> None:
        self._last_ok = time.monotonic_ns()

    def check(self, runners: Iterable[AllocRunner]) -> list[AllocRunner]:
        """Stop the allocations whose ``stop_on_client_after`` has passed; those stopped."""
        away = time.monotonic_ns() - self._last_ok
        stopped = []
        for runner in runners:
            timeout = stop_on_client_after(runner.group)
            if timeout is None or away < timeout or runner.done or runner._killing.is_set():
                continue
            runner.kill("client lost contact with the servers for longer than the group's "
                        "stop_on_client_after")
            stopped.append(runner)
        return stopped
