"""The exec driver: a real process with resource limits (Nomad's ``exec``).

Nomad's exec driver runs the task as ``nobody`` (unless its ``user`` says otherwise), in its
task directory, chrooted, in its own PID namespace, in cgroups.  nomadlab does the same
except for the chroot: the task's user, its own files, a private mount namespace that
hides every other allocation and a PID namespace with its own ``/proc`` are set up in
:mod:`.fs_isolation` and :mod:`.executor` (why there); resources are enforced with the
best mechanism this host offers:

* ``cgroups-v2`` (``/sys/fs/cgroup/cgroup.controllers`` exists): ``memory.max``,
  ``cpu.weight`` (from Nomad's shares), a cgroup per task under ``/sys/fs/cgroup/nomadlab``;
* ``cgroups-v1``: a cgroup per task in the memory, cpu and pids hierarchies,
  ``memory.limit_in_bytes`` (and ``memsw``, so swap is no escape), ``cpu.shares`` = the
  task's CPU in MHz as Nomad sets it.  The ``nomadlab`` parent is created under the cgroup
  the client itself runs in, so a kernel confined by a container or a systemd unit keeps
  its tasks inside its own limits;
* ``rlimits`` when the client is not root or no cgroup is writable: ``RLIMIT_AS`` =
  ``RLIMIT_AS_FACTOR`` x the memory limit.  Address space is not memory in use (runtimes
  reserve far more than they touch), hence the generous factor; an allocation beyond it
  fails inside the task instead of an OOM kill, and nothing limits CPU.

With cgroups, a task the kernel killed for memory ends with ``oom_killed=True``.
"""

from __future__ import annotations

import os
import platform
import pwd
import threading
import time
from typing import Any, Optional

from .base import Fingerprint, TaskConfig, TaskHandle
from .fs_isolation import DEFAULT_USER, mount_namespace_available, own_task_dirs
from .process import Isolation, ProcessDriver

__all__ = ["ExecDriver", "CgroupV1", "CgroupV2", "Rlimits", "detect_isolation",
           "RLIMIT_AS_FACTOR"]

CGROUP_ROOT = "/sys/fs/cgroup"
PARENT = "nomadlab"
V1_CONTROLLERS = ("memory", "cpu", "pids")
#: Address-space limit under rlimits, as a multiple of the task's memory limit.
RLIMIT_AS_FACTOR = 4
_MB = 1024 * 1024

DESCRIPTIONS = {
    "cgroups-v2": "memory and CPU limits through cgroup v2, OOM kills reported",
    "cgroups-v1": "memory and CPU limits through cgroup v1, OOM kills reported",
    "rlimits": (f"address space limited to {RLIMIT_AS_FACTOR}x the memory limit through "
                "RLIMIT_AS (cgroups are not writable here: not root, or not mounted "
                "read-write); no CPU limit, no OOM reporting"),
}
#: What a task sees of the host: with a mount namespace, as root without one, not root.
FS_NAMESPACE = (f"tasks run as {DEFAULT_USER} unless their user says otherwise, in a private "
                "mount namespace that hides other allocations and the client's data dir, "
                "and in their own PID namespace (no chroot, no network isolation)")
FS_PERMISSIONS = (f"tasks run as {DEFAULT_USER} unless their user says otherwise; no mount "
                  "or PID namespace (unshare or mount is not permitted here), so only file "
                  "permissions keep tasks apart and tasks see every process on the host; "
                  "no network isolation")
FS_NONE = ("no filesystem isolation: tasks run as the client's user (the client is not "
           "root, so it cannot switch users) and can read what it can read; no PID "
           "namespace: tasks see and may signal the client's processes; no network "
           "isolation")


def _write(path: str, value: Any) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _read_int_field(path: str, key: str) -> Optional[int]:
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == key:
                    return int(parts[1])
    except (OSError, ValueError):
        pass
    return None


