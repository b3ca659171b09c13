"""Feasibility: small checkers, each answering one question about one node, in Nomad's words.

Each checker is named after its Nomad counterpart (scheduler/feasible/feasible.go,
propertyset.go) and returns a :class:`Verdict`: ``ok``, the ``step`` it belongs to (the
step names the trace uses), and ``reason``, the exact text Nomad records in
AllocMetric.ConstraintFiltered ("missing drivers", a constraint's ``LTarget Operand
RTarget``, "distinct_hosts", ...). Checkers read the world only through a
:class:`Context`: the job and group being placed, the nodes, the allocations in the state
snapshot and those the plan being built proposes or stops.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..structs import Allocation, Constraint, Job, Node, Spread, TaskGroup
from .constraints import constraint_key, explain_constraint
from .interpolate import resolve_target

__all__ = ["Context", "Verdict", "DriverChecker", "ConstraintChecker", "HostVolumeChecker",
           "NetworkChecker", "DistinctHostsChecker", "DistinctPropertyChecker", "PropertySet",
           "datacenter_ok", "ready_and_eligible", "glob", "task_group_constraints",
           "task_group_drivers", "FILTER_DRIVERS", "FILTER_HOST_VOLUMES", "FILTER_NETWORK",
           "FILTER_DISTINCT_HOSTS"]

#: Nomad's reasons, as recorded in AllocMetric.ConstraintFiltered.
FILTER_DRIVERS = "missing drivers"
FILTER_HOST_VOLUMES = "missing compatible host volumes"
FILTER_NETWORK = "missing network"
FILTER_DISTINCT_HOSTS = "distinct_hosts"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _go_bool(text: str) -> Optional[bool]:
    """``strconv.ParseBool``, or None where Go returns an error."""
    return True if text in _TRUE else False if text in _FALSE else None


@dataclass(frozen=True)
class Verdict:
    """One checker's answer for one node: ``ok``, its step, and Nomad's reason when not ok."""

    ok: bool
    step: str
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class Context:
    """What the checkers may read for one placement of ``tg`` (Nomad's EvalContext).

    ``existing`` maps node ID -> allocations in the state snapshot on that node (any status;
    terminal ones are ignored where Nomad ignores them); ``proposed`` and ``stopping`` map
    node ID -> the plan's placements (NodeAllocation) and stops/evictions (NodeUpdate).
    ``nodes`` lets property checks look up the nodes other allocations run on.
    """

    job: Job
    tg: TaskGroup
    nodes: Mapping[str, Node] = field(default_factory=dict)
    existing: Mapping[str, Sequence[Allocation]] = field(default_factory=dict)
    proposed: Mapping[str, Sequence[Allocation]] = field(default_factory=dict)
    stopping: Mapping[str, Sequence[Allocation]] = field(default_factory=dict)
    alloc_name: str = ""

    @property
    def namespace(self) -> str:
        return self.job.namespace or "default"

    def proposed_allocs(self, node_id: str) -> list[Allocation]:
        """Nomad's ``ProposedAllocs``: live allocations, minus the plan's stops, plus its placements."""
        stopped = {a.id for a in self.stopping.get(node_id, ())}
        merged: dict[str, Allocation] = {}
        for alloc in self.existing.get(node_id, ()):
            if not alloc.terminal_status() and alloc.id not in stopped:
                merged[alloc.id] = alloc
        for alloc in self.proposed.get(node_id, ()):
            merged[alloc.id or f"proposed-{id(alloc)}"] = alloc
        return list(merged.values())

    def node_of(self, alloc: Allocation) -> Optional[Node]:
        return self.nodes.get(alloc.node_id)

    def _of_job(self, allocs: Iterable[Allocation]) -> list[Allocation]:
        return [a for a in allocs
                if a.job_id == self.job.id and (a.namespace or "default") == self.namespace]

    def job_allocs(self) -> list[Allocation]:
        """Every allocation of this job in the state snapshot (Nomad's ``AllocsByJob``)."""
        return self._of_job(a for allocs in self.existing.values() for a in allocs)

    def planned_placements(self) -> list[Allocation]:
        return self._of_job(a for allocs in self.proposed.values() for a in allocs)

    def planned_stops(self) -> list[Allocation]:
        return self._of_job(a for allocs in self.stopping.values() for a in allocs)


def task_group_drivers(tg: TaskGroup) -> list[str]:
    """The drivers the group's tasks need, each once, in task order."""
    return list(dict.fromkeys(t.driver for t in tg.tasks if t.driver))


def task_group_constraints(tg: TaskGroup) -> list[Constraint]:
    """The group's constraints followed by its tasks', as Nomad's task group checker sees them."""
    return [*tg.constraints, *(c for t in tg.tasks for c in t.constraints)]


class DriverChecker:
    """Every driver the group's tasks use is detected and healthy on the node."""

    step = "drivers"

    def __init__(self, drivers: Optional[Iterable[str]] = None):
        self.drivers = None if drivers is None else list(drivers)

    def check(self, node: Node, ctx: Optional[Context] = None) -> Verdict:
        drivers = self.drivers if self.drivers is not None else \
            task_group_drivers(ctx.tg) if ctx is not None else []
        problems = {}
        for driver in drivers:
            info = node.drivers.get(driver)
            if info is not None:
                if not info.detected:
                    problems[driver] = "not detected"
                elif not info.healthy:
                    problems[driver] = f"unhealthy: {info.health_description}".rstrip(": ")
                continue
            value = node.attributes.get(f"driver.{driver}")
            enabled = None if value is None else _go_bool(value)
            if value is None:
                problems[driver] = "not on this node"
            elif enabled is None:
                problems[driver] = f"invalid driver.{driver} attribute {value!r}"
            elif not enabled:
                problems[driver] = f"driver.{driver} is {value!r}"
        if problems:
            return Verdict(False, self.step, FILTER_DRIVERS, {"drivers": problems})
        return Verdict(True, self.step, detail={"drivers": drivers})


class ConstraintChecker:
    """Every constraint holds on the node; the first that fails is the reason (its key)."""

    step = "constraint"

    def __init__(self, constraints: Iterable[Constraint]):
        self.constraints = [c for c in constraints
                            if c.operand not in ("distinct_hosts", "distinct_property")]

    def check(self, node: Node, ctx: Optional[Context] = None) -> Verdict:
        for constraint in self.constraints:
            result = explain_constraint(constraint, node)
            if not result.passed:
                return Verdict(False, self.step, constraint_key(constraint),
                               {"constraint": result})
        return Verdict(True, self.step, detail={"checked": len(self.constraints)})


class HostVolumeChecker:
    """The group's host volumes exist on the node, writable where the group writes.

    nomadlab's Node has no ``HostVolumes`` field yet: a node advertises its host volumes in
    ``node.extra["HostVolumes"]`` (Nomad's API JSON), name -> ``{"Path", "ReadOnly"}``.
    Dynamic host volumes and sticky claims are not modelled.
    """

    step = "host-volumes"

    def check(self, node: Node, ctx: Context) -> Verdict:
        volumes = node.extra.get("HostVolumes") or {}
        suffix = ctx.alloc_name[ctx.alloc_name.rfind("["):] if "[" in ctx.alloc_name else ""
        for name, req in ctx.tg.volumes.items():
            if req.type != "host":
                continue
            source = req.source + suffix if req.per_alloc else req.source
            have = volumes.get(source)
            if have is None:
                return Verdict(False, self.step, FILTER_HOST_VOLUMES,
                               {"volume": name, "source": source, "problem": "missing"})
            if not req.read_only and (have or {}).get("ReadOnly"):
                return Verdict(False, self.step, FILTER_HOST_VOLUMES,
                               {"volume": name, "source": source, "problem": "read-only"})
        return Verdict(True, self.step)


class NetworkChecker:
    """The node supports the group's network mode (host, bridge, none, cni/<name>).

    A bridge network needs the node to have fingerprinted one: a node network in bridge
    mode, or the ``plugins.cni.version.bridge`` attribute. Simplification: a node that
    lists no networks at all is taken to offer the host network. ``host_network`` aliases
    on ports are not checked (nomadlab nodes have no NodeNetworks yet).
    """

    step = "network-mode"

    def check(self, node: Node, ctx: Context) -> Verdict:
        mode = (ctx.tg.networks[0].mode if ctx.tg.networks else "") or "host"
        if mode == "none":
            return Verdict(True, self.step, detail={"mode": mode})
        modes = {(n.mode or "host") for n in node.node_resources.networks}
        if mode in modes or (mode == "host" and not modes) or \
                (mode == "bridge" and "plugins.cni.version.bridge" in node.attributes):
            return Verdict(True, self.step, detail={"mode": mode})
        return Verdict(False, self.step, FILTER_NETWORK,
                       {"mode": mode, "node_modes": sorted(modes)})


def _distinct_hosts(constraints: Iterable[Constraint]) -> bool:
    for c in constraints:
        if c.operand == "distinct_hosts":
            enabled = _go_bool(c.rtarget) if c.rtarget else True
            return enabled is not False
    return False


class DistinctHostsChecker:
    """No other allocation of this job (job-level) or group (group-level) on the node."""

    step = "distinct_hosts"

    def check(self, node: Node, ctx: Context) -> Verdict:
        job_level = _distinct_hosts(ctx.job.constraints)
        tg_level = _distinct_hosts(ctx.tg.constraints)
        if not (job_level or tg_level):
            return Verdict(True, self.step)
        for alloc in ctx.proposed_allocs(node.id):
            same_job = alloc.job_id == ctx.job.id and \
                (alloc.namespace or "default") == ctx.namespace
            if same_job and (job_level or alloc.task_group == ctx.tg.name):
                return Verdict(False, self.step, FILTER_DISTINCT_HOSTS,
                               {"alloc_id": alloc.id, "alloc_name": alloc.name,
                                "level": "job" if job_level else "group"})
        return Verdict(True, self.step)


class PropertySet:
    """How often each value of a node property is used by this job's allocations.

    Nomad's propertySet: existing (state) plus proposed (plan) uses, minus the plan's
    stops; optionally restricted to one task group, and with spread targets, values that
    are not a named target counted together as ``"*"``.
    """

    def __init__(self, ctx: Context, attribute: str, allowed: int = 0,
                 task_group: str = "", target_values: Iterable[str] = (),
                 error: str = ""):
        self.attribute = attribute
        self.allowed = allowed
        self.task_group = task_group
        self.target_values = frozenset(target_values)
        self.error = error
        self.existing: Counter[str] = Counter()
        self.proposed: Counter[str] = Counter()
        self.cleared: Counter[str] = Counter()
        if error:
            return
        self._count(ctx, self._filter(ctx.job_allocs(), True), self.existing)
        self._count(ctx, self._filter(ctx.planned_stops(), False), self.cleared)
        self._count(ctx, self._filter(ctx.planned_placements(), True), self.proposed)
        for value in self.proposed:
            if self.cleared.get(value, 0) > 1:
                self.cleared[value] -= 1
            elif value in self.cleared and self.cleared[value] == 0:
                del self.cleared[value]

    @classmethod
    def for_constraint(cls, ctx: Context, constraint: Constraint, task_group: str = ""
                       ) -> PropertySet:
        """For a ``distinct_property`` constraint: RTarget is the allowed count (default 1)."""
        allowed, error = 1, ""
        if constraint.rtarget:
            value = constraint.rtarget
            if value.isascii() and value.isdigit():
                allowed = int(value)
            else:
                error = f'failed to convert RTarget "{value}" to uint64'
        return cls(ctx, constraint.ltarget, allowed, task_group, error=error)

    @classmethod
    def for_spread(cls, ctx: Context, spread: Spread, task_group: str) -> PropertySet:
        return cls(ctx, spread.attribute, 0, task_group,
                   [t.value for t in spread.spread_target])

    def _filter(self, allocs: list[Allocation], drop_terminal: bool) -> list[Allocation]:
        return [a for a in allocs
                if not (drop_terminal and a.terminal_status())
                and not (self.task_group and a.task_group != self.task_group)]

    def _count(self, ctx: Context, allocs: list[Allocation], into: Counter[str]) -> None:
        for alloc in allocs:
            value, found = self.value_on(ctx.node_of(alloc))
            if found:
                into[self.targeted(value)] += 1

    def value_on(self, node: Optional[Node]) -> tuple[str, bool]:
        if node is None or not self.attribute:
            return "", False
        value, found = resolve_target(self.attribute, node)
        return (value or "", found)

    def targeted(self, value: str) -> str:
        """The value itself, or ``"*"`` when targets are named and it is not one of them."""
        if not self.target_values or value in self.target_values:
            return value
        return "*"

    def combined_use(self) -> dict[str, int]:
        """Nomad's ``GetCombinedUseMap``: existing + proposed, less cleared (never below 0)."""
        combined: Counter[str] = Counter()
        for counts in (self.existing, self.proposed):
            for value, n in counts.items():
                combined[self.targeted(value)] += n
        for value, n in self.cleared.items():
            key = self.targeted(value)
            if key in combined:
                combined[key] = max(0, combined[key] - n)
        return dict(combined)

    def used_count(self, node: Node) -> tuple[str, str, int]:
        """``(value, error, count)`` for the node's value of the property (Nomad's ``UsedCount``)."""
        if self.error:
            return "", self.error, 0
        value, found = self.value_on(node)
        if not found:
            return value, f'missing property "{self.attribute}"', 0
        target = self.targeted(value)
        return target, "", self.combined_use().get(target, 0)

    def satisfies(self, node: Node) -> tuple[bool, str]:
        """Nomad's ``SatisfiesDistinctProperties``: ``(ok, reason)``."""
        value, error, count = self.used_count(node)
        if error:
            return False, error
        if count < self.allowed:
            return True, ""
        return False, f"distinct_property: {self.attribute}={value} used by {count} allocs"


class DistinctPropertyChecker:
    """Each ``distinct_property`` (job- or group-level) value is used fewer times than allowed.

    The reason is Nomad's text, e.g. ``distinct_property: ${meta.rack}=r1 used by 1 allocs``
    or ``missing property "${meta.rack}"``; the constraint's key is in ``detail``.
    """

    step = "distinct_property"

    def check(self, node: Node, ctx: Context) -> Verdict:
        sets = [(c, "") for c in ctx.job.constraints if c.operand == "distinct_property"]
        sets += [(c, ctx.tg.name) for c in ctx.tg.constraints if c.operand == "distinct_property"]
        for constraint, task_group in sets:
            pset = PropertySet.for_constraint(ctx, constraint, task_group)
            ok, reason = pset.satisfies(node)
            if not ok:
                return Verdict(False, self.step, reason,
                               {"constraint": constraint_key(constraint),
                                "allowed": pset.allowed, "used": pset.combined_use()})
        return Verdict(True, self.step)


def glob(pattern: str, subject: str) -> bool:
    """ryanuber/go-glob as Nomad uses it for datacenters: ``*`` is the only wildcard."""
    if pattern == "":
        return subject == ""
    if pattern == "*":
        return True
    parts = pattern.split("*")
    if len(parts) == 1:
        return subject == pattern
    leading, trailing = pattern.startswith("*"), pattern.endswith("*")
    for i, part in enumerate(parts[:-1]):
        idx = subject.find(part)
        if (i == 0 and not leading and idx != 0) or idx < 0:
            return False
        subject = subject[idx + len(part):]
    return trailing or subject.endswith(parts[-1])


def datacenter_ok(node: Node, datacenters: Sequence[str], node_pool: Optional[str] = None
                  ) -> Verdict:
    """Is the node in one of the job's datacenters (globs allowed) and in its node pool?

    Pool ``"all"`` admits every node; no pool means ``"default"``. Nomad does not count
    these nodes as filtered: they are simply not candidates (NodesInPool, NodesAvailable).
    """
    if not any(glob(dc, node.datacenter) for dc in datacenters):
        return Verdict(False, "datacenter",
                       f'node is in datacenter "{node.datacenter}", not in '
                       f'{", ".join(datacenters) or "none"}',
                       {"datacenter": node.datacenter, "datacenters": list(datacenters)})
    pool = node_pool or "default"
    if pool != "all" and node.node_pool != pool:
        return Verdict(False, "node-pool",
                       f'node is in node pool "{node.node_pool}", not "{pool}"',
                       {"node_pool": node.node_pool, "job_node_pool": pool})
    return Verdict(True, "datacenter")


def ready_and_eligible(node: Node) -> Verdict:
    """Nomad only schedules onto ready, non-draining, eligible nodes."""
    if node.status != "ready":
        return Verdict(False, "ready", f'node status is "{node.status}", not "ready"',
                       {"status": node.status})
    if node.drain or node.drain_strategy is not None:
        return Verdict(False, "ready", "node is draining")
    if node.scheduling_eligibility != "eligible":
        return Verdict(False, "ready", "node is ineligible for scheduling",
                       {"scheduling_eligibility": node.scheduling_eligibility})
    return Verdict(True, "ready")
