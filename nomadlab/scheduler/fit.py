"""Does a task group fit on a node? Nomad's ``AllocsFit`` plus the bin-packer's port offer.

The order is Nomad's (BinPackIterator in scheduler/feasible/rank.go): first the group's
network ask is offered ports (a static port already held, or no free dynamic port,
exhausts the node with ``network: ...``), then CPU, memory and disk are compared with what
the node offers after its reserved resources, in that order, and the first dimension that
does not fit is named.

Simplifications, said plainly: only the group network (``TaskGroup.networks[0]``) gets
ports, as in Nomad 1.x; task-level networks, bandwidth (MBits), reserved cores and devices
are not accounted; every port is offered on one host address per node.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Iterable, Optional

from ..structs.resources import DEFAULT_CPU, DEFAULT_DISK_MB, DEFAULT_MEMORY_MB
from ..structs import (AllocatedCpuResources, AllocatedMemoryResources, AllocatedResources,
                       AllocatedSharedResources, AllocatedTaskResources, Allocation,
                       NetworkResource, Node, Port, PortMapping, TaskGroup)

__all__ = ["Comparable", "FitResult", "node_capacity", "used", "fit", "allocated_resources_for",
           "alloc_resources", "used_ports",
           "assign_ports", "parse_port_ranges", "DEFAULT_CPU", "DEFAULT_MEMORY_MB",
           "DEFAULT_DISK_MB", "MAX_VALID_PORT"]

MAX_VALID_PORT = 65536
#: Random probes for a dynamic port before the exhaustive search (Nomad's maxRandPortAttempts).
MAX_RAND_PORT_ATTEMPTS = 20


@dataclass(frozen=True)
class Comparable:
    """CPU shares (MHz), memory and disk (MB): the dimensions Nomad compares."""

    cpu: int = 0
    memory: int = 0
    disk: int = 0

    def __add__(self, other: Comparable) -> Comparable:
        return Comparable(self.cpu + other.cpu, self.memory + other.memory,
                          self.disk + other.disk)

    def __sub__(self, other: Comparable) -> Comparable:
        return Comparable(self.cpu - other.cpu, self.memory - other.memory,
                          self.disk - other.disk)

    def as_dict(self) -> dict[str, int]:
        return {"cpu": self.cpu, "memory": self.memory, "disk": self.disk}

    def first_short_of(self, ask: Comparable) -> Optional[str]:
        """The first dimension (cpu, memory, disk) where ``ask`` exceeds this, as ``Superset``."""
        for dim in ("cpu", "memory", "disk"):
            if getattr(self, dim) < getattr(ask, dim):
                return dim
        return None


def node_capacity(node: Node) -> Comparable:
    """What the node offers allocations: its resources minus what it reserves for itself."""
    res, reserved = node.node_resources, node.reserved_resources
    total = Comparable(res.cpu.cpu_shares, res.memory.memory_mb, res.disk.disk_mb)
    if total == Comparable() and node.resources is not None:
        legacy = node.resources
        total = Comparable(legacy.cpu or 0, legacy.memory_mb or 0, legacy.disk_mb or 0)
    return total - Comparable(reserved.cpu.cpu_shares, reserved.memory.memory_mb,
                              reserved.disk.disk_mb)


def allocated_resources_for(tg: TaskGroup, memory_oversubscription: bool = False
                            ) -> AllocatedResources:
    """What placing ``tg`` reserves: each task's CPU and memory, the group's ephemeral disk."""
    tasks = {}
    for task in tg.tasks:
        res = task.resources
        cpu = res.cpu if res is not None and res.cpu is not None else DEFAULT_CPU
        memory = res.memory_mb if res is not None and res.memory_mb is not None \
            else DEFAULT_MEMORY_MB
        memory_max = (res.memory_max_mb or 0) if memory_oversubscription and res else 0
        tasks[task.name] = AllocatedTaskResources(
            cpu=AllocatedCpuResources(cpu_shares=cpu),
            memory=AllocatedMemoryResources(memory_mb=memory, memory_max_mb=memory_max))
    disk = tg.ephemeral_disk.size_mb if tg.ephemeral_disk is not None and \
        tg.ephemeral_disk.size_mb is not None else DEFAULT_DISK_MB
    return AllocatedResources(tasks=tasks, shared=AllocatedSharedResources(disk_mb=disk))


def _comparable(allocated: AllocatedResources) -> Comparable:
    return Comparable(sum(t.cpu.cpu_shares for t in allocated.tasks.values()),
                      sum(t.memory.memory_mb for t in allocated.tasks.values()),
                      allocated.shared.disk_mb)


def alloc_resources(alloc: Allocation) -> Comparable:
    """An allocation's reservation; from its job's group when AllocatedResources is missing."""
    if alloc.allocated_resources is not None:
        return _comparable(alloc.allocated_resources)
    if alloc.job is not None:
        try:
            return _comparable(allocated_resources_for(alloc.job.group(alloc.task_group)))
        except KeyError:
            pass
    if alloc.resources is not None:
        r = alloc.resources
        return Comparable(r.cpu or 0, r.memory_mb or 0, r.disk_mb or 0)
    return Comparable()


def _on_node(node: Node, alloc: Allocation) -> bool:
    return not alloc.node_id or alloc.node_id == node.id


def used(node: Node, allocs: Iterable[Allocation]) -> Comparable:
    """What the node's live allocations reserve (Nomad skips client-terminal ones)."""
    total = Comparable()
    for alloc in allocs:
        if _on_node(node, alloc) and not alloc.client_terminal_status():
            total = total + alloc_resources(alloc)
    return total


