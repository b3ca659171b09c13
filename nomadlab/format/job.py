"""``nomad job status``, ``job history`` and ``job inspect`` from Nomad's API JSON."""

from __future__ import annotations

import json
from typing import Any, Optional

from .deployment import deployed_table, deployment_kv
from .document import KV, Document, Line, Table
from .metrics import alloc_metric_lines
from .units import SHORT_ID, format_time, limit, pretty_time_diff

__all__ = ["job_list", "job_status", "job_history", "job_inspect", "alloc_list",
           "deployment_kv", "deployed_table", "status_string"]

SUMMARY_COLUMNS = ("Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown")


def status_string(job: dict[str, Any]) -> str:
    """``dead (stopped)`` for a stopped job, as Nomad's ``getStatusString``."""
    status = job.get("Status", "")
    return f"{status} (stopped)" if job.get("Stop") else status


def job_list(jobs: list[dict[str, Any]]) -> Document:
    """``nomad job status`` without an ID: one row per job (stubs or full jobs)."""
    if not jobs:
        return Document([Line("No running jobs")])
    rows = [[j.get("ID", ""), j.get("Type", ""), str(j.get("Priority", "")), status_string(j),
             format_time(j.get("SubmitTime"))] for j in jobs]
    return Document([Table(["ID", "Type", "Priority", "Status", "Submit Date"], rows)])


def alloc_list(allocs: list[dict[str, Any]], verbose: bool = False,
               now: Optional[int] = None) -> Table:
    """Nomad's ``formatAllocListStubs``: the Allocations table of job and node status."""
    length = None if verbose else SHORT_ID
    rows = []
    for a in allocs:
        version = str(a.get("JobVersion", (a.get("Job") or {}).get("Version", 0)))
        if verbose:
            rows.append([a.get("ID", ""), a.get("EvalID", ""), a.get("NodeID", ""),
                         a.get("NodeName", ""), a.get("TaskGroup", ""), version,
                         a.get("DesiredStatus", ""), a.get("ClientStatus", ""),
                         format_time(a.get("CreateTime")), format_time(a.get("ModifyTime"))])
        else:
            rows.append([limit(a.get("ID", ""), length), limit(a.get("NodeID", ""), length),
                         a.get("TaskGroup", ""), version, a.get("DesiredStatus", ""),
                         a.get("ClientStatus", ""), pretty_time_diff(a.get("CreateTime"), now),
                         pretty_time_diff(a.get("ModifyTime"), now)])
    header = (["ID", "Eval ID", "Node ID", "Node Name", "Task Group", "Version", "Desired",
               "Status", "Created", "Modified"] if verbose else
              ["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created",
               "Modified"])
    return Table(header, rows, if_empty="No allocations placed")


def job_status(job: dict[str, Any], summary: Optional[dict[str, Any]] = None,
               allocs: Optional[list[dict[str, Any]]] = None,
               evals: Optional[list[dict[str, Any]]] = None,
               deployment: Optional[dict[str, Any]] = None, verbose: bool = False,
               now: Optional[int] = None) -> Document:
    """``nomad job status <id>``: the job, its Summary, a Placement Failure section while
    an evaluation is blocked, the Latest Deployment and the Allocations table."""
    periodic = bool(job.get("Periodic")) and (job.get("Periodic") or {}).get("Enabled", True)
    parameterized = bool(job.get("ParameterizedJob")) and not job.get("Dispatched")
    doc = Document([KV([
        ("ID", job.get("ID", "")), ("Name", job.get("Name", "")),
        ("Submit Date", format_time(job.get("SubmitTime"))), ("Type", job.get("Type", "")),
        ("Priority", str(job.get("Priority", ""))),
        ("Datacenters", ",".join(job.get("Datacenters") or [])),
        ("Namespace", job.get("Namespace") or "default"),
        ("Node Pool", job.get("NodePool") or "default"), ("Status", status_string(job)),
        ("Periodic", _bool(periodic)), ("Parameterized", _bool(parameterized))])])
    if summary is not None and not (periodic or parameterized):
        groups = summary.get("Summary") or {}
        rows = [[name] + [str((groups[name] or {}).get(c, 0)) for c in SUMMARY_COLUMNS]
                for name in sorted(groups)]
        doc.section("Summary", Table(["Task Group", *SUMMARY_COLUMNS], rows))
    failed = _latest_failed(evals or [])
    if failed is not None:
        blocks: list = []
        groups = failed.get("FailedTGAllocs") or {}
        for i, name in enumerate(sorted(groups)):
            blocks.append(Line(f'Task Group "{name}":'))
            blocks.extend(alloc_metric_lines(groups[name], "  "))
            if i != len(groups) - 1:
                blocks.append(Line(""))
        doc.section("Placement Failure", *blocks)
    if deployment is not None and job.get("Type") == "service":
        length = None if verbose else SHORT_ID
        doc.section("Latest Deployment", deployment_kv(deployment, length, with_job=False))
        if deployment.get("TaskGroups"):
            doc.section("Deployed", deployed_table(deployment))
    doc.section("Allocations", alloc_list(allocs or [], verbose, now))
    return doc


def _latest_failed(evals: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """Nomad shows placement failures only while a blocked evaluation waits for capacity:
    the newest evaluation with failures, then."""
    blocked = any(e.get("Status") == "blocked" for e in evals)
    failing = [e for e in evals if e.get("FailedTGAllocs")]
    if not blocked or not failing:
        return None
    return max(failing, key=lambda e: e.get("CreateIndex", 0))


def job_history(versions: list[dict[str, Any]], diffs: Optional[list[dict[str, Any]]] = None
                ) -> Document:
    """``nomad job history``: Version, Stable and Submit Date of each version, newest first
    (with ``diffs``, each version's change from the one before, as ``-p`` prints it)."""
    from .plan import job_diff_lines
    doc = Document()
    for i, v in enumerate(versions):
        if i:
            doc.add(Line(""))
        rows = [("Version", str(v.get("Version", 0))), ("Stable", _bool(v.get("Stable", False))),
                ("Submit Date", format_time(v.get("SubmitTime")))]
        diff = diffs[i] if diffs is not None and i < len(diffs) else None
        if not diff:
            doc.add(KV(rows))
            continue
        # Nomad puts the diff in the key/value block as "Diff|\n<diff>": the key is
        # aligned with the others and the diff starts on the next line.
        width = max(len(k) for k, _ in rows + [("Diff", "")])
        doc.add(KV(rows), Line(f"{'Diff'.ljust(width)} ="), *job_diff_lines(diff))
    return doc


def job_inspect(job: dict[str, Any]) -> Document:
    """``nomad job inspect``: the job as the API holds it, ``{"Job": ...}``, 4-space indent."""
    return Document().lines(json.dumps({"Job": job}, indent=4, sort_keys=False))


def _bool(value: Any) -> str:
    return "true" if value else "false"
