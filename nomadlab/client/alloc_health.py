"""Is a new allocation healthy?  Nomad's allocation health tracker, for one allocation.

A deployment moves on when its new allocations are healthy; a drain, when the migrated
ones are.  The client decides (client/allochealth/tracker.go) and reports it as the
allocation's ``DeploymentStatus.Healthy``:

* ``task_states``: healthy once every task has run for ``min_healthy_time`` (a restart
  starts the wait again);
* ``checks``: that, and every Nomad service check of the allocation passing for
  ``min_healthy_time`` without a failure in between;
* ``manual``: the client does not decide (an operator does, through the API);
* unhealthy as soon as a task fails, or when ``healthy_deadline`` passes first; the
  tasks then get an ``Alloc Unhealthy`` event saying why, in Nomad's words.

The parameters come from the group's ``update`` block when the allocation belongs to a
deployment, else from its ``migrate`` block.  The tracker owns no thread: the allocation
runner calls it when a task or a check changes, and the client's timer thread when a
wait ends, so a node tracking a thousand allocations sleeps on one thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from ..structs import Allocation, MigrateStrategy, TaskGroup, TaskState
from ..structs.duration import SECOND, format_duration
from .timers import Timer, Timers

__all__ = ["HealthParams", "HealthTracker", "health_params"]

#: Nomad's DefaultMigrateStrategy, for a group without a migrate block.
_DEFAULT_MIGRATE = MigrateStrategy(max_parallel=1, health_check="checks",
                                   min_healthy_time=10 * SECOND, healthy_deadline=5 * 60 * SECOND)


@dataclass(frozen=True)
class HealthParams:
    """How health is decided; durations in nanoseconds."""

    min_healthy_time: int
    healthy_deadline: int
    use_checks: bool
    deploy: bool


def health_params(alloc: Allocation, group: TaskGroup) -> Optional[HealthParams]:
    """Nomad's health hook ``init``/``getHealthParams``: None when nothing is tracked
    (not a service job, health already known, or ``health_check = "manual"``)."""
    job = alloc.job
    if job is None or (job.type or "service") != "service":
        return None
    if alloc.deployment_status is not None and alloc.deployment_status.healthy is not None:
        return None
    if alloc.deployment_id:
        update = group.update or job.update
        if update is None or not update.max_parallel or update.health_check == "manual":
            return None
        return HealthParams(update.min_healthy_time or 0, update.healthy_deadline or 0,
                            update.health_check == "checks", deploy=True)
    migrate = group.migrate or _DEFAULT_MIGRATE
    return HealthParams(migrate.min_healthy_time or 0, migrate.healthy_deadline or 0,
                        migrate.health_check == "checks", deploy=False)


class HealthTracker:
    """Decides one allocation's health once; ``report(healthy, events)`` gets the verdict,
    ``events`` mapping a task to the reason it is unhealthy."""

    def __init__(self, params: HealthParams, group: TaskGroup, timers: Timers,
                 checks_passing: Callable[[], bool],
                 report: Callable[[bool, dict[str, str]], None],
                 now: Callable[[], float] = time.monotonic) -> None:
        self.params = params
        self._hooks = {t.name: (t.lifecycle.hook if t.lifecycle else "") for t in group.tasks}
        self._sidecars = {t.name for t in group.tasks if t.lifecycle and t.lifecycle.sidecar}
        self._timers = timers
        self._checks_passing = checks_passing
        self._report = report
        self._now = now
        self._lock = threading.Lock()
        self._deadline = 0.0
        self._states: Mapping[str, TaskState] = {}
        self._failed_alloc = False
        self._tasks_key: Optional[tuple[object, ...]] = None
        self._tasks_since: Optional[float] = None
        #: per task: (its start, as its state says it) and when this tracker saw it running
        self._running_since: dict[str, tuple[object, float]] = {}
        self._checks_since: Optional[float] = None
        self._timer: Optional[Timer] = None
        self.done = False

    def start(self) -> None:
        """Begin: the healthy deadline counts from now."""
        with self._lock:
            self._deadline = self._now() + self.params.healthy_deadline / 1e9
            self._evaluate()

    def tasks_changed(self, states: Mapping[str, TaskState], client_status: str) -> None:
        with self._lock:
            self._states = states
            self._failed_alloc = client_status == "failed"
            self._evaluate()

    def checks_changed(self) -> None:
        with self._lock:
            self._evaluate()

    def stop(self) -> None:
        """Decide nothing more (the allocation is stopping)."""
        with self._lock:
            self.done = True
            if self._timer is not None:
                self._timer.cancel()

    # -- deciding ------------------------------------------------------------------------

    def _tasks(self) -> tuple[Optional[str], bool]:
        """(a task that makes the allocation unhealthy, all tasks that count are running)."""
        running = True
        for name, hook in self._hooks.items():
            state = self._states.get(name)
            if hook == "poststop":
                continue
            if state is None:
                running = False
                continue
            if hook == "poststart" and state.state == "dead" and not state.failed:
                continue
            if state.failed:
                return name, False
            if state.state == "dead" and (hook != "prestart" or name in self._sidecars):
                return name, False
            if state.state == "pending":
                running = False
        return None, running

    def _evaluate(self) -> None:
        if self.done or not self._deadline:
            return
        now = self._now()
        failed, running = self._tasks()
        if failed is not None or self._failed_alloc:
            self._finish(False, self._events(now))
            return
        if now >= self._deadline:
            self._finish(False, self._events(now))
            return
        for name, state in self._states.items():
            start = (state.started_at, state.restarts)
            if state.state != "running":
                self._running_since.pop(name, None)
            elif self._running_since.get(name, (None, 0.0))[0] != start:
                self._running_since[name] = (start, now)
        key = tuple((n, s.state, s.started_at, s.restarts) for n, s in sorted(
            self._states.items()))
        if not running:
            self._tasks_key, self._tasks_since = None, None
        elif key != self._tasks_key:
            self._tasks_key, self._tasks_since = key, now
        wait = self.params.min_healthy_time / 1e9
        ready_at = None if self._tasks_since is None else self._tasks_since + wait
        if self.params.use_checks and ready_at is not None:
            if self._checks_passing():
                if self._checks_since is None:
                    self._checks_since = now
                ready_at = max(ready_at, self._checks_since + wait)
            else:
                self._checks_since, ready_at = None, None
        if ready_at is not None and now >= ready_at:
            self._finish(True, {})
            return
        self._wake_at(min(self._deadline, ready_at) if ready_at is not None else self._deadline)

    def _wake_at(self, when: float) -> None:
        if self._timer is not None:
            if self._timer.when <= when and not self._timer.cancelled:
                return  # an earlier wake-up is already set; it looks again then
            self._timer.cancel()
        self._timer = self._timers.call_later(when - self._now(), self._wake)
        self._timer.when = when

    def _wake(self) -> None:
        with self._lock:
            self._timer = None
            self._evaluate()

    def _finish(self, healthy: bool, events: dict[str, str]) -> None:
        self.done = True
        if self._timer is not None:
            self._timer.cancel()
        # reported from the timer thread, outside this lock: the runner emits events
        # with the verdict, and those come back here as task changes
        self._timers.call_later(0, lambda: self._report(healthy, events))

    def _events(self, now: float) -> dict[str, str]:
        """Why each task is unhealthy (Nomad's taskHealthState.event)."""
        deadline = format_duration(self.params.healthy_deadline)
        min_time = format_duration(self.params.min_healthy_time)
        events = {}
        for name, hook in self._hooks.items():
            state = self._states.get(name)
            if hook == "poststop":
                continue
            if state is None or state.state == "pending":
                events[name] = f"Task not running by healthy_deadline of {deadline}"
            elif state.failed:
                events[name] = "Unhealthy because of failed task"
            elif state.state == "dead":
                if hook in ("prestart", "poststart") and name not in self._sidecars:
                    continue
                events[name] = "Unhealthy because of dead task"
            elif self._running_since.get(name, (None, now))[1] + \
                    self.params.min_healthy_time / 1e9 > self._deadline:
                events[name] = (f"Task not running for min_healthy_time of {min_time} by "
                                f"healthy_deadline of {deadline}")
            elif self.params.use_checks and not self._checks_passing():
                events[name] = "Services not healthy by deadline"
        return events