def parse_port_ranges(spec: str) -> list[int]:
    """Nomad's ``ParsePortRanges``: ``"22,80,8000-8002"`` -> sorted ports; ValueError if bad."""
    if spec.strip() == "":
        return []
    ports: set[int] = set()
    for part in spec.split(","):
        bounds = part.strip().split("-")
        if len(bounds) == 1:
            ports.add(int(bounds[0]))
        elif len(bounds) == 2:
            start, end = int(bounds[0]), int(bounds[1])
            if end < start:
                raise ValueError(f"invalid range: starting value ({end}) less than ending "
                                 f"({start}) value")
            ports.update(range(start, end + 1))
        else:
            raise ValueError("can only parse single port numbers or port ranges "
                             "(ex. 80,100-120,150)")
    if any(p <= 0 or p > MAX_VALID_PORT for p in ports):
        raise ValueError("port must be > 0 and < 65536")
    return sorted(ports)


def _alloc_ports(alloc: Allocation) -> set[int]:
    res = alloc.allocated_resources
    if res is None:
        return set()
    ports = {p.value for p in res.shared.ports}
    networks = list(res.shared.networks)
    for task in res.tasks.values():
        networks.extend(task.networks)
    for net in networks:
        ports.update(p.value for p in net.ports())
    ports.discard(0)
    return ports


def used_ports(node: Node, allocs: Iterable[Allocation]) -> dict[int, str]:
    """Host ports in use on the node -> the allocation holding each ("" when the node reserves it)."""
    held: dict[int, str] = {}
    try:
        for port in parse_port_ranges(node.reserved_resources.networks.reserved_host_ports):
            held[port] = ""
    except ValueError:
        pass
    for alloc in allocs:
        if _on_node(node, alloc) and not alloc.client_terminal_status():
            for port in _alloc_ports(alloc):
                held.setdefault(port, alloc.id)
    return held


def _host_ip(node: Node) -> str:
    for net in node.node_resources.networks:
        if net.ip:
            return net.ip
    return node.attributes.get("unique.network.ip-address", "127.0.0.1")


def _dynamic_port(low: int, high: int, taken: set[int], rng: random.Random) -> Optional[int]:
    """A free port in [low, high]: a few random probes, then a precise search, as Nomad does."""
    if high < low:
        return None
    for _ in range(MAX_RAND_PORT_ATTEMPTS):
        port = rng.randint(low, high)
        if port not in taken:
            return port
    free = [p for p in range(low, high + 1) if p not in taken]
    return rng.choice(free) if free else None


