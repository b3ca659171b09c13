"""The placement stack: feasibility checks, then ranking, then a limit, then the best node.

Nomad wires small iterators into a chain (scheduler/feasible/stack.go); this module keeps
the same order and the same laziness, so the same nodes are evaluated, filtered, scored
and skipped as on a real cluster:

1. source: ready, eligible nodes in the job's datacenters and node pool, shuffled once per
   evaluation, visited round-robin across placements (Nomad's StaticIterator keeps its
   offset between Selects, which spreads consecutive placements over different nodes);
2. feasibility: job constraints, then the group's drivers, constraints, host volumes and
   network mode, cached per computed node class unless a constraint escapes the class;
   then distinct_hosts and distinct_property (never cached);
3. ranking: bin-pack fit (a node that does not fit is *exhausted*), job anti-affinity,
   reschedule penalty, node affinity, spread, normalisation (the mean);
4. limit: stop after ``limit`` scored nodes, skipping up to 3 nodes that score <= 0;
5. max score: the best of those, first seen wins ties.

Every node the source hands out gets a :class:`~.trace.NodeTrace`; nothing else records
decisions.  ``explain=True`` lifts the limit so every candidate is checked and scored.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional, Sequence

from ..structs import Allocation, Job, Node, TaskGroup
from .feasible import (ConstraintChecker, Context, DistinctHostsChecker, DistinctPropertyChecker,
                       DriverChecker, HostVolumeChecker, NetworkChecker, Verdict, datacenter_ok,
                       ready_and_eligible, task_group_constraints)
from .fit import (Comparable, FitResult, alloc_resources, allocated_resources_for, fit,
                  node_capacity)
from .node_class import computed_class, constraint_escapes
from .rank import (SpreadScorer, binpack_score, job_anti_affinity,
                   merged_affinities, node_affinity, node_reschedule_penalty, normalize)
from ..structs.trace import (CHOSEN, EXHAUSTED, FILTERED, SCORED, SKIPPED, Check, NodeTrace,
                    PlacementTrace)

__all__ = ["GenericStack", "Selection", "candidate_nodes", "service_limit"]

MAX_SKIP = 3
SKIP_SCORE_THRESHOLD = 0.0
UNLIMITED = 2**31 - 1
CLASS_INELIGIBLE = "computed class ineligible"


def service_limit(node_count: int, batch: bool) -> int:
    """How many scored nodes Nomad looks at: 2 for batch, max(2, ceil(log2 n)) for service."""
    limit = 2
    if not batch and node_count > 0:
        limit = max(limit, math.ceil(math.log2(node_count)))
    return limit


def candidate_nodes(nodes: Sequence[Node], job: Job) -> tuple[list[Node], dict[str, int], int]:
    """Nomad's readyNodesInDCsAndPool: (ready nodes, ready count per datacenter, nodes in pool)."""
    ready: list[Node] = []
    per_dc: dict[str, int] = {}
    in_pool = 0
    for node in nodes:
        place = datacenter_ok(node, job.datacenters or ["*"], job.node_pool)
        if not place.ok and place.step == "node-pool":
            continue
        in_pool += 1
        if not place.ok or not ready_and_eligible(node).ok:
            continue
        ready.append(node)
        per_dc[node.datacenter] = per_dc.get(node.datacenter, 0) + 1
    return ready, per_dc, in_pool


@dataclass
class Selection:
    """The chosen node with its fit (ports, allocated resources) and scores."""

    node: Node
    fit: FitResult
    scores: dict[str, float]
    norm_score: float


@dataclass
class _Ranked:
    node: Node
    record: NodeTrace
    fit: FitResult
    scores: dict[str, float]
    norm_score: float


