"""Rich display for the structs a notebook shows most: the same documents the CLI prints,
as HTML tables in a cell and as ``nomad``-shaped text in a terminal IPython.

The methods are attached here, once, rather than written into the struct modules, so the
structs stay plain data (equality and round trips are untouched) and all display lives
in :mod:`nomadlab.format`.
"""

from __future__ import annotations

from typing import Any, Callable

from ..structs.trace import EvalTrace
from ..structs import Allocation, Deployment, Evaluation, Job, JobPlanResponse, Node
from .allocation import alloc_status
from .deployment import deployment_status
from .document import KV, Document, Table
from .evaluation import eval_status
from .job import status_string
from .node import node_status
from .plan import plan_output
from .units import format_time

__all__ = ["install", "document_for"]


def _job(job: Job) -> Document:
    """A job on its own (no cluster to ask for allocations): its fields and groups."""
    api = job.to_api()
    doc = Document([KV([("ID", job.id), ("Name", job.name), ("Type", job.type or ""),
                        ("Priority", str(job.priority if job.priority is not None else "")),
                        ("Datacenters", ",".join(job.datacenters)),
                        ("Namespace", job.namespace or "default"),
                        ("Version", str(job.version)), ("Status", status_string(api)),
                        ("Submit Date", format_time(job.submit_time))])])
    rows = [[g.name, str(g.count if g.count is not None else 1), ", ".join(t.name for t in g.tasks),
             ", ".join(sorted({t.driver for t in g.tasks}))] for g in job.task_groups]
    doc.section("Task Groups", Table(["Task Group", "Count", "Tasks", "Drivers"], rows))
    return doc


def _trace(trace: EvalTrace) -> Document:
    return Document().lines(str(trace))


_DOCUMENTS: dict[type, Callable[[Any], Document]] = {
    Job: _job,
    Evaluation: lambda ev: eval_status(ev.to_api()),
    Allocation: lambda a: alloc_status(a.to_api()),
    Node: lambda n: node_status(n.to_api(), None),
    Deployment: lambda d: deployment_status(d.to_api()),
    EvalTrace: _trace,
    JobPlanResponse: lambda plan: plan_output({k: v for k, v in plan.items() if k != "Trace"},
                                              plan.job_type),
}


def document_for(obj: Any) -> Document:
    """The CLI document for a struct (what ``nomad <thing> status`` would print)."""
    for cls, build in _DOCUMENTS.items():
        if isinstance(obj, cls):
            return build(obj)
    raise TypeError(f"no CLI view of {type(obj).__name__}")


def _repr_html_(self: Any) -> str:
    return document_for(self).html()


def _repr_pretty_(self: Any, p: Any, cycle: bool) -> None:
    p.text(repr(self) if cycle else document_for(self).text())


def install() -> None:
    """Give Job, Evaluation, Allocation, Node, Deployment and a plan their reprs (and
    EvalTrace, which has its own HTML table, a text view)."""
    for cls in (Job, Evaluation, Allocation, Node, Deployment, JobPlanResponse):
        cls._repr_html_ = _repr_html_  # type: ignore[attr-defined]
        cls._repr_pretty_ = _repr_pretty_  # type: ignore[attr-defined]
    EvalTrace._repr_pretty_ = _repr_pretty_  # type: ignore[attr-defined]
