"""The mock driver: a simulated task with no process, for simulated nodes (Nomad's ``mock_driver``).

A mock task "runs" on a timer: it writes ``stdout_string`` (and ``stderr_string``) to its
log files, ``stdout_repeat`` more times every ``stdout_repeat_duration``, and after
``run_for`` (default ``0s``: at once) exits with ``exit_code`` / ``exit_signal`` /
``exit_err_msg``.  ``start_error`` (with ``start_error_recoverable``) fails the start after
``start_block_for``; on stop the task ends ``kill_after`` later, ignoring the signal and
the timeout, exactly as Nomad's mock driver does.  Nodes that use it say so: the
fingerprint carries ``driver.mock.simulated = "true"``.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from ..structs.duration import SECOND, parse_duration
from .base import Driver, DriverError, ExitResult, Fingerprint, TaskConfig, TaskHandle

__all__ = ["MockDriver"]


def _duration(config: dict[str, Any], key: str) -> float:
    """A config duration in seconds: a Go duration string, or integer nanoseconds (JSON)."""
    value = config.get(key)
    if value in (None, ""):
        return 0.0
    try:
        nanos = value if isinstance(value, (int, float)) else parse_duration(str(value))
    except ValueError as err:
        raise DriverError(f'mock: invalid {key}: {err}') from None
    return max(0.0, nanos / SECOND)


def _int(config: dict[str, Any], key: str) -> int:
    try:
        return int(config.get(key) or 0)
    except (TypeError, ValueError):
        raise DriverError(f'mock: {key} must be a number, not {config.get(key)!r}') from None


@dataclass
class _MockTask:
    config: dict[str, Any]
    kill_after: float
    killed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: Optional[ExitResult] = None


_tasks: dict[str, _MockTask] = {}
_tasks_lock = threading.Lock()
_ids = itertools.count(1)


class MockDriver(Driver):
    """Nomad's mock driver: tasks that run on timers, for simulated nodes."""

    name = "mock"

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(detected=True, healthy=True,
                           health_description="Healthy (simulated: tasks run no process)",
                           attributes={"driver.mock": "1", "driver.mock.simulated": "true"})

    def start(self, task: TaskConfig) -> TaskHandle:
        config = dict(task.config)
        run_for = _duration(config, "run_for")
        kill_after = _duration(config, "kill_after")
        block = _duration(config, "start_block_for")
        repeats = {s: (_int(config, f"{s}_repeat"), _duration(config, f"{s}_repeat_duration"))
                   for s in ("stdout", "stderr")}
        exit_code, exit_signal = _int(config, "exit_code"), _int(config, "exit_signal")
        if block:
            time.sleep(block)
        if config.get("start_error"):
            raise DriverError(str(config["start_error"]),
                              recoverable=bool(config.get("start_error_recoverable")))

        mock = _MockTask(config, kill_after)
        mock_id = f"{task.id}#{next(_ids)}"
        with _tasks_lock:
            _tasks[mock_id] = mock
        paths = {"stdout": task.stdout_path, "stderr": task.stderr_path}

        def output(stream: str) -> None:
            text = str(config.get(f"{stream}_string") or "")
            if not text:
                return
            count, every = repeats[stream]
            with open(paths[stream], "a") as f:
                f.write(text)
                f.flush()
                for _ in range(count):
                    if mock.killed.wait(every):
                        return
                    f.write(text)
                    f.flush()

        def run() -> None:
            writers = [threading.Thread(target=output, args=(s,), daemon=True) for s in paths]
            for writer in writers:
                writer.start()
            mock.killed.wait(run_for)
            for writer in writers:
                writer.join()
            mock.result = ExitResult(exit_code=exit_code, signal=exit_signal,
                                     err=str(config.get("exit_err_msg") or "") or None)
            mock.done.set()

        threading.Thread(target=run, name=f"mock-{task.id}", daemon=True).start()
        return TaskHandle(driver=self.name, config=task, state={"mock_id": mock_id},
                          started_at=time.time_ns())

    def _task(self, handle: TaskHandle) -> _MockTask:
        with _tasks_lock:
            mock = _tasks.get(handle.state.get("mock_id", ""))
        if mock is None:
            raise DriverError(f"mock: task {handle.config.id} not found")
        return mock

    def wait(self, handle: TaskHandle, timeout: Optional[float] = None) -> Optional[ExitResult]:
        mock = self._task(handle)
        return mock.result if mock.done.wait(timeout) else None

    def stop(self, handle: TaskHandle, signal: str = "SIGINT", timeout: float = 5.0) -> None:
        """End the task ``kill_after`` after the stop; Nomad's mock ignores signal and timeout."""
        mock = self._task(handle)
        if not mock.done.wait(mock.kill_after):
            mock.killed.set()
        mock.done.wait()

    def destroy(self, handle: TaskHandle) -> None:
        with _tasks_lock:
            mock = _tasks.pop(handle.state.get("mock_id", ""), None)
        if mock is not None:
            mock.killed.set()

    def recover(self, handle: TaskHandle) -> bool:
        with _tasks_lock:
            return handle.state.get("mock_id", "") in _tasks
