"""The history scrubber: drag through the state indexes the store keeps and see a job's
graph as it was then, drawn with the same layout at every index so nothing jumps."""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as widgets
import traitlets

from .figures import png
from .inspector import keep_selection

__all__ = ["HistoryScrubber"]


class HistoryScrubber(widgets.VBox):
    """``index`` and ``job_id`` say what is drawn; at the newest index it follows new states."""

    index = traitlets.Int(0)
    job_id = traitlets.Unicode("")

    def __init__(self, cluster: Any, guard: Callable[[str], Callable]) -> None:
        self.cluster = cluster
        self.slider = widgets.IntSlider(description="State index", min=0, max=0, value=0,
                                        continuous_update=False,
                                        layout=widgets.Layout(width="520px"))
        self.jobs = widgets.Dropdown(description="Job", options=[])
        self.caption = widgets.HTML()
        self.graph = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        super().__init__([widgets.HBox([self.jobs, self.slider]), self.caption, self.graph])
        traitlets.link((self.slider, "value"), (self, "index"))
        traitlets.link((self.jobs, "value"), (self, "job_id"),
                       transform=(lambda v: v or "", lambda v: v or None))
        self.observe(guard("history scrubber")(lambda _: self._draw()), ["index", "job_id"])
        self._drawn: tuple = ()

    def _keeps_history(self) -> bool:
        """The in-process agent keeps past states; a cluster read over HTTP only its present."""
        return self.cluster.in_process

    def set_cluster(self, cluster: Any) -> None:
        """Show another cluster (the kernel's agent was replaced)."""
        self.cluster = cluster
        self._drawn = ()

    def refresh(self) -> None:
        """Widen the slider to the states kept now; at the newest index, move with it."""
        if self._keeps_history():
            kept = self.cluster.history()
            newest = self.cluster.index
            oldest = kept[0][0] if kept else newest
        else:
            newest = oldest = self.cluster.index
        self.slider.disabled = oldest == newest
        following = self.slider.value >= self.slider.max
        jobs = self.cluster.jobs()
        latest = max(jobs, key=lambda j: j.modify_index).id if jobs else None
        keep_selection(self.jobs, [(j.id, j.id) for j in jobs], default=latest)
        with self.slider.hold_trait_notifications():
            self.slider.max = max(newest, oldest)
            self.slider.min = oldest
            if following:
                self.slider.value = newest
        self._draw()

    def _draw(self) -> None:
        import nomadlab as nl
        if (self.job_id, self.index) == self._drawn:
            return
        if not self.job_id:
            self.caption.value = "<i>No job yet: run one and come back.</i>"
            self.graph.value = b""
            self._drawn = (self.job_id, self.index)
            return
        if not self._keeps_history() and self.index != self.cluster.index:
            return  # the index moved on while drawing; the next refresh draws the present
        past = nl.viz.read_source(self.cluster, self.index if self._keeps_history() else None)
        if self.job_id not in {j.id for j in past.jobs()}:
            self.caption.value = (f"<i>Job {html.escape(self.job_id)} was not registered yet "
                                  f"at index {self.index}.</i>")
            self.graph.value = b""
        else:
            newest = self.index >= self.slider.max
            self.caption.value = (f"Job <b>{html.escape(self.job_id)}</b> at state index "
                                  f"{self.index}" + (" (now)" if newest else " (the past)"))
            self.graph.value = png(nl.viz.draw(nl.viz.job_graph(past, self.job_id),
                                               figsize=(11, 5)))
        self._drawn = (self.job_id, self.index)
