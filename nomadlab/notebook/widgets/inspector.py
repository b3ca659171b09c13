"""The evaluation inspector: pick an evaluation, read its trace, see its placement funnel
and, for one task group, the why-not matrix (nodes x feasibility checks, coloured)."""

from __future__ import annotations

import html
from typing import Any, Callable, Optional

import ipywidgets as widgets
import traitlets

from .figures import png

__all__ = ["EvalInspector", "keep_selection"]


def keep_selection(dropdown: widgets.Dropdown, options: list[tuple[str, str]],
                   default: Optional[str] = None) -> None:
    """Give ``dropdown`` new options without losing what the learner selected (ipywidgets
    resets the value when the options change); with nothing selected yet, ``default`` (or
    the first option)."""
    if list(dropdown.options) == options:
        return
    chosen = dropdown.value
    values = [v for _, v in options]
    dropdown.options = options
    fallback = default if default in values else (values[0] if values else None)
    want = chosen if chosen in values else fallback
    if dropdown.value != want:
        dropdown.value = want


class EvalInspector(widgets.VBox):
    """``eval_id`` and ``task_group`` are the selection; the view follows them."""

    eval_id = traitlets.Unicode("")
    task_group = traitlets.Unicode("")

    def __init__(self, cluster: Any, guard: Callable[[str], Callable]) -> None:
        self.cluster = cluster
        self.evals = widgets.Dropdown(description="Evaluation", options=[],
                                      layout=widgets.Layout(width="520px"))
        self.groups = widgets.Dropdown(description="Task group", options=[])
        self.summary = widgets.HTML()
        self.trace = widgets.HTML(layout=widgets.Layout(max_height="260px", overflow="auto"))
        self.funnel = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.why_not = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.figure_note = widgets.HTML()
        super().__init__([widgets.HBox([self.evals, self.groups]), self.summary, self.trace,
                          self.figure_note, self.funnel, self.why_not])
        traitlets.link((self.evals, "value"), (self, "eval_id"),
                       transform=(lambda v: v or "", lambda v: v or None))
        traitlets.link((self.groups, "value"), (self, "task_group"),
                       transform=(lambda v: v or "", lambda v: v or None))
        self.observe(guard("evaluation inspector")(self._on_eval), "eval_id")
        self.observe(guard("why-not matrix")(self._on_group), "task_group")
        self._drawn: tuple = ()

    def set_cluster(self, cluster: Any) -> None:
        """Show another cluster (the kernel's agent was replaced)."""
        self.cluster = cluster
        self._drawn = ()

    def refresh(self) -> None:
        """New evaluations appear in the list (newest first); the selection stays.

        Until the learner picks one, the newest evaluation that placed something (or
        failed to) is shown: a deployment's later evaluations often place nothing."""
        evals = sorted(self.cluster.evals(), key=lambda e: (e.create_index, e.id), reverse=True)
        options = [(f"{e.id[:8]}  {e.job_id}  {e.triggered_by}  {e.status}", e.id) for e in evals]
        placing = {a.eval_id for a in self.cluster.allocs()}
        default = next((e.id for e in evals if e.id in placing or e.failed_tg_allocs), None)
        keep_selection(self.evals, options, default)
        if self.eval_id:
            ev = self.cluster.eval(self.eval_id)
            if (ev.id, ev.status, ev.modify_index) != self._drawn[:3]:
                self._show(ev)

    def _on_eval(self, change: dict) -> None:
        if not change["new"]:
            self.summary.value = self.trace.value = self.figure_note.value = ""
            self.funnel.value = self.why_not.value = b""
            return
        self._show(self.cluster.eval(change["new"]))

    def _show(self, ev: Any) -> None:
        """``nomad eval status`` (placement failures in the CLI's words), then the trace."""
        from ...format import eval_status
        placed = [a.to_api() for a in self.cluster.allocs(ev.job_id) if a.eval_id == ev.id]
        placed.sort(key=lambda a: (-a.get("CreateIndex", 0), a.get("Name", "")))
        self.summary.value = eval_status(ev.to_api(), allocs=placed).html()
        trace = ev.trace
        if trace is not None and trace.placements:
            self.trace.value = trace._repr_html_()
            groups = sorted(trace.groups())
        else:
            placed = sorted({a.task_group for a in self.cluster.allocs(ev.job_id)
                             if a.eval_id == ev.id and a.metrics is not None})
            self.trace.value = (
                "<i>No per-node trace: a cluster read over its HTTP API keeps only Nomad's "
                "AllocMetric counts.</i>" if placed else
                "<i>This evaluation placed nothing, so it has no per-node trace.</i>")
            groups = sorted({*(ev.failed_tg_allocs or {}), *placed})
        self._drawn = (ev.id, ev.status, ev.modify_index, None)
        keep_selection(self.groups, [(g, g) for g in groups])
        self._draw()

    def _on_group(self, change: dict) -> None:
        if self.eval_id and change["new"]:
            self._draw()

    def _draw(self) -> None:
        """Funnel and why-not matrix of the selected evaluation and task group."""
        import nomadlab as nl
        if not self.eval_id or not self.task_group:
            self.funnel.value = self.why_not.value = b""
            self.figure_note.value = "<i>No placement to draw for this evaluation.</i>"
            return
        if self._drawn[3] == self.task_group and self.funnel.value:
            return
        c, ev, tg = self.cluster, self.eval_id, self.task_group  # c: metrics when no trace
        self.funnel.value = png(nl.viz.draw_funnel(c, ev, task_group=tg))
        self.why_not.value = png(nl.viz.draw_why_not(c, ev, task_group=tg))
        self.figure_note.value = (f"<b>Task group {html.escape(self.task_group)}</b>: placement "
                                  "funnel, then why each node was or was not chosen")
        self._drawn = (*self._drawn[:3], self.task_group)