class _NodeUsage:
    """One node's live allocations in sum: resources and allocations per (job, group).

    The existing part is computed once per evaluation (and again if the plan stops more on
    the node); the plan's placements are folded in as they are appended.  A placement
    with the ID of an existing allocation is an in-place update and replaces it.
    """

    def __init__(self, existing: Sequence[Allocation], stops: Sequence[Allocation],
                 costs: dict[str, Comparable]) -> None:
        stopped = {a.id for a in stops}
        self.stops_seen = len(stops)
        self.proposed_seen = 0
        self.live: dict[str, Allocation] = {
            a.id: a for a in existing
            if a.id not in stopped and a.desired_status == "run"
            and a.client_status not in ("complete", "failed", "lost")}
        self.total = Comparable()
        self.same_group: Counter[tuple[str, str, str]] = Counter()
        for alloc in self.live.values():
            self._add(alloc, costs, 1)

    def _add(self, alloc: Allocation, costs: dict[str, Comparable], sign: int) -> None:
        cost = costs.get(alloc.id)
        if cost is None or sign < 0:
            cost = alloc_resources(alloc)
            if sign > 0:
                costs[alloc.id] = cost
        self.total = self.total + cost if sign > 0 else self.total - cost
        self.same_group[(alloc.namespace or "default", alloc.job_id, alloc.task_group)] += sign

    def catch_up(self, proposed: Sequence[Allocation], costs: dict[str, Comparable]) -> None:
        for alloc in proposed[self.proposed_seen:]:
            replaced = self.live.pop(alloc.id, None)
            if replaced is not None:
                self._add(replaced, costs, -1)
            self._add(alloc, {}, 1)
        self.proposed_seen = len(proposed)


@dataclass
class ClassEligibility:
    """Nomad's EvalEligibility: per computed class, did the job's / group's checks pass."""

    job: dict[str, Verdict] = field(default_factory=dict)
    groups: dict[str, dict[str, Verdict]] = field(default_factory=dict)
    escaped: bool = False

    def classes(self) -> dict[str, bool]:
        """class -> eligible, as a blocked evaluation records it (ClassEligibility)."""
        out: dict[str, bool] = {}
        for cls, verdict in self.job.items():
            out[cls] = verdict.ok
        for per_class in self.groups.values():
            for cls, verdict in per_class.items():
                out[cls] = out.get(cls, True) and verdict.ok
        return out


