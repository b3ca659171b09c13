"""A Nomad client in this process: a node that registers, heartbeats and runs allocations.

Several clients share the host, each presenting itself as its own node with its own ID,
name, datacenter, class, pool, meta and share of the host's CPU and memory.  A client
watches the state store for allocations placed on its node (Nomad's clients long-poll
the servers the same way), runs each in an :class:`AllocRunner`, and reports status back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
import time
import uuid
from typing import Callable, Iterable, Optional

from ..drivers.base import Driver
from ..structs import (Allocation, DriverInfo, NetworkResource, Node, NodeCpuResources,
                       NodeDiskResources, NodeMemoryResources, NodeResources)
from .allocrunner import AllocRunner
from .fingerprint import host_attributes
from .heartbeat_stop import HeartbeatStop
from .restore import load_identity, reap_orphans, reattachable, save_identity
from .services import ClientServices

__all__ = ["Client", "ClientConfig", "HEARTBEAT_INTERVAL"]

#: How often a client heartbeats (seconds); the server's TTL is a few times this.
#: Least time between two batches of allocation updates (Nomad's client uses 200 ms).
ALLOC_SYNC_INTERVAL = 0.02
HEARTBEAT_INTERVAL = 0.5


@dataclasses.dataclass
class ClientConfig:
    """A client's node settings: what it calls itself and how much of the host it offers."""

    name: str
    datacenter: str = "dc1"
    node_class: str = ""
    node_pool: str = "default"
    cpu: int = 2000
    memory: int = 2048
    disk: int = 10_000
    meta: dict[str, str] = dataclasses.field(default_factory=dict)
    data_dir: Optional[str] = None
    simulated: bool = False
    #: Names what this client's drivers start (containers, cgroups) apart from another
    #: agent's on the same host (see :mod:`nomadlab.client.identity`).
    agent_id: str = ""
    #: Host paths in docker ``volumes`` (Nomad's ``volumes { enabled }``, off by default).
    docker_volumes: bool = False


