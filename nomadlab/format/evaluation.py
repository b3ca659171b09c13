"""``nomad eval status`` from an Evaluation's API JSON."""

from __future__ import annotations

from typing import Any, Optional

from .document import KV, Document, Line
from .job import alloc_list
from .metrics import alloc_metric_lines, failed_noun
from .units import SHORT_ID, format_time, limit, pretty_time_diff

__all__ = ["eval_status", "failed_placement_lines"]


def failed_placement_lines(ev: dict[str, Any], length: Optional[int] = SHORT_ID,
                           prefix: str = "  ") -> list[Line]:
    """Per failed task group: ``Task Group "g" (failed to place N allocations):`` and the
    metric bullets, then the blocked evaluation waiting for capacity."""
    out: list[Line] = []
    groups = ev.get("FailedTGAllocs") or {}
    for name in sorted(groups):
        out.append(Line(f'Task Group "{name}" (failed to place {failed_noun(groups[name])}):'))
        out.extend(alloc_metric_lines(groups[name], prefix))
        out.append(Line(""))
    if ev.get("BlockedEval"):
        out.append(Line(f'Evaluation "{limit(ev["BlockedEval"], length)}" waiting for additional '
                        "capacity to place remainder"))
    return out


def eval_status(ev: dict[str, Any], verbose: bool = False, now: Optional[int] = None,
                allocs: Optional[list[dict[str, Any]]] = None) -> Document:
    """The evaluation's fields, the allocations it placed (when given and there are any)
    and, when it could not place everything, its Failed Placements as Nomad lists them."""
    length = None if verbose else SHORT_ID
    failures = bool(ev.get("FailedTGAllocs"))
    rows = [("ID", limit(ev.get("ID", ""), length)),
            ("Create Time", pretty_time_diff(ev.get("CreateTime"), now)),
            ("Modify Time", pretty_time_diff(ev.get("ModifyTime"), now)),
            ("Status", ev.get("Status", "")),
            ("Status Description", ev.get("StatusDescription") or ev.get("Status", "")),
            ("Type", ev.get("Type", "")), ("TriggeredBy", ev.get("TriggeredBy", ""))]
    if ev.get("NodeID"):
        rows.append(("Node ID", limit(ev["NodeID"], length)))
    elif ev.get("DeploymentID"):
        rows.append(("Deployment ID", limit(ev["DeploymentID"], length)))
    else:
        rows.append(("Job ID", ev.get("JobID", "")))
    rows += [("Namespace", ev.get("Namespace", "default")),
             ("Priority", str(ev.get("Priority", 0))),
             ("Placement Failures", "true" if failures else "false")]
    if ev.get("WaitUntil") and format_time(ev["WaitUntil"]):
        rows.append(("Wait Until", format_time(ev["WaitUntil"])))
    if verbose:
        rows += [("Previous Eval", ev.get("PreviousEval", "")), ("Next Eval", ev.get("NextEval", "")),
                 ("Blocked Eval", ev.get("BlockedEval", ""))]
    doc = Document([KV(rows)])
    if allocs:
        doc.section("Placed Allocations", alloc_list(allocs, verbose, now))
    if failures:
        doc.section("Failed Placements", *failed_placement_lines(ev, length))
    return doc