class GenericStack:
    """The service/batch stack for one evaluation of one job."""

    def __init__(self, job: Job, nodes: Sequence[Node], existing: Mapping[str, Sequence[Allocation]],
                 rng: random.Random, *, batch: bool, algorithm: str = "binpack",
                 explain: bool = False) -> None:
        self.job = job
        self.batch = batch
        self.algorithm = algorithm
        self.explain = explain
        self.rng = rng
        self.nodes_by_id = {n.id: n for n in nodes}
        ready, self.nodes_available, self.nodes_in_pool = candidate_nodes(nodes, job)
        self.source = sorted(ready, key=lambda n: n.id)
        rng.shuffle(self.source)
        self.candidates = frozenset([n.id for n in self.source] + [n.name for n in self.source])
        self.offset = 0
        self.existing = existing
        self.classes = {n.id: n.computed_class or computed_class(n) for n in self.source}
        self.eligibility = ClassEligibility()
        self.job_checker = ConstraintChecker(job.constraints)
        self.job_escaped = any(constraint_escapes(c) for c in job.constraints
                               if c.operand not in ("distinct_hosts", "distinct_property"))
        self.eligibility.escaped = self.job_escaped
        self._capacities: dict[str, Comparable] = {}
        self._alloc_costs: dict[str, Comparable] = {}
        self._usages: dict[str, _NodeUsage] = {}

    def _capacity(self, node: Node) -> Comparable:
        capacity = self._capacities.get(node.id)
        if capacity is None:
            capacity = self._capacities[node.id] = node_capacity(node)
        return capacity

    def _usage(self, node_id: str, proposed: Mapping[str, Sequence[Allocation]],
               stopping: Mapping[str, Sequence[Allocation]]) -> "_NodeUsage":
        """The node's live usage, kept up to date as the plan grows (plans only append)."""
        usage = self._usages.get(node_id)
        stops = stopping.get(node_id, ())
        if usage is None or usage.stops_seen != len(stops) or \
                usage.proposed_seen > len(proposed.get(node_id, ())):
            usage = self._usages[node_id] = _NodeUsage(self.existing.get(node_id, ()), stops,
                                                       self._alloc_costs)
        usage.catch_up(proposed.get(node_id, ()), self._alloc_costs)
        return usage

    # -- the source: round robin over the shuffled candidates, one lap per select -------

    def _visit(self) -> Iterator[Node]:
        n = len(self.source)
        for _ in range(n):
            if self.offset >= n:
                self.offset = 0
            node = self.source[self.offset]
            self.offset += 1
            yield node

    # -- feasibility ----------------------------------------------------------------

    def _cached(self, cache: dict[str, Verdict], cls: str, escaped: bool, record: NodeTrace,
                checks: Sequence[tuple[object, Node, Context]]) -> bool:
        if not escaped and cls in cache:
            known = cache[cls]
            if known.ok:  # the class passed these checks already (Nomad skips them too)
                record.checks.append(Check("computed-class", True, "class eligible", cached=True))
                return True
            record.checks.append(Check(known.step, False, known.reason, cached=True))
            record.outcome, record.step, record.reason = FILTERED, "computed-class", CLASS_INELIGIBLE
            return False
        for checker, node, ctx in checks:
            verdict: Verdict = checker.check(node, ctx)  # type: ignore[attr-defined]
            record.checks.append(Check(verdict.step, verdict.ok, verdict.reason))
            if not verdict.ok:
                if not escaped:
                    cache[cls] = verdict
                record.outcome, record.step, record.reason = FILTERED, verdict.step, verdict.reason
                return False
        if not escaped:
            cache.setdefault(cls, Verdict(True, "class"))
        return True

    def _ranked(self, tg: TaskGroup, ctx: Context, trace: PlacementTrace,
                penalty_node_ids: Sequence[str]) -> Iterator[_Ranked]:
        tg_checks = [DriverChecker(), ConstraintChecker(task_group_constraints(tg)),
                     HostVolumeChecker(), NetworkChecker()]
        tg_escaped = any(constraint_escapes(c) for c in task_group_constraints(tg)
                         if c.operand not in ("distinct_hosts", "distinct_property")) or \
            any(v.per_alloc for v in tg.volumes.values())
        self.eligibility.escaped |= tg_escaped
        tg_cache = self.eligibility.groups.setdefault(tg.name, {})
        # distinct_* depend on where other allocations sit, so they run on every node, but
        # only for jobs that ask for them.
        operands = {c.operand for c in (*self.job.constraints, *tg.constraints)}
        after_cache = ([DistinctHostsChecker()] if "distinct_hosts" in operands else []) + \
            ([DistinctPropertyChecker()] if "distinct_property" in operands else [])
        affinities = merged_affinities(self.job, tg)
        spread = SpreadScorer(ctx) if (tg.spreads or self.job.spreads) else None
        count = tg.count if tg.count is not None else 1
        ask = allocated_resources_for(tg)
        ask_total = alloc_resources(Allocation(allocated_resources=ask))
        group_key = (self.job.namespace or "default", self.job.id, tg.name)
        for node in self._visit():
            cls = self.classes[node.id]
            record = NodeTrace(node.id, node.name, node.datacenter, node.node_class, cls)
            trace.nodes.append(record)
            if not self._cached(self.eligibility.job, cls, self.job_escaped, record,
                                [(self.job_checker, node, ctx)]):
                continue
            if not self._cached(tg_cache, cls, tg_escaped, record,
                                [(checker, node, ctx) for checker in tg_checks]):
                continue
            failed = None
            for checker in after_cache:
                verdict = checker.check(node, ctx)
                record.checks.append(Check(verdict.step, verdict.ok, verdict.reason))
                if not verdict.ok:
                    failed = verdict
                    break
            if failed is not None:
                record.outcome, record.step, record.reason = FILTERED, failed.step, failed.reason
                continue
            usage = self._usage(node.id, ctx.proposed, ctx.stopping)
            on_node = ctx.proposed_allocs(node.id) if tg.networks else ()
            result = fit(node, on_node, (), tg, self.rng, allocated=ask,
                         capacity=self._capacity(node), taken=usage.total, ask=ask_total)
            record.asked, record.free = result.asked, result.free
            if not result.ok:
                record.port_holder = result.port_holder or ""
                record.checks.append(Check("resources", False, result.reason))
                record.outcome, record.step, record.reason = EXHAUSTED, "resources", result.reason
                continue
            record.checks.append(Check("resources", True))
            scores = {
                "binpack": binpack_score(result.capacity, result.util, self.algorithm),
                "job-anti-affinity": job_anti_affinity(usage.same_group[group_key], count),
                "node-reschedule-penalty": node_reschedule_penalty(node.id, penalty_node_ids),
                "node-affinity": node_affinity(affinities, node) if affinities else None,
                "allocation-spread": spread.score(node) if spread is not None else None,
            }
            norm = normalize(scores)
            # Nomad's metrics record every scorer, 0 where it appended nothing to the mean
            # (spread only when the job spreads); the final score averages what was appended.
            recorded = {k: (0.0 if v is None else v) for k, v in scores.items()
                        if v is not None or k != "allocation-spread" or spread is not None}
            record.scores, record.norm_score, record.outcome = recorded, norm, SCORED
            yield _Ranked(node, record, result, recorded, norm)

    # -- select ---------------------------------------------------------------------

    def select(self, tg: TaskGroup, alloc_name: str, proposed: Mapping[str, Sequence[Allocation]],
               stopping: Mapping[str, Sequence[Allocation]],
               penalty_node_ids: Sequence[str] = ()) -> tuple[Optional[Selection], PlacementTrace]:
        """Pick a node for one allocation of ``tg``; the trace says what happened to each node."""
        trace = PlacementTrace(task_group=tg.name, alloc_name=alloc_name,
                               nodes_in_pool=self.nodes_in_pool,
                               node_pool=self.job.node_pool or "default",
                               nodes_available=dict(self.nodes_available),
                               candidates=self.candidates)
        if self.explain or tg.affinities or self.job.affinities or tg.spreads or self.job.spreads:
            limit = UNLIMITED
        else:
            limit = service_limit(len(self.source), self.batch)
        trace.limit = limit if limit != UNLIMITED else len(self.source)
        ctx = Context(job=self.job, tg=tg, nodes=self.nodes_by_id, existing=self.existing,
                      proposed=proposed, stopping=stopping, alloc_name=alloc_name)
        ranked = self._ranked(tg, ctx, trace, penalty_node_ids)
        options: list[_Ranked] = []
        skipped: list[_Ranked] = []
        while len(options) < limit:
            option = next(ranked, None)
            while option is not None and option.norm_score <= SKIP_SCORE_THRESHOLD \
                    and len(skipped) < MAX_SKIP and not self.explain:
                option.record.outcome = SKIPPED
                skipped.append(option)
                option = next(ranked, None)
            if option is None:
                if not skipped:
                    break
                option = skipped.pop(0)
                option.record.outcome = SCORED
            options.append(option)
        best: Optional[_Ranked] = None
        for option in options:
            if best is None or option.norm_score > best.norm_score:
                best = option
        if best is None:
            return None, trace
        best.record.outcome = CHOSEN
        trace.chosen = best.node.id
        return Selection(best.node, best.fit, best.scores, best.norm_score), trace
