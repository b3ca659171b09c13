"""An allocation's Nomad services: registered while their tasks run, with their checks.

What Nomad's client does for ``service { provider = "nomad" }`` blocks
(client/serviceregistration/nsd and the group and task service hooks): a task's services
are registered with the servers once the task runs and removed when it stops; a group's
services once the allocation's main tasks all run, and removed when the allocation
stops.  A registration carries the address and port of the service's port label from
the allocation's networks, its tags (``canary_tags`` for a canary), and starts the
service's checks, which run on this client (:mod:`.checks`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from ..structs import (Allocation, CheckQueryResult, Node, Service, ServiceCheck,
                       ServiceRegistration)
from ..structs.service_registration import check_id, service_id
from .checks import CheckRunner, CheckSpec, CheckStore
from .interpolate import node_attributes, replace_env
from .timers import Timers

__all__ = ["AllocServices", "ClientServices", "service_address"]


@dataclass
class ClientServices:
    """What a client shares among its allocations for services and health: the server
    it registers with, its timer thread, its check runner and store."""

    server: object
    timers: Timers
    checks: CheckRunner
    store: CheckStore
    simulated: bool = False

    @classmethod
    def start(cls, server: object, name: str, simulated: bool = False) -> "ClientServices":
        timers = Timers(f"{name}-timers")
        store = CheckStore()
        return cls(server, timers, CheckRunner(timers, store), store, simulated)

    def close(self) -> None:
        self.checks.close()
        self.timers.stop()


@dataclass(frozen=True)
class _Owned:
    """One service of the allocation with where it belongs (``task`` "" for the group)."""

    service: Service
    task: str


@dataclass
class _CheckRestart:
    """Nomad's check_restart for one check: restart the task once the check has failed
    ``limit`` times in a row (``interval * (limit - 1)`` after the first failure), not
    counting failures within ``grace`` of the task's start or of the last restart."""

    name: str
    task: str
    limit: int
    grace: float
    interval: float
    grace_until: float
    unhealthy_since: Optional[float] = None

    def apply(self, now: float, status: str) -> bool:
        """A result came in; True when the task must restart now."""
        if status != "failure":
            self.unhealthy_since = None
            return False
        if now < self.grace_until:
            return False
        if self.unhealthy_since is None:
            self.unhealthy_since = now
        if now >= self.unhealthy_since + self.interval * (self.limit - 1):
            self.unhealthy_since, self.grace_until = None, now + self.grace
            return True
        return False


def service_address(alloc: Allocation, node: Optional[Node], port_label: str,
                    custom_address: str = "") -> tuple[str, int]:
    """``(address, port)`` of a port label (Nomad's GetAddress, host networking).

    A label names a port of the allocation's networks (the host port); a number is used
    as it is; no label gives port 0.  The address is the port's host IP, else the node's.
    """
    host = _node_ip(alloc, node)
    port = 0
    if port_label.isdigit():
        port = int(port_label)
    elif port_label:
        found = _port(alloc, port_label)
        if found is None:
            raise ValueError(f'invalid port "{port_label}": port label not found')
        host, port = found[0] or host, found[1]
    return custom_address or host, port


def _node_ip(alloc: Allocation, node: Optional[Node]) -> str:
    shared = alloc.allocated_resources.shared if alloc.allocated_resources else None
    for network in (shared.networks if shared else []):
        if network.ip:
            return network.ip
    if node is not None and node.node_resources is not None:
        for network in node.node_resources.networks:
            if network.ip:
                return network.ip
    return "127.0.0.1"


def _port(alloc: Allocation, label: str) -> Optional[tuple[str, int]]:
    resources = alloc.allocated_resources
    if resources is None:
        return None
    for mapping in resources.shared.ports:
        if mapping.label == label:
            return mapping.host_ip, mapping.value
    networks = list(resources.shared.networks)
    for task in resources.tasks.values():
        networks += task.networks
    for network in networks:
        for port in (*network.reserved_ports, *network.dynamic_ports):
            if port.label == label:
                return network.ip, port.value
    return None


