"""The trace: every decision an evaluation made, per task group, per node, per check.

Nomad keeps only aggregate counts (AllocMetric) and the top five scores; learners keep
asking "why not this node?".  The placement stack writes one :class:`NodeTrace` for every
node it looks at, in the order it looked, and :class:`AllocMetric` is *derived* from those
records (``PlacementTrace.metric()``), so the numbers and the explanation never disagree.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from .evaluation import AllocMetric, NodeScoreMeta
from .resources import Resources

__all__ = ["Check", "NodeTrace", "PlacementTrace", "EvalTrace", "FILTERED", "EXHAUSTED",
           "SCORED", "CHOSEN", "NOT_REACHED", "SKIPPED"]

#: A node's outcome for one placement.
FILTERED = "filtered"        # a feasibility check removed it (NodesFiltered)
EXHAUSTED = "exhausted"      # feasible, but a resource dimension did not fit (NodesExhausted)
SCORED = "scored"            # fitted and was scored, another node won
CHOSEN = "chosen"            # the winner
SKIPPED = "skipped"          # scored at or below 0 and skipped by the limit (Nomad's maxSkip)
NOT_REACHED = "not-reached"  # the limit was met before the stack got to this node

#: Steps that Nomad reports in AllocMetric.ConstraintFiltered under the reason's text.
_CONSTRAINT_STEPS = ("computed-class", "drivers", "constraint", "distinct_hosts", "distinct_property",
                     "host-volumes", "network-mode", "devices")


@dataclass(slots=True)
class Check:
    """One check run on one node: its step name, verdict and Nomad's reason."""

    step: str
    passed: bool
    reason: str = ""
    cached: bool = False  # the verdict came from the computed-class cache


@dataclass(slots=True)
class NodeTrace:
    """What happened to one node during one placement."""

    node_id: str
    node_name: str
    datacenter: str
    node_class: str
    computed_class: str
    outcome: str = NOT_REACHED
    step: str = ""     # the step that removed it, when filtered or exhausted
    reason: str = ""   # Nomad's words for that step
    checks: list[Check] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=dict)
    free: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    norm_score: Optional[float] = None
    port_holder: str = ""  # the allocation holding a port this placement needed

    def sentence(self) -> str:
        """This node's fate in one sentence a learner can read."""
        name = f'node "{self.node_name}"'
        if self.outcome == CHOSEN:
            return f"{name} was chosen with score {self.norm_score:.3f} ({_scores(self.scores)})."
        if self.outcome == SCORED:
            return (f"{name} fitted and scored {self.norm_score:.3f} ({_scores(self.scores)}),"
                    " but another node scored higher.")
        if self.outcome == SKIPPED:
            return (f"{name} fitted but scored {self.norm_score:.3f} (at or below 0), so the limit"
                    " skipped it in favour of better nodes.")
        if self.outcome == EXHAUSTED:
            detail = ", ".join(f"{dim}: asked {self.asked[dim]}, free {self.free.get(dim, 0)}"
                               for dim in self.asked if dim in self.free)
            if self.port_holder:
                return (f"{name} passed every check but {self.reason}: the port is held by "
                        f'allocation "{self.port_holder[:8]}".')
            return f"{name} passed every check but {self.reason} was exhausted" + \
                (f" ({detail})." if detail else ".")
        if self.outcome == FILTERED:
            cached = any(c.cached and not c.passed for c in self.checks)
            why = f"{name} was filtered at the {self.step} step: {self.reason}"
            if cached:
                why += (f" (computed class ineligible: another node of class {self.computed_class}"
                        " failed this check, so this one was not checked again)")
            return why + "."
        return (f"{name} was never reached: Nomad scores only a few nodes per placement and had"
                " enough candidates before it (run c.explain(eval_id) to check every node).")


def _scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in scores.items())


