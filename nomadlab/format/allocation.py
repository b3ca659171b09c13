"""``nomad alloc status [-verbose]`` from an Allocation's API JSON."""

from __future__ import annotations

from typing import Any, Optional

from ..structs.duration import format_duration
from .document import KV, Document, Line, Table
from .metrics import alloc_metric_lines, score_table
from .units import SHORT_ID, format_task_time, format_time, limit, pretty_time_diff

__all__ = ["alloc_status", "task_events", "task_resources"]

#: Recent events shown per task unless ``-verbose`` (all of them then).
RECENT_EVENTS = 10


def alloc_status(a: dict[str, Any], verbose: bool = False, now: Optional[int] = None) -> Document:
    """The allocation, each task's resources and events, and with ``verbose`` the
    Placement Metrics table of the scores Nomad kept for it."""
    length = None if verbose else SHORT_ID
    job = a.get("Job") or {}
    rows = [("ID", limit(a.get("ID", ""), length)), ("Eval ID", limit(a.get("EvalID", ""), length)),
            ("Name", a.get("Name", "")), ("Node ID", limit(a.get("NodeID", ""), length)),
            ("Node Name", a.get("NodeName", "")), ("Job ID", a.get("JobID", "")),
            ("Job Version", str(a.get("JobVersion", job.get("Version", 0)))),
            ("Client Status", a.get("ClientStatus", "")),
            ("Client Description", a.get("ClientDescription", "")),
            ("Desired Status", a.get("DesiredStatus", "")),
            ("Desired Description", a.get("DesiredDescription", "")),
            ("Created", pretty_time_diff(a.get("CreateTime"), now)),
            ("Modified", pretty_time_diff(a.get("ModifyTime"), now))]
    if a.get("DeploymentID"):
        status = a.get("DeploymentStatus") or {}
        healthy = status.get("Healthy")
        rows += [("Deployment ID", limit(a["DeploymentID"], length)),
                 ("Deployment Health", "unset" if healthy is None else
                  "healthy" if healthy else "unhealthy")]
        if status.get("Canary"):
            rows.append(("Canary", "true"))
    events = ((a.get("RescheduleTracker") or {}).get("Events")) or []
    if events:
        rows.append(("Reschedule Attempts", str(len(events))))
    if a.get("NextAllocation"):
        rows.append(("Replacement Alloc ID", limit(a["NextAllocation"], length)))
    if a.get("PreviousAllocation"):
        rows.append(("Previous Alloc ID", limit(a["PreviousAllocation"], length)))
    metrics = a.get("Metrics") or {}
    if verbose:
        rows += [("Evaluated Nodes", str(metrics.get("NodesEvaluated", 0))),
                 ("Filtered Nodes", str(metrics.get("NodesFiltered", 0))),
                 ("Exhausted Nodes", str(metrics.get("NodesExhausted", 0))),
                 ("Allocation Time", format_duration(int(metrics.get("AllocationTime", 0)))),
                 ("Failures", str(metrics.get("CoalescedFailures", 0)))]
    doc = Document([KV(rows)])
    states = a.get("TaskStates") or {}
    for task in sorted(states or _task_names(a)):
        state = states.get(task) or {}
        doc.add(Line(""), Line(f'Task "{task}" is "{state.get("State", "pending")}"', "bold"))
        resources = task_resources(a, task)
        if resources is not None:
            doc.add(Line("Task Resources:"), resources, Line(""))
        doc.add(*task_events(state, verbose).blocks)
    if verbose and metrics:
        doc.section("Placement Metrics", *alloc_metric_lines(metrics, "  "))
        if metrics.get("ScoreMetaData"):
            doc.add(score_table(metrics))
    return doc


def _task_names(a: dict[str, Any]) -> list[str]:
    for group in (a.get("Job") or {}).get("TaskGroups") or []:
        if group.get("Name") == a.get("TaskGroup"):
            return [t.get("Name", "") for t in group.get("Tasks") or []]
    return []


def task_resources(a: dict[str, Any], task: str) -> Optional[Table]:
    """CPU, memory, disk and addresses the scheduler reserved for ``task``."""
    allocated = (a.get("AllocatedResources") or {})
    per_task = (allocated.get("Tasks") or {}).get(task)
    if per_task is None:
        return None
    cpu = ((per_task.get("Cpu") or {}).get("CpuShares")) or 0
    memory = ((per_task.get("Memory") or {}).get("MemoryMB")) or 0
    shared = allocated.get("Shared") or {}
    disk = shared.get("DiskMB") or 0
    ports = shared.get("Ports") or []
    addresses = ", ".join(f"{p.get('Label', '')}: {p.get('HostIP', '')}:{p.get('Value', 0)}"
                          for p in ports)
    return Table(["CPU", "Memory", "Disk", "Addresses"],
                 [[f"{cpu} MHz", f"{memory} MiB", f"{disk} MiB", addresses]])


def task_events(state: dict[str, Any], verbose: bool = False) -> Document:
    """Nomad's ``outputTaskStatus``: start/finish/restarts, then events newest first."""
    doc = Document([Line("Task Events:"), KV([
        ("Started At", format_task_time(state.get("StartedAt"))),
        ("Finished At", format_task_time(state.get("FinishedAt"))),
        ("Total Restarts", str(state.get("Restarts", 0))),
        ("Last Restart", format_task_time(state.get("LastRestart")))]), Line(""),
        Line("Recent Events:")])
    events = list(state.get("Events") or [])
    if not verbose:
        events = events[-RECENT_EVENTS:]
    rows = [[format_time(e.get("Time")), e.get("Type", ""),
             e.get("DisplayMessage") or e.get("Message", "")] for e in reversed(events)]
    doc.add(Table(["Time", "Type", "Description"], rows))
    return doc