class AllocServices:
    """The registrations and checks of one allocation, kept in step with its tasks.

    ``server`` is the in-process server (its ``upsert_service_registrations`` and
    ``delete_service_registrations``); ``env`` gives a task's environment, which the
    service name and tags are interpolated with, as in Nomad.
    """

    def __init__(self, alloc: Allocation, node: Optional[Node], server: object,
                 checks: Optional[CheckRunner], env: Callable[[str], Mapping[str, str]],
                 simulated: bool = False,
                 on_check: Optional[Callable[[CheckQueryResult], None]] = None,
                 restart: Optional[Callable[[str, str], None]] = None) -> None:
        self.alloc = alloc
        self.node = node
        self._server = server
        self._checks = checks
        self._env = env
        self._simulated = simulated
        self._on_check = on_check
        self._restart = restart   # (task or "" for the whole allocation, reason)
        self._check_restarts: dict[str, _CheckRestart] = {}
        assert alloc.job is not None
        group = alloc.job.group(alloc.task_group)
        self._owned = [_Owned(s, "") for s in group.services if s.provider == "nomad"]
        self._owned += [_Owned(s, t.name) for t in group.tasks for s in t.services
                        if s.provider == "nomad"]
        #: registration id -> (what was registered, its check ids)
        self._registered: dict[str, tuple[ServiceRegistration, list[str]]] = {}
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def any(self) -> bool:
        return bool(self._owned)

    def update(self, alloc: Allocation) -> None:
        """The server changed the allocation (a new deployment, a promoted canary): the
        next :meth:`sync` registers what it now says."""
        with self._lock:
            self.alloc = alloc

    # -- what the health tracker asks ------------------------------------------------------

    def healthiness_check_ids(self) -> list[str]:
        """Every check that decides the allocation's health (``on_update`` not ignore)."""
        return [self._check_id(o, c) for o in self._owned for c in o.service.checks
                if c.on_update != "ignore"]

    def checks_passing(self, results: Mapping[str, CheckQueryResult]) -> bool:
        """Do all healthiness checks pass now?  (True when there are none.)"""
        return all(results.get(i) is not None and results[i].status == "success"
                   for i in self.healthiness_check_ids())

    # -- keeping registrations in step ---------------------------------------------------

    def sync(self, running: set[str], group_running: bool) -> None:
        """Register the services of ``running`` tasks (and the group's when
        ``group_running``), deregister the others."""
        if not self._owned:
            return
        with self._lock:
            if self._stopped:
                return
            wanted = [o for o in self._owned
                      if (o.task in running if o.task else group_running)]
            regs, specs = [], []
            for owned in wanted:
                try:
                    reg, checks = self._registration(owned)
                except ValueError:  # the job spec checks port labels; nothing to register
                    continue
                regs.append(reg)
                specs.append((reg.id, owned, checks))
            wanted_ids = {reg.id for reg in regs}
            gone = [i for i in self._registered if i not in wanted_ids]
            changed = [r for r in regs if r.id not in self._registered
                       or self._registered[r.id][0] != r]
            if changed:  # new, or new tags (a promoted canary)
                self._server.upsert_service_registrations(changed)  # type: ignore[attr-defined]
            for reg, (reg_id, _, checks) in zip(regs, specs):
                if reg_id in self._registered:
                    self._registered[reg_id] = (reg, self._registered[reg_id][1])
                    continue
                self._registered[reg_id] = (reg, [c.id for c in checks])
                for spec in checks:
                    policy = spec.check.check_restart
                    if policy is not None and policy.limit > 0:
                        grace = (policy.grace or 0) / 1e9
                        self._check_restarts[spec.id] = _CheckRestart(
                            spec.name, spec.task, policy.limit, grace,
                            (spec.check.interval or 0) / 1e9, time.monotonic() + grace)
                if self._checks is not None:
                    for spec in checks:
                        self._checks.watch(self.alloc.id, spec, self._check_result)
            self._deregister(gone)

    def stop(self) -> None:
        """Deregister everything: the allocation is stopping or done."""
        with self._lock:
            self._stopped = True
            self._deregister(list(self._registered))

    def _deregister(self, reg_ids: list[str]) -> None:
        if not reg_ids:
            return
        check_ids = [c for i in reg_ids for c in self._registered[i][1]]
        for check in check_ids:
            self._check_restarts.pop(check, None)
        if self._checks is not None and check_ids:
            self._checks.unwatch(self.alloc.id, check_ids)
        self._server.delete_service_registrations(reg_ids)  # type: ignore[attr-defined]
        for reg_id in reg_ids:
            del self._registered[reg_id]

    def _check_result(self, result: CheckQueryResult) -> None:
        with self._lock:
            policy = self._check_restarts.get(result.id)
            restart = policy is not None and policy.apply(time.monotonic(), result.status)
        if restart and policy is not None and self._restart is not None:
            self._restart(policy.task, f'healthcheck: check "{policy.name}" unhealthy')
        if self._on_check is not None:
            self._on_check(result)

    # -- building ------------------------------------------------------------------------

    def _check_id(self, owned: _Owned, check: ServiceCheck) -> str:
        """Two checks may share a (default) name; what they check tells them apart."""
        what = "\x00".join((check.name or _default_name(owned.service), check.type,
                            check.path, check.port_label, check.method, str(check.interval)))
        return check_id(self.alloc.id, self.alloc.task_group, owned.task,
                        owned.service.name, what)

    def _registration(self, owned: _Owned) -> tuple[ServiceRegistration, list[CheckSpec]]:
        service, alloc = owned.service, self.alloc
        env = {**node_attributes(self.node), **self._env(owned.task)} if self.node else \
            dict(self._env(owned.task))
        name = replace_env(service.name, env)
        canary = alloc.deployment_status is not None and alloc.deployment_status.canary
        tags = service.canary_tags if canary and service.canary_tags else service.tags
        address, port = service_address(alloc, self.node, service.port_label, service.address)
        reg = ServiceRegistration(
            id=service_id(alloc.id, owned.task or f"group-{alloc.task_group}", name,
                          service.port_label),
            service_name=name, namespace=alloc.namespace, node_id=alloc.node_id,
            datacenter=self.node.datacenter if self.node else "", job_id=alloc.job_id,
            alloc_id=alloc.id, tags=[replace_env(t, env) for t in tags],
            address=address, port=port)
        specs = []
        for check in service.checks:
            label = check.port_label or service.port_label
            check_address, check_port = service_address(alloc, self.node, label,
                                                        service.address)
            check_name = check.name or _default_name(service)
            specs.append(CheckSpec(
                id=self._check_id(owned, check), name=check_name, check=check,
                address=check_address, port=check_port, group=alloc.name, task=owned.task,
                service=name,
                mode="readiness" if check.on_update == "ignore" else "healthiness",
                simulated=self._simulated))
        return reg, specs


def _default_name(service: Service) -> str:
    """Nomad's default check name (ServiceCheck.Canonicalize)."""
    return f'service: "{service.name}" check'