def assign_ports(node: Node, ask: NetworkResource, held: dict[int, str], rng: random.Random
                 ) -> tuple[list[PortMapping], Optional[str], Optional[str]]:
    """Nomad's ``AssignPorts``: ``(ports, error, holder)``; error is Nomad's text, or None."""
    host_ip = _host_ip(node)
    offer: list[PortMapping] = []
    in_offer: set[int] = set()
    for port in ask.reserved_ports:
        if port.value < 0 or port.value >= MAX_VALID_PORT:
            return [], f"invalid port {port.value} (out of range)", None
        if port.value in held:
            return [], f"reserved port collision {port.label}={port.value}", \
                held[port.value] or None
        offer.append(PortMapping(label=port.label, value=port.value, to=port.to, host_ip=host_ip))
        in_offer.add(port.value)
    static = {p.value for p in ask.reserved_ports}
    low, high = node.node_resources.min_dynamic_port, node.node_resources.max_dynamic_port
    for port in ask.dynamic_ports:
        value = _dynamic_port(low, high, set(held) | in_offer | static, rng)
        if value is None:
            return [], "dynamic port selection failed", None
        to = value if port.to == -1 else port.to
        offer.append(PortMapping(label=port.label, value=value, to=to, host_ip=host_ip))
        in_offer.add(value)
    return offer, None, None


@dataclass
class FitResult:
    """Whether the group fits, and the numbers behind the answer.

    ``used`` is what live allocations already hold, ``free`` is capacity minus that,
    ``asked`` is this group's ask; ``util`` (used + asked) is what bin-packing scores.
    """

    ok: bool
    exhausted_dimension: Optional[str] = None
    asked: dict[str, int] = field(default_factory=dict)
    free: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    port_holder: Optional[str] = None
    ports: list[PortMapping] = field(default_factory=list)
    allocated: Optional[AllocatedResources] = None
    capacity: Comparable = field(default_factory=Comparable)
    util: Comparable = field(default_factory=Comparable)

    @property
    def reason(self) -> str:
        return self.exhausted_dimension or ""


def fit(node: Node, existing_allocs: Iterable[Allocation], proposed_allocs: Iterable[Allocation],
        tg: TaskGroup, rng: Optional[random.Random] = None,
        memory_oversubscription: bool = False, *,
        allocated: Optional[AllocatedResources] = None,
        capacity: Optional[Comparable] = None,
        taken: Optional[Comparable] = None,
        ask: Optional[Comparable] = None) -> FitResult:
    """Place ``tg`` on ``node`` next to its live allocations and this plan's placements.

    ``existing_allocs`` are the node's allocations in the state store (terminal ones and
    those on other nodes are ignored); ``proposed_allocs`` are placements already made by
    the plan being built. Dynamic ports come from ``rng`` (a seeded ``random.Random``; a
    fixed seed when omitted), so the same inputs always give the same ports.
    """
    allocs: list[Allocation] = []
    if taken is None or tg.networks:
        allocs = [a for a in existing_allocs if not a.terminal_status()] + list(proposed_allocs)
    if capacity is None:
        capacity = node_capacity(node)
    if taken is None:  # a stack placing many allocations keeps per-alloc sums cached
        taken = used(node, allocs)
    # A caller placing many copies of a group passes its ask once; ports are written into
    # the result, so a shared ask is copied when the group has a network.
    if allocated is None:
        allocated = allocated_resources_for(tg, memory_oversubscription)
    elif tg.networks:
        allocated = copy.deepcopy(allocated)
    if ask is None:
        ask = _comparable(allocated)
    result = FitResult(ok=False, asked=ask.as_dict(), free=(capacity - taken).as_dict(),
                       used=taken.as_dict(), allocated=allocated, capacity=capacity,
                       util=taken + ask)
    if tg.networks:
        net = tg.networks[0]
        ports, error, holder = assign_ports(node, net, used_ports(node, allocs),
                                            rng or random.Random(0))
        if error is not None:
            result.exhausted_dimension = f"network: {error}"
            result.port_holder = holder
            return result
        result.ports = ports
        by_label = {p.label: p.value for p in ports}
        allocated.shared.ports = ports
        allocated.shared.networks = [NetworkResource(
            mode=net.mode, ip=ports[0].host_ip if ports else _host_ip(node),
            reserved_ports=[Port(label=p.label, value=p.value, to=p.to) for p in net.reserved_ports],
            dynamic_ports=[Port(label=p.label, value=by_label[p.label],
                                to=by_label[p.label] if p.to == -1 else p.to)
                           for p in net.dynamic_ports])]
    short = (capacity - taken).first_short_of(ask)
    if short is not None:
        result.exhausted_dimension = short
        return result
    result.ok = True
    return result
