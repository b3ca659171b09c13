"""One thread per client that calls functions at set times.

Health trackers and check schedules of every allocation on a client wait on this one
thread instead of a thread (or a polling loop) each, so a simulated node with hundreds
of allocations in a deployment costs one sleeping thread.  Callbacks run on the timer
thread and must be quick: anything that blocks (running a check) is handed on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Optional

__all__ = ["Timers", "Timer"]

log = logging.getLogger(__name__)


class Timer:
    """A scheduled call; :meth:`cancel` before it fires and it never does."""

    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None]) -> None:
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    """Calls each function at its time (``time.monotonic`` seconds), in time order."""

    def __init__(self, name: str = "timers") -> None:
        self._name = name
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: Optional[threading.Thread] = None

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + max(delay, 0.0), fn)
        with self._cond:
            if self._stopped:
                timer.cancel()
                return timer
            heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return timer

    def stop(self) -> None:
        """Fire nothing more; the thread ends."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:  # one allocation's bug must not stop every other's timers
                log.exception("timer callback %r failed", timer.fn)
