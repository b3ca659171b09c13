"""The container reaper: one small process per agent process that removes the agent's
containers the moment that process dies, however it died.

Why: an exec or raw_exec task dies with a SIGKILLed kernel because its executor watches
the kernel (see :mod:`.executor`), but a container is run by the Docker engine, and
nothing in the engine knows the kernel.  Before this process, such a container ran on
until the next agent on the host swept it (``DockerDriver.remove_orphans``, still there
as the backstop for a reaper that was itself killed); a learner who SIGKILLed a kernel
and looked at ``docker ps`` saw their job still running with no agent to stop it.

Only containers of agents that must not leave them behind carry the owner label this
process removes by (``nomadlab.owner=<boot>/<pid namespace>/<pid>/<start time>``, the
agent's own process); an agent that re-attaches on restart (``-data-dir``) labels none,
so its containers are never touched.  The label names the process, not an agent, so one
reaper serves every agent of that process (a notebook may make several), and it is
started by the first container the process starts (:func:`ensure_running`).

It runs in a session of its own (a kernel's process group being killed does not take
it along), waits on a pidfd of the agent process (no polling; ``/proc`` once a second
on kernels without pidfds), then lists the labelled containers once and removes them
with ``docker rm -f``, and exits.  The agent's normal shutdown removes its containers
itself, so then the reaper finds none.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from typing import Optional

__all__ = ["ensure_running", "main"]

_started: dict[tuple[int, str], subprocess.Popen] = {}
_lock = threading.Lock()

#: How the reaper starts: isolated from PYTHON* variables (``-I``), the package's modules
#: loaded without its ``__init__``, which imports the whole agent (as the executor does).
_BOOT = ("import sys, types\n"
         "for name in ('nomadlab', 'nomadlab.drivers'):\n"
         "    module = types.ModuleType(name)\n"
         "    module.__path__ = [sys.argv[1] + '/' + name.replace('.', '/')]\n"
         "    sys.modules[name] = module\n"
         "from nomadlab.drivers.container_reaper import main\n"
         "main()\n")


def ensure_running(owner: str, base_url: Optional[str]) -> None:
    """Start this process's reaper for the engine at ``base_url`` (DOCKER_HOST's when
    None) unless one runs; it removes the containers labelled ``owner`` when this
    process exits."""
    from .process import process_start_time
    key = (os.getpid(), base_url or "")
    with _lock:
        running = _started.get(key)
        if running is not None and running.poll() is None:
            return
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        spec = {"agent": {"pid": os.getpid(), "start_time": process_start_time(os.getpid())},
                "owner": owner, "base_url": base_url}
        _started[key] = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, root, json.dumps(spec)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)


# -- in the reaper ------------------------------------------------------------------------


def main() -> None:
    spec = json.loads(sys.argv[2])
    agent = spec["agent"]
    _wait_for_exit(int(agent["pid"]), int(agent["start_time"]))
    import docker   # only now: an idle reaper costs a sleeping process, not an SDK
    try:
        client = (docker.DockerClient(base_url=spec["base_url"], timeout=30)
                  if spec.get("base_url") else docker.from_env(timeout=30))
        listed = client.api.containers(all=True, filters={
            "label": ["nomadlab.managed=true", f"nomadlab.owner={spec['owner']}"]})
        for container in listed:
            try:
                client.api.remove_container(container["Id"], force=True)
            except docker.errors.NotFound:
                pass   # removed meanwhile (by the agent's own stop, or the next agent)
    except docker.errors.DockerException:
        pass   # the engine is gone too: the next agent's sweep finds what is left


def _wait_for_exit(pid: int, start_time: int) -> None:
    """Until process ``pid`` (started at ``start_time``) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll():
            pass
        return
    while _start_time(pid) == start_time:
        time.sleep(1.0)


def _start_time(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
        return int(raw[raw.rfind(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None