def _procs(cgroup: str) -> list[int]:
    try:
        with open(os.path.join(cgroup, "cgroup.procs")) as f:
            return [int(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []


def _cgroup_name(task: TaskConfig, agent_id: str) -> str:
    """``<agent id>-<alloc id>-<task>``: two agents made with the same seed give the same
    allocation IDs, but their agent ids differ, so their cgroups (and the kills on
    cleanup) never meet."""
    return f"{agent_id}-{task.alloc_id}-{task.task_name}".replace("/", "_")


def _memory_limits(task: TaskConfig) -> tuple[int, int]:
    """(hard, soft) memory limits in bytes; soft is 0 unless memory_max_mb oversubscribes."""
    res = task.resources
    if res.memory_max_mb and res.memory_max_mb > res.memory_mb:
        return res.memory_max_mb * _MB, res.memory_mb * _MB
    return res.memory_mb * _MB, 0


def _remove_cgroup(path: str) -> None:
    """SIGKILL what is left in ``path``, wait for it to go, remove the directory."""
    deadline = time.monotonic() + 2.0
    while True:
        pids = _procs(path)
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        time.sleep(0.1)
        try:
            os.rmdir(path)
        except OSError:
            pass
    try:
        os.rmdir(os.path.dirname(path))   # the nomadlab parent, when this was its last task
    except OSError:
        pass


def _join(paths: list[str]) -> dict[str, Any]:
    """The task's process joins these cgroups before exec."""
    return {"cgroup_procs": [os.path.join(p, "cgroup.procs") for p in paths], "rlimit_as": 0}


class CgroupV1(Isolation):
    """One cgroup per task in each of the memory, cpu and pids v1 hierarchies."""

    name = "cgroups-v1"

    @staticmethod
    def parent(controller: str) -> str:
        """``<mount>/<the client's own cgroup>/nomadlab`` for ``controller``."""
        mount = os.path.join(CGROUP_ROOT, controller)
        own = "/"
        try:
            with open("/proc/self/cgroup") as f:
                for line in f:
                    _, controllers, path = line.rstrip("\n").split(":", 2)
                    if controller in controllers.split(","):
                        own = path
        except OSError:
            pass
        base = os.path.join(mount, own.lstrip("/"))
        if not os.path.isdir(base):
            base = mount
        return os.path.join(base, PARENT)

    def prepare(self, task: TaskConfig) -> dict[str, Any]:
        name = _cgroup_name(task, self.agent_id)
        paths = {}
        for controller in V1_CONTROLLERS:
            path = os.path.join(self.parent(controller), name)
            for _ in range(3):   # a concurrent destroy may remove the empty parent meanwhile
                try:
                    os.makedirs(path, exist_ok=True)
                    break
                except FileNotFoundError:
                    continue
            paths[controller] = path
        hard, soft = _memory_limits(task)
        memory = paths["memory"]
        _write(os.path.join(memory, "memory.limit_in_bytes"), hard)
        if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
            _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), hard)
        if soft:
            _write(os.path.join(memory, "memory.soft_limit_in_bytes"), soft)
        _write(os.path.join(paths["cpu"], "cpu.shares"), max(2, task.resources.cpu))
        oom_before = _read_int_field(os.path.join(memory, "memory.oom_control"), "oom_kill") or 0
        return {"cgroups": paths, "oom_kill_before": oom_before}

    def child_spec(self, state: dict[str, Any]) -> dict[str, Any]:
        return _join(list(state["cgroups"].values()))

    def pids(self, state: dict[str, Any]) -> Optional[list[int]]:
        found: set[int] = set()
        for path in state.get("cgroups", {}).values():
            found.update(_procs(path))
        return sorted(found)

    def oom_killed(self, state: dict[str, Any]) -> bool:
        memory = state.get("cgroups", {}).get("memory")
        if not memory:
            return False
        count = _read_int_field(os.path.join(memory, "memory.oom_control"), "oom_kill")
        if count is not None:
            return count > int(state.get("oom_kill_before", 0))
        return bool(_read_int_field(os.path.join(memory, "memory.oom_control"), "under_oom"))

    def cleanup(self, state: dict[str, Any]) -> None:
        for path in state.get("cgroups", {}).values():
            _remove_cgroup(path)


