"""Real processes for the exec and raw_exec drivers: start, wait, stop, stats, recover.

What the two drivers share lives here; what differs is the *isolation* a driver puts
around the process (:class:`Isolation`): none for raw_exec, cgroups or rlimits, a mount
and a PID namespace for exec.  Each task is started by its own executor process
(:mod:`.executor`), which outlives the agent, keeps the task's output and records its
exit status; executor and task share a session and process group, so a stop signal
reaches the whole tree the task started, as Nomad's executor does.

A handle's ``state`` holds the executor's pid (its exit ends the task), the process start
time from ``/proc`` (so a reused pid is not mistaken for it), the task's own pid, where
the exit status will be written, and whatever the isolation needs to find its cgroups
again.  Tasks started in this Python process stay reachable through a module registry, so
a new driver instance (a client restarted inside the same notebook kernel) finds the real
``Popen``; a task from another process is waited for with a pidfd.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import shutil
import signal as _signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from . import executor
from .base import Driver, DriverError, ExitResult, TaskConfig, TaskHandle, TaskStats

__all__ = ["ProcessDriver", "Isolation", "parse_signal", "pid_alive", "process_start_time"]

#: Nomad's executor reports a signalled task's exit code as 128 + signal, as shells do.
EXIT_SIGNAL_BASE = 128
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_POLL = 0.05


def parse_signal(name: str) -> _signal.Signals:
    """``"SIGTERM"``, ``"TERM"`` or ``"term"`` -> ``signal.SIGTERM``; DriverError otherwise."""
    text = str(name or "SIGINT").strip().upper()
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return _signal.Signals[text]
    except KeyError:
        raise DriverError(f'unknown signal "{name}"') from None


def _read_stat(pid: int) -> Optional[list[str]]:
    """``/proc/<pid>/stat`` fields from field 3 (state) on; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def process_start_time(pid: int) -> Optional[int]:
    """The process start time in clock ticks since boot (field 22), None if gone."""
    fields = _read_stat(pid)
    return int(fields[19]) if fields else None


