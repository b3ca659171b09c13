"""One task's life on a client: start it with its driver, watch it, restart it, kill it.

Every step becomes a TaskEvent with Nomad's type and display message, so what a learner
reads in ``alloc status`` is what Nomad's client would have written.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from ..drivers.base import Driver, DriverError, ExitResult, TaskConfig, TaskHandle
from ..structs import Task, TaskEvent, TaskState
from ..structs.duration import format_duration
from ..structs.timestamps import format_rfc3339
from .restarts import RestartTracker

__all__ = ["TaskRunner", "event"]




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
                 clock: Callable[[], int], handle_path: str = "",
                 recover: Optional[TaskHandle] = None,
                 state: Optional[TaskState] = None) -> None:
        self.task = task
        self._handle_path = handle_path
        self._recover = recover
        self._detach = threading.Event()
        self.driver = driver
        self._config = config
        self.restarts = restarts
        self._on_change = on_change
        self._clock = clock
        self.state = state if state is not None else TaskState(state="pending")
        self.handle: Optional[TaskHandle] = None
        self.started = threading.Event()
        self.done = threading.Event()
        self._kill = threading.Event()
        self._kill_reason = ""
        self._max_kill_timeout: Optional[float] = None
        self._wake = threading.Event()   # kill, detach or the task's exit: look again
        self._restart_reason = ""        # a restart was asked for (a failing check)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"task-{task.name}", daemon=True)

    # -- events -----------------------------------------------------------------------

    def emit(self, ev: TaskEvent) -> None:
        with self._lock:
            self.state.events.append(ev)
        self._on_change()

    def start(self) -> None:
        self._thread.start()

    def kill(self, reason: str = "", event_type: str = "",
             max_kill_timeout: Optional[float] = None) -> None:
        """Stop the task (kill_signal, then SIGKILL after kill_timeout) and keep it stopped.

        ``max_kill_timeout`` (seconds) caps the task's kill_timeout, as Nomad's client option
        of that name does: a kernel that is going away has seconds, not the task's grace."""
        if event_type and not self.done.is_set():
            self.emit(event(event_type, self._clock(), reason))
        self._kill_reason = reason
        self._max_kill_timeout = max_kill_timeout
        self._kill.set()
        self._wake.set()

    def restart(self, reason: str) -> None:
        """Stop the task so that it starts again, as a failure (Nomad's Restart with
        failure=true): it ends with a ``Terminated`` event and the restart policy decides
        whether, and after what delay, it runs again."""
        if self.done.is_set() or self._kill.is_set() or self.state.state != "running":
            return
        self.emit(event("Restart Signaled", self._clock(), reason, restart_reason=reason))
        self._restart_reason = reason
        self._wake.set()

    def detach(self) -> None:
        """Stop watching the task but leave it running: its client is restarting."""
        self._detach.set()
        self._wake.set()

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread.ident is not None:  # a task that never started has nothing to join
            self._thread.join(timeout)

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.handle is not None and not self._detach.is_set():
                try:
                    self.driver.destroy(self.handle)
                except DriverError:
                    pass
            self.done.set()
            self._on_change()

    def _restore(self) -> bool:
        """Re-attach to the task a previous client started (Nomad's RestoreState)."""
        handle, self._recover = self._recover, None
        if handle is None:
            return False
        try:
            if self.driver.recover(handle):
                self.handle = handle
                self.started.set()
                return True
        except DriverError as err:
            message = str(err)
        else:
            message = "the task is gone"
        self.emit(event("Failed Restoring Task", self._clock(),
                        f"failed to restore task: {message}", driver_error=message))
        return False

    def _save(self, handle: TaskHandle) -> None:
        """Write what finding the task again needs (Nomad keeps it in the client state DB)."""
        if not self._handle_path:
            return
        import dataclasses
        import json
        import os
        config = {f.name: getattr(handle.config, f.name) for f in dataclasses.fields(handle.config)
                  if f.name != "events"}
        config["resources"] = dataclasses.asdict(handle.config.resources)
        data = {"driver": handle.driver, "state": handle.state, "started_at": handle.started_at,
                "config": config}
        tmp = self._handle_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, default=str)
        os.replace(tmp, self._handle_path)

    def _loop(self) -> None:
        if self._restore():
            result = self._wait()
            if result is None or not self._terminated(result):
                return
        while not self._kill.is_set():
            try:
                config = self._config()
                config.events = lambda message: self.emit(event(
                    "Driver", self._clock(), message, driver_message=message))
                self.handle = self.driver.start(config)
                self._save(self.handle)
            except DriverError as err:
                self.emit(event("Driver Failure", self._clock(), str(err), driver_error=str(err),
                                fails_task=not err.recoverable))
                if self._after_exit(ExitResult(exit_code=-1, err=str(err)), err.recoverable):
                    continue
                return
            now = self._clock()
            with self._lock:
                self.state.state = "running"
                self.state.started_at = format_rfc3339(now)
            self.started.set()
            self.emit(event("Started", now, "Task started by client"))
            result = self._wait()
            if result is None or not self._terminated(result):  # killed, detached or done
                return

    def _terminated(self, result: ExitResult) -> bool:
        """Record how the task ended; True when the restart policy starts it again."""
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
        return self._after_exit(result, True)

    def _watch_exit(self, handle: TaskHandle, outcome: list[ExitResult]) -> None:
        """Block in the driver until the task exits, then wake the task runner."""
        try:
            result = self.driver.wait(handle, None)
        except DriverError as err:
            result = ExitResult(exit_code=-1, err=str(err))
        if result is not None:
            outcome.append(result)
        self._wake.set()

    def _wait(self) -> Optional[ExitResult]:
        """Until the task exits (its result), or is killed or detached (None).

        Nothing polls: one thread blocks in the driver's ``wait`` and kill/detach set the
        same wake-up event, so a node running hundreds of tasks costs no CPU while idle.
        """
        assert self.handle is not None
        outcome: list[ExitResult] = []
        threading.Thread(target=self._watch_exit, args=(self.handle, outcome), daemon=True,
                         name=f"task-{self.task.name}-exit").start()
        while True:
            self._wake.wait()
            self._wake.clear()
            if outcome:
                return outcome[0]
            if self._detach.is_set():
                return None
            if self._restart_reason and not self._kill.is_set():
                self._restart_reason = ""
                timeout = (self.task.kill_timeout or 5_000_000_000) / 1e9
                try:  # its exit wakes this loop, and is handled as any exit
                    self.driver.stop(self.handle, self.task.kill_signal or "SIGINT", timeout)
                except DriverError as err:
                    self.emit(event("Killing", self._clock(), str(err), kill_error=str(err)))
                continue
            if self._kill.is_set():
                timeout = (self.task.kill_timeout or 5_000_000_000) / 1e9
                if self._max_kill_timeout is not None:
                    timeout = min(timeout, self._max_kill_timeout)
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
            with self._lock:  # pending until started again, as Nomad's task runner says
                self.state.state = "pending"
                self.state.restarts += 1
                self.state.last_restart = format_rfc3339(self._clock())
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
            self.state.finished_at = format_rfc3339(self._clock())

    def snapshot(self) -> TaskState:
        """A copy of the state, safe to hand to the server."""
        import copy
        with self._lock:
            return copy.deepcopy(self.state)