class CgroupV2(Isolation):
    """One cgroup per task under ``/sys/fs/cgroup/nomadlab`` on the unified hierarchy."""

    name = "cgroups-v2"

    @staticmethod
    def parent() -> str:
        return os.path.join(CGROUP_ROOT, PARENT)

    @staticmethod
    def enable_controllers() -> None:
        parent = CgroupV2.parent()
        os.makedirs(parent, exist_ok=True)
        for path in (CGROUP_ROOT, parent):
            _write(os.path.join(path, "cgroup.subtree_control"), "+memory +cpu +pids")

    def prepare(self, task: TaskConfig) -> dict[str, Any]:
        self.enable_controllers()
        path = os.path.join(self.parent(), _cgroup_name(task, self.agent_id))
        os.makedirs(path, exist_ok=True)
        hard, soft = _memory_limits(task)
        _write(os.path.join(path, "memory.max"), hard)
        if soft:
            _write(os.path.join(path, "memory.low"), soft)
        if os.path.exists(os.path.join(path, "memory.swap.max")):
            _write(os.path.join(path, "memory.swap.max"), 0)
        shares = max(2, task.resources.cpu)
        _write(os.path.join(path, "cpu.weight"), 1 + ((shares - 2) * 9999) // 262142)
        before = _read_int_field(os.path.join(path, "memory.events"), "oom_kill") or 0
        return {"cgroups": {"unified": path}, "oom_kill_before": before}

    def child_spec(self, state: dict[str, Any]) -> dict[str, Any]:
        return _join([state["cgroups"]["unified"]])

    def pids(self, state: dict[str, Any]) -> Optional[list[int]]:
        path = state.get("cgroups", {}).get("unified")
        return _procs(path) if path else []

    def oom_killed(self, state: dict[str, Any]) -> bool:
        path = state.get("cgroups", {}).get("unified")
        count = _read_int_field(os.path.join(path, "memory.events"), "oom_kill") if path else None
        return count is not None and count > int(state.get("oom_kill_before", 0))

    def cleanup(self, state: dict[str, Any]) -> None:
        path = state.get("cgroups", {}).get("unified")
        if path:
            kill = os.path.join(path, "cgroup.kill")
            if os.path.exists(kill):
                try:
                    _write(kill, 1)
                except OSError:
                    pass
            _remove_cgroup(path)


class Rlimits(Isolation):
    """``RLIMIT_AS`` = ``RLIMIT_AS_FACTOR`` x the memory limit, set in the child."""

    name = "rlimits"

    def prepare(self, task: TaskConfig) -> dict[str, Any]:
        hard, _ = _memory_limits(task)
        return {"rlimit_as": hard * RLIMIT_AS_FACTOR}

    def child_spec(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"cgroup_procs": [], "rlimit_as": int(state["rlimit_as"])}


_detected: Optional[str] = None
_detect_lock = threading.Lock()


def _probe_v1() -> bool:
    probe = os.path.join(CgroupV1.parent("memory"), f"probe-{os.getpid()}")
    try:
        os.makedirs(probe, exist_ok=True)
        _write(os.path.join(probe, "memory.limit_in_bytes"), 64 * _MB)
        for controller in V1_CONTROLLERS[1:]:
            if not os.access(os.path.join(CGROUP_ROOT, controller), os.W_OK):
                return False
        return True
    except OSError:
        return False
    finally:
        for path in (probe, os.path.dirname(probe)):
            try:
                os.rmdir(path)
            except OSError:
                pass


def _probe_v2() -> bool:
    probe = os.path.join(CgroupV2.parent(), f"probe-{os.getpid()}")
    try:
        CgroupV2.enable_controllers()
        os.makedirs(probe, exist_ok=True)
        _write(os.path.join(probe, "memory.max"), 64 * _MB)
        return True
    except OSError:
        return False
    finally:
        try:
            os.rmdir(probe)
        except OSError:
            pass


def detect_isolation(refresh: bool = False) -> str:
    """``"cgroups-v2"``, ``"cgroups-v1"`` or ``"rlimits"``: what exec can enforce here.

    Probed once (by creating and removing a cgroup) and cached; ``refresh`` probes again.
    """
    global _detected
    with _detect_lock:
        if _detected is None or refresh:
            if os.geteuid() != 0:
                _detected = "rlimits"
            elif os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
                _detected = "cgroups-v2" if _probe_v2() else "rlimits"
            elif os.path.isdir(os.path.join(CGROUP_ROOT, "memory")):
                _detected = "cgroups-v1" if _probe_v1() else "rlimits"
            else:
                _detected = "rlimits"
        return _detected


_ISOLATIONS = {"cgroups-v1": CgroupV1, "cgroups-v2": CgroupV2, "rlimits": Rlimits}


class ExecDriver(ProcessDriver):
    """Nomad's ``exec``: ``command`` + ``args`` as a real process, as ``nobody`` by default,
    in its task directory, with resource limits.

    ``agent_id`` names the agent's cgroups apart from another agent's on the same host
    (see :mod:`nomadlab.client.identity`); a driver made on its own gets a random one.
    """

    name = "exec"

    def __init__(self, agent_id: str = "") -> None:
        self.agent_id = agent_id or os.urandom(4).hex()

    def fingerprint(self) -> Fingerprint:
        if platform.system() != "Linux":
            return Fingerprint(detected=False, healthy=False,
                               health_description="exec is only supported on Linux")
        isolation = detect_isolation()
        return Fingerprint(detected=True, healthy=True, health_description="Healthy",
                           attributes={"driver.exec": "1",
                                       "driver.exec.isolation": isolation,
                                       "driver.exec.isolation.description":
                                           f"{DESCRIPTIONS[isolation]}; {_fs_description()}"})

    def isolation(self) -> Isolation:
        return _ISOLATIONS[detect_isolation()](self.agent_id)

    def isolation_for(self, handle: TaskHandle) -> Isolation:
        return _ISOLATIONS.get(handle.state.get("isolation", ""), Isolation)()

    def _user_for(self, task: TaskConfig) -> str:
        """The task's ``user``, else ``nobody`` when the client is root (it can switch)."""
        return task.user or (DEFAULT_USER if os.geteuid() == 0 else "")

    def _fs_setup(self, task: TaskConfig,
                  user: Optional[pwd.struct_passwd]) -> Optional[dict[str, str]]:
        if user is not None:
            own_task_dirs(task, user)
        if not mount_namespace_available():
            return None
        return {"task_dir": task.task_dir, "alloc_dir": task.alloc_dir}

    def _pid_namespace(self) -> bool:
        """Always, where namespaces are available: Nomad's exec gives each task its own."""
        return True

    def start(self, task: TaskConfig) -> TaskHandle:
        handle = super().start(task)
        if task.events is not None:
            task.events(self._in_force(task))
        return handle

    def _in_force(self, task: TaskConfig) -> str:
        """What the task runs with, for its events: its user, what it sees, its limits."""
        user = self._user_for(task)
        uid = pwd.getpwnam(user).pw_uid if user else os.geteuid()
        if not user:
            try:
                user = pwd.getpwuid(uid).pw_name
            except KeyError:
                user = str(uid)
        if mount_namespace_available():
            files = ("in a private mount namespace that hides other allocations and the "
                     "client's data dir, in its own PID namespace")
        elif os.geteuid() == 0:
            files = ("with no mount or PID namespace (not permitted here): only file "
                     "permissions keep tasks apart, and it sees every process on the host")
        else:
            files = ("with no filesystem isolation and no PID namespace: the client is not "
                     "root, so it can neither switch users, hide other allocations nor "
                     "keep the task from signalling the client's processes")
        return f"running as user {user} (uid {uid}) {files}; {DESCRIPTIONS[detect_isolation()]}"


def _fs_description() -> str:
    if mount_namespace_available():
        return FS_NAMESPACE
    return FS_PERMISSIONS if os.geteuid() == 0 else FS_NONE