def pid_alive(pid: int, start_time: Optional[int] = None) -> bool:
    """True if ``pid`` runs (zombies count as dead) and, if given, started at ``start_time``."""
    fields = _read_stat(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return start_time is None or int(fields[19]) == start_time


def _group_members(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _read_stat(int(entry))
            if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    fields = _read_stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


class Isolation:
    """What a driver puts around one task's process; this base class enforces nothing.

    ``prepare`` runs in the client before the start and returns JSON state for the handle;
    ``child_spec`` says what the task's process does before exec (the executor carries it
    out); the other methods take that state back, possibly in a later process.
    """

    name = "none"

    def __init__(self, agent_id: str = "") -> None:
        #: Names what ``prepare`` creates (a cgroup) apart from another agent's on the host.
        self.agent_id = agent_id

    def prepare(self, task: TaskConfig) -> dict[str, Any]:
        return {}

    def child_spec(self, state: dict[str, Any]) -> dict[str, Any]:
        """``cgroup_procs``: the files the task writes its pid to; ``rlimit_as``: bytes."""
        return {"cgroup_procs": [], "rlimit_as": 0}

    def pids(self, state: dict[str, Any]) -> Optional[list[int]]:
        """Every process the task owns, or None when only the process group knows."""
        return None

    def oom_killed(self, state: dict[str, Any]) -> bool:
        return False

    def cleanup(self, state: dict[str, Any]) -> None:
        """Kill what is left and free what ``prepare`` created."""


@dataclass
class _Proc:
    pid: int
    start_time: int
    popen: Optional[subprocess.Popen] = None
    result: Optional[ExitResult] = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    cpu_sample: Optional[tuple[float, int]] = None


_registry: dict[tuple[int, int], _Proc] = {}
_registry_lock = threading.Lock()


class ProcessDriver(Driver):
    """A driver that runs ``config["command"]`` with ``config["args"]`` as a real process.

    ``tasks_outlive_agent``: False (the default) ties each task to this Python process:
    its executor kills it the moment this process exits, however (see :mod:`.executor`).
    Only an agent that comes back on its data dir to re-attach sets it (see
    ``Agent._drivers``)."""

    name = "process"
    tasks_outlive_agent = False

    def isolation(self) -> Isolation:
        """The isolation for the next task; subclasses choose."""
        return Isolation()

    def _check_usable(self) -> None:
        """Raise DriverError when the driver may not start tasks (raw_exec disabled)."""

    # -- start -------------------------------------------------------------------------

    def start(self, task: TaskConfig) -> TaskHandle:
        self._check_usable()
        command = task.config.get("command")
        if not command or not isinstance(command, str):
            raise DriverError(f'{self.name}: the task config needs a "command" (a string)')
        args = task.config.get("args") or []
        if not isinstance(args, (list, tuple)):
            raise DriverError(f'{self.name}: "args" must be a list of strings')
        env = dict(task.env)
        if "PATH" not in env:
            env["PATH"] = os.environ.get("PATH", os.defpath)
        executable = _resolve_command(command, env["PATH"], task.task_dir)
        if executable is None:
            raise DriverError(f'{self.name}: command "{command}" not found in the task\'s PATH')
        user = self._lookup_user(self._user_for(task))

        isolation = self.isolation()
        try:
            iso_state = isolation.prepare(task)
        except OSError as err:
            raise DriverError(f"{self.name}: setting up {isolation.name} isolation failed: {err}") from err
        try:
            mount = self._fs_setup(task, user)
        except OSError as err:
            isolation.cleanup(iso_state)
            raise DriverError(f"{self.name}: preparing the task directory of task "
                              f"{task.task_name!r} failed: {err}") from err
        exit_path = os.path.join(os.path.dirname(task.stdout_path),
                                 f".{task.task_name}.{os.urandom(4).hex()}.exit")
        spec = {"argv": [command, *[str(a) for a in args]], "executable": executable,
                "cwd": task.task_dir, "env": env, "user": user.pw_name if user else "",
                "mount": mount, "pid_namespace": mount is not None and self._pid_namespace(),
                "stdout_path": task.stdout_path, "stderr_path": task.stderr_path,
                "max_files": task.log_max_files, "max_file_size_mb": task.log_max_file_size_mb,
                "exit_path": exit_path, **isolation.child_spec(iso_state)}
        if not self.tasks_outlive_agent:
            spec["agent"] = {"pid": os.getpid(), "start_time": process_start_time(os.getpid())}
        try:
            popen, task_pid = _launch(spec)
        except (OSError, DriverError) as err:
            isolation.cleanup(iso_state)
            raise DriverError(f"{self.name}: failed to start command \"{command}\": {err}") from err

        start_time = process_start_time(popen.pid) or 0
        proc = _Proc(popen.pid, start_time, popen)
        with _registry_lock:
            _registry[(proc.pid, start_time)] = proc
        state = {"pid": popen.pid, "start_time": start_time, "task_pid": task_pid,
                 "pid_namespace": spec["pid_namespace"], "exit_path": exit_path,
                 "isolation": isolation.name, "command": command, **iso_state}
        return TaskHandle(driver=self.name, config=task, state=state, started_at=time.time_ns())

    def _pid_namespace(self) -> bool:
        """Whether the task gets its own PID namespace (only with a mount namespace, where
        its fresh ``/proc`` cannot touch the host's)."""
        return False

    def _user_for(self, task: TaskConfig) -> str:
        """The user the task asks to run as; empty keeps the client's own user."""
        return task.user

    def _fs_setup(self, task: TaskConfig,
                  user: Optional[pwd.struct_passwd]) -> Optional[dict[str, str]]:
        """Prepare the task's files for ``user`` (None: the client's user); return the
        task's mount namespace (``task_dir``, ``alloc_dir``), None when it sees the host."""
        return None

    def _lookup_user(self, user: str) -> Optional[pwd.struct_passwd]:
        if not user:
            return None
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise DriverError(f'{self.name}: failed to look up user "{user}" on this host') from None
        if os.geteuid() == 0:
            return entry
        if entry.pw_uid == os.geteuid():
            return None
        raise DriverError(f'{self.name}: cannot run the task as user "{user}": '
                          "the client is not running as root")

    # -- wait / stop -------------------------------------------------------------------

    def _proc(self, handle: TaskHandle) -> _Proc:
        try:
            key = (int(handle.state["pid"]), int(handle.state["start_time"]))
        except (KeyError, TypeError, ValueError):
            raise DriverError(f"{self.name}: the task handle has no pid in its state") from None
        with _registry_lock:
            proc = _registry.get(key)
            if proc is None:
                proc = _registry[key] = _Proc(*key)
        return proc

    def wait(self, handle: TaskHandle, timeout: Optional[float] = None) -> Optional[ExitResult]:
        proc = self._proc(handle)
        if proc.result is not None:
            return proc.result
        if proc.popen is not None:
            try:
                code = proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            return self._finish(proc, handle, code)
        if not _wait_foreign(proc.pid, proc.start_time, timeout):
            return None
        return self._finish(proc, handle, None)

    def _finish(self, proc: _Proc, handle: TaskHandle, code: Optional[int]) -> ExitResult:
        """The task's result once its executor exited: what the executor recorded, else
        how the executor itself ended (``code``, None when it is not this process's child)."""
        recorded = executor.read_exit(str(handle.state.get("exit_path", "")))
        if recorded is not None:
            code = -recorded[1] if recorded[1] else recorded[0]
        with proc.lock:
            if proc.result is None:
                oom = self.isolation_for(handle).oom_killed(handle.state)
                if code is None:
                    proc.result = ExitResult(
                        exit_code=0, oom_killed=oom,
                        err="exit status unknown: the task was recovered by a client that "
                            "did not start it, so it cannot read the exit status")
                elif code < 0:
                    proc.result = ExitResult(exit_code=EXIT_SIGNAL_BASE - code, signal=-code,
                                             oom_killed=oom)
                else:
                    proc.result = ExitResult(exit_code=code, oom_killed=oom)
            return proc.result

    def isolation_for(self, handle: TaskHandle) -> Isolation:
        """The isolation that started ``handle`` (recorded in its state)."""
        return self.isolation()

    def stop(self, handle: TaskHandle, signal: str = "SIGINT", timeout: float = 5.0) -> None:
        sig = parse_signal(signal)
        proc = self._proc(handle)
        if proc.result is None:
            self._signal_tree(proc, handle, sig)
            if self.wait(handle, max(0.0, timeout)) is None:
                self._signal_tree(proc, handle, _signal.SIGKILL)
                self.wait(handle, 5.0)
        self._signal_tree(proc, handle, _signal.SIGKILL)

    def _signal_tree(self, proc: _Proc, handle: TaskHandle, sig: int) -> None:
        """Signal the task's process group, and every process in its cgroups if it has any.

        The executor ignores every signal but SIGKILL, which it is spared while it runs:
        it still has the task's last output and exit status to write."""
        running = proc.result is None and (proc.popen is not None and proc.popen.poll() is None
                                           or pid_alive(proc.pid, proc.start_time))
        if running and sig != _signal.SIGKILL:
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        else:
            for pid in _group_members(proc.pid):
                if not (running and pid == proc.pid):
                    _kill(pid, sig)
        for pid in self.isolation_for(handle).pids(handle.state) or []:
            _kill(pid, sig)

    def destroy(self, handle: TaskHandle) -> None:
        proc = self._proc(handle)
        if proc.result is None and self.wait(handle, 0) is None:
            self.stop(handle, "SIGKILL", 0)
        self._signal_tree(proc, handle, _signal.SIGKILL)
        self.isolation_for(handle).cleanup(handle.state)
        try:
            os.remove(str(handle.state.get("exit_path", "")))
        except OSError:
            pass
        with _registry_lock:
            _registry.pop((proc.pid, proc.start_time), None)

    # -- stats / recover ---------------------------------------------------------------

    def stats(self, handle: TaskHandle) -> TaskStats:
        proc = self._proc(handle)
        pids = self.isolation_for(handle).pids(handle.state)
        if pids is None:   # the executor's own memory and CPU are not the task's
            pids = [pid for pid in _group_members(proc.pid) if pid != proc.pid]
        now = time.monotonic()
        ticks = sum(_cpu_ticks(pid) for pid in pids)
        percent = 0.0
        with proc.lock:
            if proc.cpu_sample is not None and now > proc.cpu_sample[0]:
                used = max(0, ticks - proc.cpu_sample[1]) / _CLK_TCK
                percent = 100.0 * used / (now - proc.cpu_sample[0])
            proc.cpu_sample = (now, ticks)
        return TaskStats(memory_rss_bytes=sum(_rss_bytes(pid) for pid in pids),
                         cpu_percent=percent, timestamp=time.time_ns())

    def recover(self, handle: TaskHandle) -> bool:
        try:
            key = (int(handle.state["pid"]), int(handle.state["start_time"]))
        except (KeyError, TypeError, ValueError):
            return False
        with _registry_lock:
            known = _registry.get(key)
        if known is not None:
            return True
        if not pid_alive(*key):
            return False
        self._proc(handle)
        return True


def _wait_foreign(pid: int, start_time: int, timeout: Optional[float]) -> bool:
    """Wait for a process this one did not start (a task recovered after the client that
    started it died); True once it has exited, False when ``timeout`` passed first.

    A pidfd (Linux 5.3+) wakes the waiter the moment the process exits without polling;
    the start time is checked after opening it, so a reused pid is never waited for.
    Elsewhere ``/proc`` is polled.
    """
    try:
        fd: Optional[int] = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        if fd is not None:
            if not pid_alive(pid, start_time):
                return True
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid_alive(pid, start_time):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)
        return True
    finally:
        if fd is not None:
            os.close(fd)


#: How long the agent waits for an executor to say the task runs.
LAUNCH_TIMEOUT = 60.0


def _launch(spec: dict[str, Any]) -> tuple[subprocess.Popen, int]:
    """Start an executor for ``spec`` and wait for its word: the executor's ``Popen`` and
    the task's pid, or DriverError with the executor's reason."""
    popen = subprocess.Popen(executor.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    assert popen.stdin is not None and popen.stdout is not None
    try:
        popen.stdin.write(json.dumps(spec).encode())
        popen.stdin.close()
        ready, _, _ = select.select([popen.stdout], [], [], LAUNCH_TIMEOUT)
        line = popen.stdout.readline().decode(errors="replace").strip() if ready else ""
        if line.startswith("started "):
            return popen, int(line.split()[1])
        rest = popen.stdout.read().decode(errors="replace").strip() if ready else ""
    except (OSError, ValueError) as err:
        line, rest = "", str(err)
    finally:
        popen.stdout.close()
    if popen.poll() is None:
        popen.kill()
    popen.wait()
    reason = line[len("error "):] if line.startswith("error ") else \
        " ".join(filter(None, [line, rest])) or "the executor did not start"
    raise DriverError(reason)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _resolve_command(command: str, path: str, task_dir: str) -> Optional[str]:
    """An absolute, executable path for ``command``: PATH lookup, or relative to the task dir."""
    if "/" in command:
        candidate = command if os.path.isabs(command) else os.path.join(task_dir, command)
        ok = os.path.isfile(candidate) and os.access(candidate, os.X_OK)
        return candidate if ok else None
    return shutil.which(command, path=path)
