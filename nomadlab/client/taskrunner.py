"""One task's life on a client: start it with its driver, watch it, restart it, kill it.

Every step becomes a TaskEvent with Nomad's type and display message, so what a learner
reads in ``alloc status`` is what Nomad's client would have written.
"""

from __future__ import annotations

import datetime
import threading
from typing import Callable, Optional

from ..drivers.base import Driver, DriverError, ExitResult, TaskConfig, TaskHandle
from ..structs import Task, TaskEvent, TaskState
from ..structs.duration import format_duration
from .restarts import RestartTracker

__all__ = ["TaskRunner", "event"]


def _rfc3339(nanos: int) -> str:
    moment = datetime.datetime.fromtimestamp(nanos / 1e9, tz=datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def event(kind: str, now: int, message: str = "", **fields: object) -> TaskEvent:
    """A TaskEvent of Nomad's ``kind`` with its display message."""
    ev = TaskEvent(type=kind, time=now, display_message=message, message=message)
    for key, value in fields.items():
        setattr(ev, key, value)
    return ev


class TaskRunner:
    """Runs one task in its own thread; ``state`` is its TaskState, updated as it goes."""

    def __init__(self, task: Task, driver: Driver, config: Callable[[], TaskConfig],
                 restarts: RestartTracker, on_change: Callable[[], None],
                 clock: Callable[[], int]) -> None:
        self.task = task
        self.driver = driver
        self._config = config
        self.restarts = restarts
        self._on_change = on_change
        self._clock = clock
        self.state = TaskState(state="pending")
        self.handle: Optional[TaskHandle] = None
        self.started = threading.Event()
        self.done = threading.Event()
        self._kill = threading.Event()
        self._kill_reason = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"task-{task.name}", daemon=True)

    # -- events -----------------------------------------------------------------------

    def emit(self, ev: TaskEvent) -> None:
        with self._lock:
            self.state.events.append(ev)
        self._on_change()

    def start(self) -> None:
        self._thread.start()

    def kill(self, reason: str = "", event_type: str = "") -> None:
        """Stop the task (kill_signal, then SIGKILL after kill_timeout) and keep it stopped."""
        if event_type and not self.done.is_set():
            self.emit(event(event_type, self._clock(), reason))
        self._kill_reason = reason
        self._kill.set()

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread.ident is not None:  # a task that never started has nothing to join
            self._thread.join(timeout)

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.handle is not None:
                try:
                    self.driver.destroy(self.handle)
                except DriverError:
                    pass
            self.done.set()
            self._on_change()

    def _loop(self) -> None:
        while not self._kill.is_set():
            try:
                self.handle = self.driver.start(self._config())
            except DriverError as err:
                self.emit(event("Driver Failure", self._clock(), str(err), driver_error=str(err),
                                fails_task=not err.recoverable))
                if self._after_exit(ExitResult(exit_code=-1, err=str(err)), err.recoverable):
                    continue
                return
            now = self._clock()
            with self._lock:
                self.state.state = "running"
                self.state.started_at = _rfc3339(now)
            self.started.set()
            self.emit(event("Started", now, "Task started by client"))
            result = self._wait()
            if result is None:  # killed
                return
            message = f"Exit Code: {result.exit_code}"
            if result.signal:
                message += f", Signal: {result.signal}"
            if result.oom_killed:
                message += ', Exit Message: "OOM Killed"'
            elif result.err:
                message += f', Exit Message: "{result.err}"'
            self.emit(event("Terminated", self._clock(), message, exit_code=result.exit_code,
                            signal=result.signal))
            try:
                self.driver.destroy(self.handle)
            except DriverError:
                pass
            self.handle = None
            if not self._after_exit(result, True):
                return

    def _wait(self) -> Optional[ExitResult]:
        assert self.handle is not None
        while True:
            result = self.driver.wait(self.handle, timeout=0.1)
            if result is not None:
                return result
            if self._kill.is_set():
                timeout = (self.task.kill_timeout or 5_000_000_000) / 1e9
                signal = self.task.kill_signal or "SIGINT"
                self.emit(event("Killing", self._clock(),
                                f"Sent interrupt. Waiting {format_duration(int(timeout * 1e9))} "
                                "before force killing", kill_timeout=int(timeout * 1e9),
                                kill_reason=self._kill_reason))
                try:
                    self.driver.stop(self.handle, signal, timeout)
                except DriverError as err:
                    self.emit(event("Killing", self._clock(), str(err), kill_error=str(err)))
                self.driver.wait(self.handle, timeout=timeout + 5)
                self._finish(failed=False)
                self.emit(event("Killed", self._clock(), "Task successfully killed"))
                return None

    def _after_exit(self, result: ExitResult, recoverable: bool) -> bool:
        """Restart (True, after the delay) or finish the task (False)."""
        decision = self.restarts.next(self._clock(), result.successful, recoverable)
        if decision.restart:
            with self._lock:
                self.state.restarts += 1
                self.state.last_restart = _rfc3339(self._clock())
            self.emit(event("Restarting", self._clock(), RestartTracker.describe(decision) or "",
                            start_delay=decision.delay, restart_reason=decision.reason))
            if self._kill.wait(decision.delay / 1e9):
                self._finish(failed=False)
                self.emit(event("Killed", self._clock(), "Task successfully killed"))
                return False
            return True
        if decision.failed:
            self.emit(event("Not Restarting", self._clock(), decision.reason,
                            restart_reason=decision.reason, fails_task=True))
        self._finish(failed=decision.failed)
        return False

    def _finish(self, failed: bool) -> None:
        with self._lock:
            self.state.state = "dead"
            self.state.failed = failed
            self.state.finished_at = _rfc3339(self._clock())

    def snapshot(self) -> TaskState:
        """A copy of the state, safe to hand to the server."""
        import copy
        with self._lock:
            return copy.deepcopy(self.state)