class Client:
    """One node agent. ``server`` is the in-process :class:`~nomadlab.server.server.Server`."""

    def __init__(self, server: object, config: ClientConfig, drivers: dict[str, Driver],
                 seed: int = 0, clock: Optional[Callable[[], int]] = None,
                 restore: bool = False) -> None:
        self.server = server
        self.config = config
        self.drivers = drivers
        self.clock = clock or time.time_ns
        self.seed = seed
        digest = hashlib.sha256(f"{seed}:{config.name}".encode()).digest()
        self.node_id = str(uuid.UUID(bytes=digest[:16], version=4))
        self.secret_id = str(uuid.uuid5(uuid.NAMESPACE_OID, self.node_id))
        self._own_dir = config.data_dir is None
        self.data_dir = config.data_dir or tempfile.mkdtemp(prefix=f"nomadlab-{config.name}-")
        # Private, as Nomad's data dir: tasks running as other users must not walk into
        # any allocation (the exec driver hides it from its tasks altogether).
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        saved = None if self._own_dir else load_identity(self.data_dir)
        if saved is not None:   # an earlier client process ran here: be that node again
            self.node_id, self.secret_id = saved["node_id"], saved["secret_id"]
        self.runners: dict[str, AllocRunner] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._updates: dict[str, Allocation] = {}   # alloc id -> latest unsent report
        self._updates_lock = threading.Lock()
        self._updated = threading.Event()
        self._cut_off = threading.Event()   # a network partition: no heartbeats, no syncs
        self._heartbeat_stop = HeartbeatStop()
        self.node: Optional[Node] = None
        #: Timers, checks and their results, shared by this client's allocations.
        self.services = ClientServices.start(server, config.name, simulated=config.simulated)
        #: A restarted client first re-attaches to the allocations its predecessor ran
        #: (in this process, or one that died: its data dir says so).
        self._restore = restore or saved is not None

    # -- node ---------------------------------------------------------------------------

    def fingerprint(self) -> Node:
        """The node as this client sees it: host attributes, drivers, its resource share."""
        c = self.config
        attributes = host_attributes(c.name, c.cpu, c.memory)
        drivers: dict[str, DriverInfo] = {}
        for name, driver in self.drivers.items():
            fp = driver.fingerprint()
            drivers[name] = DriverInfo(attributes=fp.attributes, detected=fp.detected,
                                       healthy=fp.healthy, health_description=fp.health_description)
            if fp.detected:
                attributes.update(fp.attributes)
                attributes.setdefault(f"driver.{name}", "1")
        if c.simulated:
            attributes["nomadlab.simulated"] = "true"
        return Node(
            id=self.node_id, secret_id=self.secret_id,
            name=c.name, datacenter=c.datacenter, node_class=c.node_class, node_pool=c.node_pool,
            http_addr="127.0.0.1:4646", attributes=attributes, meta=dict(c.meta), drivers=drivers,
            node_resources=NodeResources(
                cpu=NodeCpuResources(cpu_shares=c.cpu, total_cpu_cores=os.cpu_count() or 1),
                memory=NodeMemoryResources(memory_mb=c.memory),
                disk=NodeDiskResources(disk_mb=c.disk),
                networks=[NetworkResource(mode="host", device="lo", ip="127.0.0.1",
                                          cidr="127.0.0.1/32")]),
            status="ready")

    def start(self) -> Node:
        """Fingerprint, register, then heartbeat and watch allocations in the background.

        A restoring client first stops what its predecessor left running that will not
        be re-attached (see :mod:`nomadlab.client.restore`).
        """
        if not self._own_dir and not self._restore:
            save_identity(self.data_dir, self.node_id, self.secret_id)
        if self._restore:
            reap_orphans(self.data_dir, self.node_id,
                         self.server.state.alloc, self.drivers)  # type: ignore[attr-defined]
        self.node = self.server.register_node(self.fingerprint())  # type: ignore[attr-defined]
        self.server.heartbeat(self.node_id)  # type: ignore[attr-defined]
        for target, name in ((self._heartbeat, "heartbeat"), (self._watch, "watch"),
                             (self._send_updates, "alloc-sync")):
            thread = threading.Thread(target=target, name=f"{self.config.name}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.node

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL):
            if not self._cut_off.is_set():
                self.server.heartbeat(self.node_id)  # type: ignore[attr-defined]
                self._heartbeat_stop.ok()
            else:
                self._heartbeat_stop.check(list(self.runners.values()))

    def cut_off(self) -> None:
        """Lose contact with the server, as a partitioned machine does: no heartbeats, no
        allocation updates either way; the tasks keep running."""
        self._cut_off.set()

    def reconnect(self) -> None:
        """Contact again: heartbeat at once, send what happened meanwhile, then catch up
        with what the server decided (e.g. stop allocations it marked lost)."""
        self._cut_off.clear()
        self.server.heartbeat(self.node_id)  # type: ignore[attr-defined]
        self._updated.set()

    # -- allocations --------------------------------------------------------------------

    def _watch(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        index, seen = 0, -1
        while not self._stop.is_set():
            index = state.wait_for_index(index, timeout=0.2)
            changed = state.table_index("allocs", "nodes")
            if self._cut_off.is_set():
                seen = -1  # catch up in full once reconnected
                continue
            if changed != seen:  # only allocation and node writes concern a client
                seen = changed
                self._sync(state.allocs_by_node(self.node_id))

    def _sync(self, allocs: Iterable[Allocation]) -> None:
        """Start new allocations, stop those the server stopped (Nomad's runAllocs)."""
        node = self.server.state.node(self.node_id) or self.node  # type: ignore[attr-defined]
        for alloc in allocs:
            if self._stop.is_set():
                return
            runner = self.runners.get(alloc.id)
            if runner is None and alloc.desired_status in ("stop", "evict") and self._restore \
                    and reattachable(alloc):
                # stopped while no client watched it: re-attach so that it is stopped
                runner = self._run_alloc(alloc, node, restore=True)
            if alloc.desired_status == "run" and runner is None:
                if alloc.client_status in ("complete", "failed", "lost"):
                    continue
                self._run_alloc(alloc, node, restore=self._restore and reattachable(alloc))
            elif alloc.desired_status == "run" and alloc.client_status == "unknown" \
                    and runner is not None and not runner.done:
                runner.reconnect(alloc)  # the server lost track while this client was away
            elif alloc.desired_status in ("stop", "evict") and runner is not None \
                    and not runner.done and not runner._killing.is_set():
                runner.kill(alloc.desired_description or "alloc was stopped")
            elif runner is not None and not runner.done \
                    and _updated_in_place(runner.alloc, alloc):
                runner.update(alloc)

    def _run_alloc(self, alloc: Allocation, node: Optional[Node], restore: bool) -> AllocRunner:
        runner = AllocRunner(alloc, node, self.drivers, self.data_dir, self._report, self.clock,
                             restore=restore, seed=self.seed, services=self.services)
        with self._lock:
            self.runners[alloc.id] = runner
        runner.start()
        return runner

    def _report(self, alloc: Allocation) -> None:
        """Queue an allocation's new client state; :meth:`_send_updates` sends it."""
        if self._stop.is_set():  # a stopped client says nothing more, like a dead machine
            return
        with self._updates_lock:
            self._updates[alloc.id] = alloc
        self._updated.set()

    def _send_updates(self) -> None:
        """Send queued allocation updates in batches, as Nomad's client does (allocSync).

        A lone update leaves at once; while updates keep coming, they are sent together at
        most every :data:`ALLOC_SYNC_INTERVAL`, so a node running hundreds of allocations
        makes a few writes a second instead of one per task event.
        """
        while not self._stop.is_set():
            if not self._updated.wait(0.5) or self._cut_off.is_set():
                continue  # while cut off, updates wait for the reconnection
            self._updated.clear()
            with self._updates_lock:
                batch, self._updates = list(self._updates.values()), {}
            if batch and not self._stop.is_set():
                self.server.update_allocs_from_client(batch)  # type: ignore[attr-defined]
            self._stop.wait(ALLOC_SYNC_INTERVAL)

    # -- lifecycle ------------------------------------------------------------------------

    def stop(self, kill_tasks: bool = True, timeout: float = 30.0, detach: bool = False,
             max_kill_timeout: Optional[float] = None) -> None:
        """Stop heartbeating (the server will mark the node down) and, by default, every task.

        ``detach`` leaves the tasks running for a client that restarts and re-attaches;
        ``max_kill_timeout`` caps each task's kill_timeout (seconds).
        """
        self.begin_stop(kill_tasks=kill_tasks, detach=detach, max_kill_timeout=max_kill_timeout)
        self.finish_stop(kill_tasks=kill_tasks, timeout=timeout, detach=detach)

    def begin_stop(self, kill_tasks: bool = True, detach: bool = False,
                   max_kill_timeout: Optional[float] = None) -> None:
        """The first half of :meth:`stop`: no more heartbeats or new allocations, and every
        task told to stop (or left, with ``detach``) without waiting for it.  An agent
        calls it on all its clients before it waits for any, so their tasks' grace
        periods run side by side, not one client after another."""
        self._stop.set()
        for thread in self._threads:  # no new allocations start once the watch has ended
            thread.join(timeout=2)
        self.services.close()
        if detach:
            for runner in list(self.runners.values()):
                runner.detach()
        elif kill_tasks:
            for runner in list(self.runners.values()):
                runner.kill("client is shutting down", max_kill_timeout=max_kill_timeout)

    def finish_stop(self, kill_tasks: bool = True, timeout: float = 30.0,
                    detach: bool = False) -> None:
        """The second half of :meth:`stop`: wait for the tasks, then let the drivers go
        (detached) or remove the client's own data dir (killed)."""
        if detach:
            for runner in list(self.runners.values()):
                runner.join(timeout)
            for driver in self.drivers.values():
                close = getattr(driver, "close", None)
                if callable(close):
                    close()
            return
        if kill_tasks:
            for runner in list(self.runners.values()):
                runner.join(timeout)
        if kill_tasks and self._own_dir:
            import shutil
            shutil.rmtree(self.data_dir, ignore_errors=True)

def _updated_in_place(current: Allocation, latest: Allocation) -> bool:
    """Did the server change a running allocation in a way its runner acts on (a new
    deployment, a canary promoted)?"""
    canary = (current.deployment_status.canary if current.deployment_status else False,
              latest.deployment_status.canary if latest.deployment_status else False)
    return latest.deployment_id != current.deployment_id or canary[0] != canary[1]
