"""The raw_exec driver: a real process with no isolation at all (Nomad's ``raw_exec``).

The task runs as the client's user with the client's rights, so Nomad ships it disabled;
a client enables it in its config, and nomadlab's clients do the same through
``RawExecDriver(enabled=True)``.

No limits, but a cgroup to find every process by: since Nomad 1.7 a raw_exec task is
put in a cgroup of its own that enforces nothing, and stopping the task kills everything
in it.  Without one, a task that calls ``setsid`` (a daemon forking into the background)
leaves its process group and outlives the stop, which teaches that a stopped job can go
on running.  Where cgroups are not writable (a client that is not root) only the
process group is signalled, as Nomad does with ``no_cgroups``; the handle's
``isolation`` says which.
"""

from __future__ import annotations

import os
import platform
from typing import Any, Optional

from .base import DriverError, Fingerprint, TaskConfig
from .exec import CgroupV1, CgroupV2, _cgroup_name, _join, _procs, _remove_cgroup, \
    detect_isolation
from .process import Isolation, ProcessDriver

__all__ = ["RawExecDriver", "DISABLED_MESSAGE"]

DISABLED_MESSAGE = ('raw_exec is disabled: enable it in the client config '
                    '(plugin "raw_exec" { config { enabled = true } })')


class CgroupTracking(Isolation):
    """A cgroup per task that limits nothing: every process the task starts, in its
    process group or not, is found (and killed) through it.  Unified hierarchy when the
    host has cgroups v2, the ``pids`` hierarchy on v1."""

    name = "cgroup-tracking"

    def prepare(self, task: TaskConfig) -> dict[str, Any]:
        name = _cgroup_name(task, self.agent_id)
        if detect_isolation() == "cgroups-v2":
            CgroupV2.enable_controllers()
            path = os.path.join(CgroupV2.parent(), name)
        else:
            path = os.path.join(CgroupV1.parent("pids"), name)
        os.makedirs(path, exist_ok=True)
        return {"cgroups": {"tracking": path}}

    def child_spec(self, state: dict[str, Any]) -> dict[str, Any]:
        return _join([state["cgroups"]["tracking"]])

    def pids(self, state: dict[str, Any]) -> Optional[list[int]]:
        path = state.get("cgroups", {}).get("tracking")
        return _procs(path) if path else None

    def cleanup(self, state: dict[str, Any]) -> None:
        path = state.get("cgroups", {}).get("tracking")
        if path:
            _remove_cgroup(path)


class RawExecDriver(ProcessDriver):
    """Nomad's ``raw_exec``: ``command`` + ``args`` as the client's user, no limits enforced.

    ``agent_id`` names the task's tracking cgroup apart from another agent's on the host."""

    name = "raw_exec"

    def __init__(self, enabled: bool = False, agent_id: str = "") -> None:
        self.enabled = enabled
        self.agent_id = agent_id or os.urandom(4).hex()

    def isolation(self) -> Isolation:
        if detect_isolation() in ("cgroups-v2", "cgroups-v1"):
            return CgroupTracking(self.agent_id)
        return Isolation()

    def isolation_for(self, handle: Any) -> Isolation:
        if handle.state.get("isolation") == CgroupTracking.name:
            return CgroupTracking(self.agent_id)
        return Isolation()

    def fingerprint(self) -> Fingerprint:
        if not self.enabled:
            return Fingerprint(detected=False, healthy=False, health_description=DISABLED_MESSAGE)
        if platform.system() not in ("Linux", "Darwin"):
            return Fingerprint(detected=False, healthy=False,
                               health_description="raw_exec needs a POSIX host")
        return Fingerprint(detected=True, healthy=True, health_description="Healthy",
                           attributes={"driver.raw_exec": "1"})

    def _check_usable(self) -> None:
        if not self.enabled:
            raise DriverError(DISABLED_MESSAGE)
