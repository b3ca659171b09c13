"""The executor: one small process per exec or raw_exec task that starts the task, keeps
its output and outlives the agent (Nomad's ``executor`` and ``logmon`` in one process).

Why a process of its own: the agent may die (``kill -9``, a kernel killed) while its
tasks run on.  Whoever holds the read end of a task's stdout and stderr must outlive the
agent, or the task's next write gets SIGPIPE (or blocks on a full pipe) and its output is
lost.  Nomad gives each task an executor (the task's parent) and a logmon (which owns
the output FIFOs); a restarted agent re-attaches to both.

Why one process and not two: the task's parent is already the process that must stay,
so it copies the output into the rotated files (``<task>.stdout.N``, ``logs { max_files,
max_file_size }``) itself.  A second Python process per task would double the memory and
need FIFOs to hand over, for nothing a learner can see.  A restarted agent re-attaches to
the executor by its pid (a pidfd: no polling) and never to the output: the executor keeps
writing the files, which the logs API reads.  When the task ends, the executor drains
its output, writes the exit status to ``exit_path`` and exits, so the pid the agent
tracks is the one whose exit ends the task, with the logs complete and the exit status
known even to an agent that did not start the task.

Processes, with a PID namespace (exec as root)::

    executor   session leader, host PID namespace, root   <- the pid the agent tracks
      init     PID 1 of the task's PID namespace, in its private mount namespace with a
               fresh /proc; reaps, and reports the task's status to the executor
        task   the command, in its cgroups, as its user

Without one (raw_exec, or a client that is not root) the executor starts the task itself.
The task's own PID 1 is this small init, not the task, because PID 1 ignores every signal
it has no handler for: a ``sleep`` as PID 1 would shrug off ``kill_signal``.  All three
share one process group: the agent signals the group; the executor and init ignore every
signal but SIGKILL and the task gets it as in Nomad.  To kill, the agent SIGKILLs every
member but the executor (init's death ends the whole namespace), so the executor still
records how the task ended.

Tied to its agent or not: an agent that may come back to re-attach (``nomadlab agent
-dev -data-dir DIR``) leaves ``agent`` out of the spec and its tasks outlive it.  Every
other agent (one in a Jupyter kernel, one without a data dir) names itself there
(``{"pid", "start_time"}``): the executor then waits on a pidfd of that process too, and
the moment it exits, however it ended (a kernel SIGKILLed while it was still stopping its
tasks), the executor SIGKILLs the task (init, whose death ends its whole PID namespace;
else the process group and every process of the task's cgroups), then records the exit as
usual.  A pidfd, not ``PR_SET_PDEATHSIG`` on the executor: the agent forks executors from
task runner threads, and the parent-death signal fires when that *thread* ends, not the
agent.  Init does get ``PR_SET_PDEATHSIG=SIGKILL`` (its parent, the executor, is one
thread), so an executor killed outright takes the task's namespace with it.

The agent talks to it over two pipes: the task's spec as JSON on stdin, and one line
back on stdout, ``started <task pid>`` or ``error <message>``.  The executor loads only
the standard library and this package's ``logs`` and ``namespaces`` (see
:func:`command`), so a task starts in tens of milliseconds, not the second that
importing ``nomadlab`` takes.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import select
import signal
import sys
import time
from collections.abc import Callable

from .logs import RotatingLog
from .namespaces import enter_mount_namespace, libc, mount_proc, unshare_pid

__all__ = ["command", "main", "read_exit", "DRAIN_SECONDS"]

#: After the task ended, how long its output is still copied while something it left
#: behind (a raw_exec daemon) keeps the pipes open.
DRAIN_SECONDS = 2.0
_PR_SET_NAME = 15
_PR_SET_PDEATHSIG = 1
#: Signals the executor and init ignore; the task gets them back at their default.
_IGNORED = [s for s in signal.valid_signals()
            if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)]

_BOOT = ("import sys, types\n"
         "for name in ('nomadlab', 'nomadlab.drivers'):\n"
         "    module = types.ModuleType(name)\n"
         "    module.__path__ = [sys.argv[1] + '/' + name.replace('.', '/')]\n"
         "    sys.modules[name] = module\n"
         "from nomadlab.drivers.executor import main\n"
         "main()\n")


def command() -> list[str]:
    """How the agent starts an executor: this Python, isolated (``-I -S``), loading the
    package's modules without its ``__init__`` (which imports the whole agent)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [sys.executable, "-I", "-S", "-c", _BOOT, root]


