"""What a client keeps in its data dir to come back after its process died.

A Nomad client keeps its node identity and every task's driver handle in its data dir,
so a new client process registers as the same node and re-attaches to the tasks its
predecessor started.  nomadlab keeps:

* ``<data dir>/client.json``: the node ID and secret (written once, atomically);
* ``<data dir>/alloc/<alloc id>/.state/<task>.json``: each task's driver handle (for exec
  and raw_exec the pid and start time of the task's executor, the process whose exit ends
  the task, which a new client waits for with a pidfd; cgroups; a container's ID),
  written by the task runner at start.

A task's output needs no re-attaching: its executor (or Docker) kept writing the log
files while no client ran, and the logs API reads the files.

On restart the client re-attaches to the allocations the server still wants running and
still reports running or pending (:func:`reattachable`); everything else it finds in its
data dir (an allocation the server no longer knows, or one it considers finished or
lost) is stopped by :func:`reap_orphans`, so nothing runs that the state does not know
about.  Then every container of this agent (its ``nomadlab.agent`` label) that belongs to
no allocation this client re-attaches is removed, running or not: one killed but never
removed, one whose handle was never written.  A container of another client of the same
agent (same label, another node) is left to that client.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Optional

from ..drivers.base import Driver, DriverError, Resources, TaskConfig, TaskHandle
from ..structs import Allocation

__all__ = ["load_identity", "save_identity", "load_handle", "reattachable", "reap_orphans",
           "IDENTITY_FILE"]

log = logging.getLogger(__name__)

IDENTITY_FILE = "client.json"
#: Nomad's defaults, for a task whose job the server no longer knows.
DEFAULT_KILL_SIGNAL = "SIGINT"
DEFAULT_KILL_TIMEOUT = 5.0


def load_identity(data_dir: str) -> Optional[dict[str, str]]:
    """The node ID and secret saved by an earlier client in ``data_dir``, if any."""
    try:
        with open(os.path.join(data_dir, IDENTITY_FILE)) as f:
            saved = json.load(f)
        return {"node_id": str(saved["node_id"]), "secret_id": str(saved["secret_id"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_identity(data_dir: str, node_id: str, secret_id: str) -> None:
    """Write the node identity durably (temporary file, fsync, rename)."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, IDENTITY_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"node_id": node_id, "secret_id": secret_id}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_handle(path: str) -> Optional[TaskHandle]:
    """A task handle saved by a task runner (None if missing or unreadable)."""
    try:
        with open(path) as f:
            data = json.load(f)
        config = TaskConfig(**{**data["config"],
                               "resources": Resources(**data["config"]["resources"]),
                               "ports": {k: tuple(v) for k, v in
                                         data["config"].get("ports", {}).items()}})
        return TaskHandle(driver=data["driver"], config=config, state=data["state"],
                          started_at=data.get("started_at", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reattachable(alloc: Allocation) -> bool:
    """Did a previous client run this allocation, with tasks a new one can find again?"""
    return alloc.client_status in ("running", "pending") and bool(alloc.task_states)


def reap_orphans(data_dir: str, node_id: str, lookup: Callable[[str], Optional[Allocation]],
                 drivers: dict[str, Driver]) -> list[str]:
    """Stop every task left in ``data_dir`` whose allocation will not be re-attached.

    ``lookup`` reads an allocation from the server's state.  Returns the IDs of the
    allocations whose leftovers were stopped.  The allocation directories stay (their
    logs are still worth reading); only processes and containers go.
    """
    root = os.path.join(data_dir, "alloc")
    try:
        alloc_ids = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    reaped = []
    for alloc_id in alloc_ids:
        alloc = lookup(alloc_id)
        if alloc is not None and alloc.node_id == node_id and reattachable(alloc):
            continue
        if _stop_leftovers(os.path.join(root, alloc_id), alloc_id, alloc, drivers):
            reaped.append(alloc_id)
    _remove_stray_containers(node_id, lookup, drivers,
                             lambda: _saved_containers(root, alloc_ids))
    return reaped


def _saved_containers(root: str, alloc_ids: list[str]) -> set[str]:
    """The container IDs the task handles under ``root`` name: the only containers a
    restarted client can re-attach to (one whose handle was never saved it cannot)."""
    found = set()
    for alloc_id in alloc_ids:
        state_dir = os.path.join(root, alloc_id, ".state")
        try:
            names = [n for n in os.listdir(state_dir) if n.endswith(".json")]
        except OSError:
            continue
        for name in names:
            handle = load_handle(os.path.join(state_dir, name))
            if handle is not None and handle.state.get("container_id"):
                found.add(handle.state["container_id"])
    return found


def _remove_stray_containers(node_id: str, lookup: Callable[[str], Optional[Allocation]],
                             drivers: dict[str, Driver],
                             saved_containers: Callable[[], set[str]]) -> None:
    """Remove this agent's containers that no allocation of this node will re-attach:
    those of an allocation the server no longer knows or will not re-attach, and those no
    saved task handle names (the agent died between starting and recording them; the
    allocation may still be live for a moment, until the server stops it)."""
    remove_strays = getattr(drivers.get("docker"), "remove_strays", None)
    if remove_strays is None:
        return
    saved = saved_containers()  # read only where a Docker driver runs: a handle each

    def stray(alloc_id: str, container_id: str) -> bool:
        alloc = lookup(alloc_id) if alloc_id else None
        if alloc is None:
            return True
        if alloc.node_id != node_id:  # another client of this agent: its own sweep decides
            return False
        return not reattachable(alloc) or container_id not in saved

    try:
        removed = remove_strays(stray)
    except DriverError as err:   # no engine (no containers to remove), or a failed listing
        log.warning("could not look for stray containers: %s", err)
        return
    for name in removed:
        log.info("removed container %s: no allocation of this node re-attaches to it", name)


def _stop_leftovers(alloc_dir: str, alloc_id: str, alloc: Optional[Allocation],
                    drivers: dict[str, Driver]) -> bool:
    stopped = False
    state_dir = os.path.join(alloc_dir, ".state")
    try:
        names = sorted(n for n in os.listdir(state_dir) if n.endswith(".json"))
    except FileNotFoundError:
        names = []
    for name in names:
        handle = load_handle(os.path.join(state_dir, name))
        driver = drivers.get(handle.driver) if handle is not None else None
        if handle is None or driver is None:
            continue
        signal, timeout = _kill_settings(alloc, handle.config.task_name)
        try:
            if not driver.recover(handle):
                continue
            log.info('stopping task "%s" of allocation %s: %s', handle.config.task_name,
                     alloc_id[:8], "the server no longer knows the allocation" if alloc is None
                     else f"the allocation is {alloc.client_status}")
            driver.stop(handle, signal, timeout)
            driver.destroy(handle)
            stopped = True
        except DriverError as err:
            log.warning('could not stop leftover task "%s" of allocation %s: %s',
                        handle.config.task_name, alloc_id[:8], err)
    return stopped


def _kill_settings(alloc: Optional[Allocation], task_name: str) -> tuple[str, float]:
    """The task's kill_signal and kill_timeout (seconds), or Nomad's defaults."""
    task: Any = None
    if alloc is not None and alloc.job is not None:
        groups = [g for g in alloc.job.task_groups if g.name == alloc.task_group]
        task = next((t for g in groups for t in g.tasks if t.name == task_name), None)
    if task is None:
        return DEFAULT_KILL_SIGNAL, DEFAULT_KILL_TIMEOUT
    return (task.kill_signal or DEFAULT_KILL_SIGNAL,
            (task.kill_timeout or int(DEFAULT_KILL_TIMEOUT * 1e9)) / 1e9)
