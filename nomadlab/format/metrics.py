"""Placement metrics as Nomad prints them: failure bullets and the score table.

One function, as in Nomad's ``formatAllocMetrics``, serves ``job run``'s monitor,
``eval status``, ``job status``, ``job plan`` and ``alloc status -verbose``.  Nomad walks
Go maps in random order; here keys are sorted so the same state prints the same text.
"""

from __future__ import annotations

from typing import Any

from .document import Line, Table

__all__ = ["alloc_metric_lines", "score_table", "failed_noun"]


def alloc_metric_lines(metrics: dict[str, Any], prefix: str = "  ") -> list[Line]:
    """The ``* ...`` lines explaining why nodes were not used (a "missing drivers"
    constraint in the error style, as Nomad colours it red)."""
    out: list[Line] = []

    def add(text: str, style: str = "") -> None:
        out.append(Line(f"{prefix}* {text}", style))

    if not metrics.get("NodesEvaluated"):
        add("No nodes were eligible for evaluation")
    for dc, available in sorted((metrics.get("NodesAvailable") or {}).items()):
        if available == 0:
            add(f"No nodes are available in datacenter {_q(dc)}")
    for cls, n in sorted((metrics.get("ClassFiltered") or {}).items()):
        add(f"Class {_q(cls)}: {n} nodes excluded by filter")
    for constraint, n in sorted((metrics.get("ConstraintFiltered") or {}).items()):
        add(f"Constraint {_q(constraint)}: {n} nodes excluded by filter",
            "error" if "missing drivers" in constraint else "")
    if metrics.get("NodesExhausted"):
        add(f"Resources exhausted on {metrics['NodesExhausted']} nodes")
    for cls, n in sorted((metrics.get("ClassExhausted") or {}).items()):
        add(f"Class {_q(cls)} exhausted on {n} nodes")
    for dim, n in sorted((metrics.get("DimensionExhausted") or {}).items()):
        add(f"Dimension {_q(dim)} exhausted on {n} nodes")
    for quota in metrics.get("QuotaExhausted") or []:
        add(f"Quota limit hit {_q(quota)}")
    return out


def score_table(metrics: dict[str, Any]) -> Table:
    """``alloc status -verbose``'s Placement Metrics: a column per scorer (alphabetical)
    and the final score, one row per node Nomad kept (the top five), 3 significant digits."""
    meta = metrics.get("ScoreMetaData") or []
    scorers = sorted({name for m in meta for name in (m.get("Scores") or {})})
    rows = []
    for m in meta:
        rows.append([m.get("NodeID", "")]
                    + [_g3((m.get("Scores") or {}).get(s, 0.0)) for s in scorers]
                    + [_g3(m.get("NormScore", 0.0))])
    return Table(["Node"] + scorers + ["final score"], rows)


def failed_noun(metrics: dict[str, Any]) -> str:
    """``failed to place 3 allocations``: CoalescedFailures counts the others folded in."""
    n = int(metrics.get("CoalescedFailures") or 0) + 1
    return f"{n} allocation{'s' if n > 1 else ''}"


def _g3(value: float) -> str:
    """Go's ``%.3g``."""
    return f"{float(value):.3g}"


def _q(text: str) -> str:
    """Go's ``%q`` for the plain strings these messages carry."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
