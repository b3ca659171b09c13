"""``nomad deployment list`` and ``deployment status``, and the Deployed table that
``job status`` and ``job run`` show too (command/deployment_status.go,
deployment_list.go), from Nomad's API JSON."""

from __future__ import annotations

from typing import Any, Optional

from ..structs.timestamps import parse_rfc3339
from .document import KV, Document, Line, Table
from .units import SHORT_ID, format_time, limit

__all__ = ["deployment_list", "deployment_status", "deployment_kv", "deployed_table",
           "has_auto_revert"]


def deployment_list(deployments: list[dict[str, Any]], length: Optional[int] = SHORT_ID
                    ) -> Document:
    """Nomad's ``formatDeployments``: one row per deployment, as given (newest first)."""
    if not deployments:
        return Document([Line("No deployments found")])
    rows = [[limit(d.get("ID", ""), length), d.get("JobID", ""), str(d.get("JobVersion", 0)),
             d.get("Status", ""), d.get("StatusDescription", "")] for d in deployments]
    return Document([Table(["ID", "Job ID", "Job Version", "Status", "Description"], rows)])


def deployment_kv(d: dict[str, Any], length: Optional[int] = SHORT_ID,
                  with_job: bool = True) -> KV:
    """ID, (Job ID, Job Version,) Status and Description: ``deployment status`` shows the
    job, ``job status``'s Latest Deployment does not."""
    rows = [("ID", limit(d.get("ID", ""), length))]
    if with_job:
        rows += [("Job ID", d.get("JobID", "")), ("Job Version", str(d.get("JobVersion", 0)))]
    rows += [("Status", d.get("Status", "")), ("Description", d.get("StatusDescription", ""))]
    return KV(rows)


def _progress_by(value: Any) -> str:
    """RequireProgressBy as Nomad prints it; Go's zero time (never set) is ``N/A``."""
    if not value:
        return "N/A"
    if isinstance(value, str) and parse_rfc3339(value) <= 0:
        return "N/A"
    return format_time(value) or "N/A"


def deployed_table(d: dict[str, Any]) -> Table:
    """Nomad's ``formatDeploymentGroups``: per task group, sorted by name.  Auto Revert,
    Promoted/Canaries and Progress Deadline columns appear only when some group uses
    them; a group without canaries shows ``N/A`` under Promoted."""
    groups = {name: state or {} for name, state in (d.get("TaskGroups") or {}).items()}
    auto_revert = any(s.get("AutoRevert") for s in groups.values())
    canaries = any(s.get("DesiredCanaries") for s in groups.values())
    deadline = any(s.get("ProgressDeadline") for s in groups.values())
    header = ["Task Group"] + (["Auto Revert"] if auto_revert else []) + \
        (["Promoted"] if canaries else []) + ["Desired"] + \
        (["Canaries"] if canaries else []) + ["Placed", "Healthy", "Unhealthy"] + \
        (["Progress Deadline"] if deadline else [])
    rows = []
    for name in sorted(groups):
        s = groups[name]
        row = [name]
        if auto_revert:
            row.append(_bool(s.get("AutoRevert")))
        if canaries:
            row.append(_bool(s.get("Promoted")) if s.get("DesiredCanaries") else "N/A")
        row.append(str(s.get("DesiredTotal", 0)))
        if canaries:
            row.append(str(s.get("DesiredCanaries", 0)))
        row += [str(s.get("PlacedAllocs", 0)), str(s.get("HealthyAllocs", 0)),
                str(s.get("UnhealthyAllocs", 0))]
        if deadline:
            row.append(_progress_by(s.get("RequireProgressBy")))
        rows.append(row)
    return Table(header, rows)


def deployment_status(d: dict[str, Any], length: Optional[int] = SHORT_ID,
                      allocs: Optional[list[dict[str, Any]]] = None,
                      now: Optional[int] = None) -> Document:
    """Nomad's ``formatDeployment``: the deployment, its Deployed table, and with
    ``allocs`` (``-verbose`` while monitoring) the Allocations table."""
    doc = Document([deployment_kv(d, length)])
    if d.get("TaskGroups"):
        doc.section("Deployed", deployed_table(d))
    if allocs is not None:
        from .job import alloc_list
        doc.section("Allocations", alloc_list(allocs, length is None, now))
    return doc


def has_auto_revert(d: dict[str, Any]) -> bool:
    """Nomad's ``hasAutoRevert``: a failed deployment of such a job starts a rollback."""
    return any((s or {}).get("AutoRevert") for s in (d.get("TaskGroups") or {}).values())


def _bool(value: Any) -> str:
    return "true" if value else "false"
