"""The cluster at a glance: each node's CPU and memory with the allocations on it, and the
jobs with their allocations, the way ``nomad status`` and ``nomad job status`` list them."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

import ipywidgets as widgets

from .figures import png

__all__ = ["ClusterView", "jobs_html"]

MAX_ALLOCS_SHOWN = 30


_CELL = "padding:1px 12px 1px 0;text-align:left;font-family:monospace"


def _cell(value: object) -> str:
    return f"<td style='{_CELL}'>{html.escape(str(value))}</td>"


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th style='{_CELL}'>{n}</th>" for n in names) + "</tr>"


def jobs_html(c: Any) -> str:
    """Jobs (ID, Type, Priority, Status, Allocations) and the newest allocations (ID,
    Job, Task Group, Node, Desired, Status), as Nomad's CLI columns them."""
    jobs = c.jobs()
    if not jobs:
        return "<div class='nomadlab-jobs'><i>No running jobs</i></div>"
    allocs = c.allocs()
    counts: dict[str, Counter] = {}
    for a in allocs:
        counts.setdefault(a.job_id, Counter())[a.client_status] += 1
    rows = ["<table class='nomadlab-jobs'>" +
            _head("ID", "Type", "Priority", "Status", "Allocations")]
    for job in jobs:
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.get(job.id, Counter()).items()))
        rows.append("<tr>" + "".join(_cell(v) for v in (job.id, job.type, job.priority,
                                                        job.status, summary or "none")) + "</tr>")
    rows.append("</table>")
    names = {n.id: n.name for n in c.nodes()}
    newest = sorted(allocs, key=lambda a: (a.create_index, a.name), reverse=True)
    rows.append("<br><table class='nomadlab-allocs'>" +
                _head("Alloc ID", "Job", "Task Group", "Node", "Desired", "Status"))
    for a in newest[:MAX_ALLOCS_SHOWN]:
        rows.append("<tr>" + "".join(_cell(v) for v in (
            a.id[:8], a.job_id, a.task_group, names.get(a.node_id, a.node_id[:8]),
            a.desired_status, a.client_status)) + "</tr>")
    rows.append("</table>")
    if len(newest) > MAX_ALLOCS_SHOWN:
        rows.append(f"<div><i>{len(newest) - MAX_ALLOCS_SHOWN} older allocations not shown"
                    "</i></div>")
    return "".join(rows)


class ClusterView(widgets.VBox):
    """Topology picture and job list; ``refresh`` redraws only what changed."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.topology = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.jobs = widgets.HTML()
        self._drawn_topology: Any = None
        super().__init__([widgets.HTML("<b>Nodes</b> (CPU and memory; allocations stacked "
                                       "by job)"), self.topology,
                          widgets.HTML("<b>Jobs</b>"), self.jobs])

    def refresh(self) -> None:
        import nomadlab as nl
        data = nl.viz.topology(self.cluster)
        if data != self._drawn_topology:
            self.topology.value = png(nl.viz.draw_topology(data, figsize=(9, 3.2)))
            self._drawn_topology = data
        text = jobs_html(self.cluster)
        if text != self.jobs.value:
            self.jobs.value = text