@dataclass
class PlacementTrace:
    """One placement of one task group: every node the stack saw, and the winner."""

    task_group: str
    alloc_name: str
    nodes: list[NodeTrace] = field(default_factory=list)
    chosen: Optional[str] = None
    limit: int = 0
    nodes_in_pool: int = 0
    node_pool: str = "default"
    nodes_available: dict[str, int] = field(default_factory=dict)
    allocation_time: int = 0
    asked: Optional[Resources] = None
    #: IDs and names of every node the stack could have visited (ready and eligible in the
    #: job's datacenters and pool), shared by all placements of an evaluation.
    candidates: frozenset[str] = field(default_factory=frozenset, repr=False)

    def node(self, node_id_or_name: str) -> Optional[NodeTrace]:
        for record in self.nodes:
            if node_id_or_name in (record.node_id, record.node_name) or \
                    record.node_id.startswith(node_id_or_name):
                return record
        return None

    def metric(self) -> AllocMetric:
        """Nomad's AllocMetric for this placement, derived from the node records."""
        metric = AllocMetric(nodes_in_pool=self.nodes_in_pool, node_pool=self.node_pool,
                             nodes_available=dict(self.nodes_available),
                             allocation_time=self.allocation_time)
        constraint: Counter[str] = Counter()
        class_filtered: Counter[str] = Counter()
        dimension: Counter[str] = Counter()
        class_exhausted: Counter[str] = Counter()
        scored: list[NodeTrace] = []
        for record in self.nodes:
            if record.outcome == NOT_REACHED:
                continue
            metric.nodes_evaluated += 1
            if record.outcome == FILTERED:
                metric.nodes_filtered += 1
                if record.node_class:
                    class_filtered[record.node_class] += 1
                if record.step in _CONSTRAINT_STEPS:
                    constraint[record.reason] += 1
            elif record.outcome == EXHAUSTED:
                metric.nodes_exhausted += 1
                dimension[record.reason] += 1
                if record.node_class:
                    class_exhausted[record.node_class] += 1
            elif record.norm_score is not None:
                scored.append(record)
        metric.constraint_filtered = dict(constraint)
        metric.class_filtered = dict(class_filtered)
        metric.dimension_exhausted = dict(dimension)
        metric.class_exhausted = dict(class_exhausted)
        top = sorted(scored, key=lambda r: -(r.norm_score or 0.0))[:5]
        metric.score_meta_data = [NodeScoreMeta(node_id=r.node_id, scores=dict(r.scores),
                                                norm_score=r.norm_score or 0.0) for r in top]
        return metric

    def why_not(self, node: str) -> str:
        record = self.node(node)
        if record is not None:
            return record.sentence()
        if any(c == node or c.startswith(node) for c in self.candidates):
            return (f'node "{node}" was never reached: Nomad scores only a few nodes per '
                    "placement and had enough candidates before it (c.explain(eval_id) checks "
                    "every node)")
        return (f'node "{node}" was not a candidate: it is not ready and eligible in the '
                "job's datacenters and node pool")


@dataclass
class EvalTrace:
    """Everything one evaluation decided, in order; ``str()`` and HTML render it as a table."""

    eval_id: str
    job_id: str = ""
    snapshot_index: int = 0
    placements: list[PlacementTrace] = field(default_factory=list)
    desired_updates: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    explained: bool = False  # every node checked (c.explain), no limit

    def __deepcopy__(self, memo: dict) -> "EvalTrace":
        """A trace is written once by the scheduler and never changed: copies share it."""
        return self

    def groups(self) -> dict[str, list[PlacementTrace]]:
        out: dict[str, list[PlacementTrace]] = {}
        for placement in self.placements:
            out.setdefault(placement.task_group, []).append(placement)
        return out

    def why_not(self, node: str, task_group: Optional[str] = None) -> str:
        """In one sentence per placement: what happened to ``node`` (name, ID or prefix)."""
        placements = [p for p in self.placements if task_group in (None, p.task_group)]
        if not placements:
            return "this evaluation placed nothing, so no node was considered"
        lines = [f"{p.alloc_name}: {p.why_not(node)}" for p in placements]
        return lines[0] if len(lines) == 1 else "\n".join(lines)

    def rows(self) -> list[dict[str, Any]]:
        """One row per (placement, node): the flat table the reprs and widgets show."""
        rows = []
        for p in self.placements:
            for r in p.nodes:
                rows.append({"placement": p.alloc_name, "node": r.node_name, "class": r.node_class,
                             "outcome": r.outcome, "step": r.step, "reason": r.reason,
                             "score": r.norm_score})
        return rows

    def __str__(self) -> str:
        head = f"Evaluation {self.eval_id[:8]} trace (snapshot index {self.snapshot_index})"
        out = [head]
        for p in self.placements:
            winner = p.node(p.chosen).node_name if p.chosen and p.node(p.chosen) else "none"
            out.append(f"  {p.alloc_name}: chosen {winner} (limit {p.limit})")
            for r in p.nodes:
                score = f"{r.norm_score:.3f}" if r.norm_score is not None else ""
                out.append(f"    {r.node_name:<16} {r.outcome:<11} {score:>7}  "
                           f"{r.step + ': ' if r.step else ''}{r.reason}")
        out.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        parts = [f"<b>Evaluation {html.escape(self.eval_id[:8])}</b> trace, snapshot index "
                 f"{self.snapshot_index}"]
        for p in self.placements:
            parts.append(f"<div><b>{html.escape(p.alloc_name)}</b></div><table><tr><th>node</th>"
                         "<th>outcome</th><th>score</th><th>step</th><th>reason</th></tr>")
            for r in p.nodes:
                score = f"{r.norm_score:.3f}" if r.norm_score is not None else ""
                parts.append(f"<tr><td>{html.escape(r.node_name)}</td><td>{r.outcome}</td>"
                             f"<td>{score}</td><td>{html.escape(r.step)}</td>"
                             f"<td>{html.escape(r.reason)}</td></tr>")
            parts.append("</table>")
        return "".join(parts)
