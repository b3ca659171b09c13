"""The cluster at a glance: each node's CPU and memory with the allocations on it, and the
jobs with their allocations, the way ``nomad status`` and ``nomad job status`` list them."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .figures import png

__all__ = ["ClusterView", "jobs_html"]

MAX_ALLOCS_SHOWN = 30


def jobs_html(c: Any) -> str:
    """``nomad status`` (the job list), then each job's newest allocations as ``nomad job
    status <job>`` tables them: the CLI's own renderers (:mod:`nomadlab.format`), so the
    dashboard and the terminal show the same columns and words."""
    from ...format import Document, Heading, alloc_list, job_list
    jobs = c.jobs()
    parts = [f"<div class='nomadlab-jobs'>{job_list([j.to_api() for j in jobs]).html()}</div>"]
    allocs = sorted(c.allocs(), key=lambda a: (a.create_index, a.name), reverse=True)
    shown = allocs[:MAX_ALLOCS_SHOWN]
    for job in jobs:
        mine = [a.to_api() for a in shown if a.job_id == job.id]
        if mine:
            section = Document([Heading(f'Allocations of job "{job.id}"'), alloc_list(mine)])
            parts.append(f"<div class='nomadlab-allocs'>{section.html()}</div>")
    if len(allocs) > MAX_ALLOCS_SHOWN:
        parts.append(f"<div><i>{len(allocs) - MAX_ALLOCS_SHOWN} older allocations not shown"
                     "</i></div>")
    return "".join(parts)


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

    def set_cluster(self, cluster: Any) -> None:
        """Show another cluster (the kernel's agent was replaced)."""
        self.cluster = cluster
        self._drawn_topology = None

    def refresh(self) -> None:
        import nomadlab as nl
        data = nl.viz.topology(self.cluster)
        if data != self._drawn_topology:
            self.topology.value = png(nl.viz.draw_topology(data, figsize=(9, 3.2)))
            self._drawn_topology = data
        text = jobs_html(self.cluster)
        if text != self.jobs.value:
            self.jobs.value = text