def read_exit(path: str) -> tuple[int, int] | None:
    """``(exit code, signal)`` an executor wrote at ``path``; None if it wrote none."""
    try:
        with open(path) as f:
            data = json.load(f)
        return int(data["exit_code"]), int(data["signal"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# -- in the executor -----------------------------------------------------------------


def main() -> None:
    spec = json.load(sys.stdin)
    _name(b"nomadlab-exec")
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    agent = _Agent(spec["agent"]) if spec.get("agent") else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    size = (spec["max_files"], spec["max_file_size_mb"])   # the files exist once it runs
    logs = {out_r: RotatingLog(spec["stdout_path"], *size),
            err_r: RotatingLog(spec["stderr_path"], *size)}
    ready_r, ready_w = os.pipe()       # close-on-exec: EOF once the task runs
    status_r, status_w = os.pipe()     # init -> executor: the task's exit status
    if spec["pid_namespace"]:
        try:
            unshare_pid()
        except OSError as err:
            _report(f"error entering a PID namespace: {err}")
            os._exit(1)
    child = os.fork()
    if child == 0:
        for fd in (out_r, err_r, ready_r, status_r):
            os.close(fd)
        if spec["pid_namespace"]:
            _init(spec, out_w, err_w, ready_w, status_w)
        _exec_task(spec, out_w, err_w, ready_w)
    for fd in (out_w, err_w, ready_w, status_w):
        os.close(fd)
    failure = _read_all(ready_r)
    if failure:
        os.waitpid(child, 0)
        _report(f"error {failure.decode(errors='replace')}")
        os._exit(1)
    task_pid = _first_child(child) if spec["pid_namespace"] else child
    try:
        _report(f"started {task_pid or child}")
    except OSError:
        pass   # the agent is gone already: _copy_output sees it at once
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):   # from now on only ``agent`` (if any) ties the executor to it
        os.dup2(devnull, fd)
    code = _copy_output(logs, child, status_r, spec["pid_namespace"], agent,
                        lambda: _kill_task(child, spec))
    _write_exit(spec["exit_path"], code)
    os._exit(0)


def _report(line: str) -> None:
    os.write(1, (line.replace("\n", " ") + "\n").encode())


def _name(name: bytes) -> None:
    """What ``ps`` and ``/proc/<pid>/comm`` call this process."""
    libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


class _Agent:
    """The agent process a tied task dies with (``spec["agent"]``): watched with a pidfd,
    readable once it has exited; where pidfds are missing (Linux before 5.3), ``/proc``
    is looked at between reads."""

    def __init__(self, agent: dict) -> None:
        self.pid, self.start_time = int(agent["pid"]), int(agent["start_time"])
        try:
            self.fd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.fd = None   # no pidfds, or the agent is gone already (gone() says which)

    def gone(self) -> bool:
        """Exited, or its pid now names another process."""
        return _start_time(self.pid) != self.start_time


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
        return int(raw[raw.rfind(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _kill_task(child: int, spec: dict) -> None:
    """SIGKILL everything of the task (its agent died): init or the task (``child``), the
    process group the task started in, and every process in its cgroups."""
    pids = {child}
    for procs in spec["cgroup_procs"]:
        try:
            with open(procs) as f:
                pids.update(int(line) for line in f if line.strip())
        except (OSError, ValueError):
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if not spec["pid_namespace"]:   # the group is the executor's own: spare it, kill the rest
        for pid in _group_members(os.getpid()):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def _group_members(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
            if int(raw[raw.rfind(")") + 2:].split()[2]) == pgid:
                pids.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def _first_child(pid: int) -> int | None:
    """The task's pid in the host's namespace: init's only child."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except (OSError, ValueError):
        return None


def _init(spec: dict, out_w: int, err_w: int, ready_w: int, status_w: int) -> None:
    """PID 1 of the task's namespace: mounts, starts the task, reaps, reports its status.

    Tied to its agent (``spec["agent"]``), init dies with the executor (parent-death
    signal), and the whole namespace with it."""
    _name(b"nomadlab-init")
    if spec.get("agent"):
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        mount = spec["mount"]
        enter_mount_namespace(mount["task_dir"], mount["alloc_dir"])()
        mount_proc()
    except OSError as err:
        os.write(ready_w, f"setting up the task's namespaces failed: {err}".encode())
        os._exit(127)
    task = os.fork()
    if task == 0:
        _exec_task(spec, out_w, err_w, ready_w)
    for fd in (out_w, err_w, ready_w):
        os.close(fd)
    while True:   # orphans in the namespace are re-parented to init: reap them all
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        if pid == task:
            os.write(status_w, str(os.waitstatus_to_exitcode(status)).encode())
            os._exit(0)


def _exec_task(spec: dict, out_w: int, err_w: int, ready_w: int) -> None:
    """In the task's process: cgroups, limits, files, user, then the command itself."""
    step = "starting"
    try:
        for sig in _IGNORED:
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        step = "joining the task's cgroups"
        for procs in spec["cgroup_procs"]:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        if spec["rlimit_as"]:
            step = "setting RLIMIT_AS"
            resource.setrlimit(resource.RLIMIT_AS, (spec["rlimit_as"], spec["rlimit_as"]))
        if spec["mount"] and not spec["pid_namespace"]:
            step = "setting up the task's mount namespace"
            enter_mount_namespace(spec["mount"]["task_dir"], spec["mount"]["alloc_dir"])()
        os.chdir(spec["cwd"])
        if spec["user"]:
            step = f'switching to user "{spec["user"]}"'
            user = pwd.getpwnam(spec["user"])
            os.initgroups(user.pw_name, user.pw_gid)
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        step = "exec"
        os.execve(spec["executable"], spec["argv"], spec["env"])
    except BaseException as err:  # noqa: BLE001 - whatever it is, the agent must hear it
        detail = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        message = detail if step == "exec" else f"{step}: {detail}"
        try:
            os.write(ready_w, message.encode())
        finally:
            os._exit(127)


def _copy_output(logs: dict[int, RotatingLog], child: int, status_r: int,
                 pid_namespace: bool, agent: _Agent | None,
                 kill: Callable[[], None]) -> int:
    """Logmon: copy the task's output (read end -> its rotated files) until it ended and
    its output is drained; returns its exit code (negative: the signal that killed it).
    Once ``agent`` (if any) has exited, ``kill`` the task."""
    poller = select.poll()
    for fd in logs:
        poller.register(fd, select.POLLIN)
    if agent is not None and agent.gone():
        kill()
        agent = None
    elif agent is not None and agent.fd is not None:   # checked after opening: no race
        poller.register(agent.fd, select.POLLIN)
    try:
        pidfd: int | None = os.pidfd_open(child)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = None   # an older kernel: look for the exit between reads
    code: int | None = None
    deadline: float | None = None
    while logs:
        if agent is not None and agent.fd is None and agent.gone():
            kill()
            agent = None
        if code is None and pidfd is None:
            code = _reap(child, status_r, pid_namespace, block=False)
            if code is not None:
                deadline = time.monotonic() + DRAIN_SECONDS
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            timeout: int | None = int(left * 1000) + 1
        else:
            polled = pidfd is None or agent is not None and agent.fd is None
            timeout = 100 if polled else None
        for fd, _ in poller.poll(timeout):
            if agent is not None and fd == agent.fd:
                poller.unregister(fd)
                kill()
                agent = None
                continue
            if fd == pidfd:
                poller.unregister(pidfd)
                code = _reap(child, status_r, pid_namespace, block=True)
                deadline = time.monotonic() + DRAIN_SECONDS
                continue
            data = os.read(fd, 65536)
            if data:
                try:
                    logs[fd].write(data)
                except OSError:
                    pass   # a full disk loses output; it must not stop the reading (SIGPIPE)
            else:
                poller.unregister(fd)
                logs.pop(fd).close()
    for log in logs.values():
        log.close()
    if code is None:
        code = _reap(child, status_r, pid_namespace, block=True)
    return code if code is not None else -signal.SIGKILL


def _reap(child: int, status_r: int, pid_namespace: bool, block: bool) -> int | None:
    """The task's exit code once the child ended; None while it runs (``block`` False)."""
    pid, status = os.waitpid(child, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    own = os.waitstatus_to_exitcode(status)
    if not pid_namespace:
        return own
    reported = _read_all(status_r).strip()
    return int(reported) if reported else own   # init was killed: that ended the task


def _write_exit(path: str, code: int) -> None:
    """Record how the task ended (exit code 128 + signal for a signal, as shells and
    Nomad report it); an allocation directory already removed just loses the record."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump({"exit_code": code if code >= 0 else 128 - code,
                       "signal": 0 if code >= 0 else -code}, f)
        os.replace(tmp, path)
    except OSError:
        pass
