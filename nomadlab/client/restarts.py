"""Nomad's restart tracker: after a task exits, restart it, wait, or give up.

Service tasks restart whatever their exit code; batch tasks that exit 0 are done.  A
restart is allowed while fewer than ``attempts`` happened within ``interval``; then
mode ``fail`` gives up (the allocation fails and the server may reschedule it) and mode
``delay`` waits until the interval has passed.  Up to 25% jitter is added to each delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from ..structs import RestartPolicy
from ..structs.duration import format_duration

__all__ = ["RestartTracker", "Decision", "jitter_rng", "WITHIN_POLICY", "NO_RESTARTS",
           "UNRECOVERABLE"]

WITHIN_POLICY = "Restart within policy"
NO_RESTARTS = "Policy allows no restarts"
UNRECOVERABLE = "Error was unrecoverable"
DELAY = "Exceeded allowed attempts, applying a delay"
JITTER = 0.25


def jitter_rng(seed: int, alloc_id: str, task: str) -> random.Random:
    """The random source of one task's restart jitter, drawn from the agent's seed.

    One source per task, so tasks restarting in parallel threads do not take each other's
    draws; seeded from text (hashed with SHA-512 by :class:`random.Random`), never from
    ``hash()``, which Python salts per process: the same seed gives the same delays in
    every run.
    """
    return random.Random(f"{seed}:{alloc_id}:{task}")


@dataclass
class Decision:
    """``restart`` after ``delay`` ns, or stop (``failed`` says whether the task failed)."""

    restart: bool
    delay: int = 0
    reason: str = ""
    failed: bool = False


@dataclass
class RestartTracker:
    policy: RestartPolicy
    batch: bool
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    starts: list[int] = field(default_factory=list)  # restart times (ns) within the interval

    def next(self, now: int, success: bool, recoverable: bool = True) -> Decision:
        """What to do now that the task exited (``success``: exit code 0, no signal)."""
        if success and self.batch:
            return Decision(False, reason="", failed=False)
        if not recoverable:
            return Decision(False, reason=UNRECOVERABLE, failed=True)
        attempts = self.policy.attempts or 0
        interval = self.policy.interval or 0
        delay = self.policy.delay or 0
        if attempts == 0:
            return Decision(False, reason=NO_RESTARTS, failed=not success)
        self.starts = [t for t in self.starts if now - t < interval]
        if len(self.starts) < attempts:
            self.starts.append(now)
            return Decision(True, self._jitter(delay), WITHIN_POLICY)
        if self.policy.mode == "delay":
            wait = max(interval - (now - self.starts[0]), 0)
            self.starts = []
            return Decision(True, self._jitter(wait), DELAY)
        return Decision(False, failed=True, reason=(
            f"Exceeded allowed attempts {attempts} in interval {format_duration(interval)} "
            f'and mode is "{self.policy.mode}"'))

    def _jitter(self, delay: int) -> int:
        return delay + int(self.rng.random() * JITTER * delay)

    @staticmethod
    def describe(decision: Decision) -> Optional[str]:
        if decision.restart:
            return f"Task restarting in {format_duration(decision.delay)}"
        return decision.reason or None
