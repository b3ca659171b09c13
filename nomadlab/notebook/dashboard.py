"""``Dashboard()``: one widget to watch and drive the kernel's cluster.

Tabs: the cluster (nodes with their allocations, jobs), a job editor (Validate, Plan,
Run), the evaluation inspector (trace, placement funnel, why-not matrix) and the history
scrubber (a job's graph at any past state index).  In step mode, Step and Run-until-idle
buttons move the server one stage, or all the way, and list what happened.

It refreshes itself: the cluster's change feed (``subscribe``: the agent's commits, or a
remote cluster's ``/v1/event/stream``) wakes a background thread that redraws the header
and the visible tab at most every ``debounce`` seconds.  A refresh only reads, and only
through the cluster interface, so the same widget follows an in-process agent and a
real Nomad cluster alike.
"""

from __future__ import annotations

import html
import threading
import time
import weakref
from typing import Any, Callable, Optional

import ipywidgets as widgets
import traitlets

from . import session
from .progress import ProgressBar
from .widgets import ClusterView, ErrorLog, EvalInspector, HistoryScrubber, JobEditor

__all__ = ["Dashboard"]

TABS = ("Cluster", "Job editor", "Evaluations", "History")
STEP_LOG_LINES = 14
RUN_UNTIL_IDLE_TIMEOUT = 120.0


class _Refresher:
    """A daemon thread that runs ``refresh`` once per burst of state changes."""

    def __init__(self, refresh: Callable[[], None], debounce: float) -> None:
        self._refresh = refresh
        self._debounce = debounce
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nomadlab-dashboard",
                                        daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopped.is_set():
                return
            time.sleep(self._debounce)  # let the burst (plan applied, allocs updated) land
            self._wake.clear()
            if self._stopped.is_set():
                return
            self._refresh()


class Dashboard(widgets.VBox):
    """The kernel's cluster (or ``cluster``) at a glance; ``display(Dashboard())``.

    ``index`` is the state index last drawn; ``steps`` the step-mode log shown.  A new
    dashboard on the same cluster stops the one before it from following the state (a
    cell run again), so forgotten copies do not keep redrawing in the background.
    """

    _live: "weakref.WeakValueDictionary[int, Dashboard]" = weakref.WeakValueDictionary()

    index = traitlets.Int(0)
    steps = traitlets.List(traitlets.Unicode())

    def __init__(self, cluster: Optional[Any] = None, *, debounce: float = 0.25) -> None:
        self.errors = ErrorLog()
        guard = self.errors.guard
        self.header = widgets.HTML()
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          tooltip="advance the server one stage")
        self.idle_button = widgets.Button(description="Run until idle", icon="fast-forward",
                                          tooltip="step until no evaluation is waiting")
        self.step_log = widgets.HTML()
        self.progress = ProgressBar(layout=widgets.Layout(display="none"))
        self.step_controls = widgets.VBox([
            widgets.HBox([self.step_button, self.idle_button]), self.progress, self.step_log])
        self._lock = threading.RLock()
        self.cluster = cluster if cluster is not None else session.agent()
        self.cluster_view = ClusterView(self.cluster)
        self.editor = JobEditor(self.cluster, guard, on_change=lambda: self.refresh())
        self.inspector = EvalInspector(self.cluster, guard)
        self.history = HistoryScrubber(self.cluster, guard)
        self.panels = (self.cluster_view, self.editor, self.inspector, self.history)
        self.tabs = widgets.Tab(children=list(self.panels), titles=TABS)
        super().__init__([self.header, self.step_controls, self.tabs, self.errors])
        self.add_class("nomadlab-dashboard")  # a stable handle for styling and browser tests
        self.step_button.on_click(guard("step")(lambda _b: self.step()))
        self.idle_button.on_click(guard("run until idle")(lambda _b: self.run_until_idle()))
        self.tabs.observe(guard("tab")(lambda _c: self.refresh()), "selected_index")
        self._refresher = _Refresher(self.refresh, debounce)
        self._unsubscribe: Callable[[], None] = self._subscribe()
        self._unfollow = session.on_change(self._agent_changed) if cluster is None else None
        key = id(cluster) if cluster is not None else 0  # 0: following the kernel's agent
        previous = Dashboard._live.get(key)
        if previous is not None:
            previous.stop_following("a newer dashboard on this cluster follows it now")
        Dashboard._live[key] = self
        self.refresh()

    # -- following the state -----------------------------------------------------------

    def _subscribe(self) -> Callable[[], None]:
        """Wake the refresher on every change the cluster reports (the feed's callback
        must be quick)."""
        return self.cluster.subscribe(lambda _events: self._refresher.poke())

    def _agent_changed(self, new: Any) -> None:
        """The kernel's agent was replaced (``%nomad agent -dev ...``): follow it."""
        if new is None:
            return
        with self._lock:
            self._unsubscribe()
            self.cluster = new
            for panel in self.panels:
                panel.set_cluster(new)
            self.steps = []
            self.step_log.value = ""
            self._unsubscribe = self._subscribe()
        self.refresh()

    def refresh(self) -> None:
        """Redraw the header and the visible tab from the current state (reads only)."""
        with self._lock:
            self.errors.guard("header")(self._refresh_header)()
            visible = self.panels[self.tabs.selected_index or 0]
            refresh = getattr(visible, "refresh", None)
            if refresh is not None:
                self.errors.guard(f"{TABS[self.panels.index(visible)].lower()} tab")(refresh)()

    def _refresh_header(self) -> None:
        c = self.cluster
        mode = c.mode
        index = c.index
        running = sum(1 for a in c.allocs() if a.client_status == "running")
        where = f"{html.escape(mode)} mode" if c.in_process else html.escape(c.address)
        self.header.value = (
            f"<b>nomadlab</b> &nbsp; {where} &nbsp;|&nbsp; state index "
            f"<b>{index}</b> &nbsp;|&nbsp; {len(c.nodes())} node(s) &nbsp;|&nbsp; "
            f"{len(c.jobs())} job(s) &nbsp;|&nbsp; {running} allocation(s) running")
        self.step_controls.layout.display = None if mode == "step" else "none"
        self.index = index

    # -- step mode ---------------------------------------------------------------------

    def _log(self, lines: list[str]) -> None:
        self.steps = (list(self.steps) + lines)[-STEP_LOG_LINES:]
        self.step_log.value = "<pre>" + html.escape("\n".join(self.steps)) + "</pre>"

    def step(self) -> Any:
        """What the Step button does: one stage; the record says what just happened."""
        record = self.cluster.step()
        self._log([str(record) if record is not None else session.IDLE])
        self.refresh()
        return record

    def run_until_idle(self) -> list[Any]:
        """What Run-until-idle does: step until idle, with a progress bar over the
        evaluations that were waiting (big simulations take a while)."""
        waiting = sum(1 for e in self.cluster.evals() if e.status == "pending")
        self.progress.start(waiting, "evaluations")
        records: list[Any] = []
        deadline = time.monotonic() + RUN_UNTIL_IDLE_TIMEOUT
        while time.monotonic() < deadline:
            record = self.cluster.step()
            if record is None:
                break
            records.append(record)
            if record.stage in ("eval-completed", "eval-failed"):
                self.progress.advance(total=self.progress.bar.value + 1)
        else:
            raise TimeoutError(f"the server was still busy after {RUN_UNTIL_IDLE_TIMEOUT:.0f} s")
        self.progress.finish(f"{len(records)} stage(s), idle now")
        shown = [str(r) for r in records][-STEP_LOG_LINES + 1:]
        self._log(shown + [session.IDLE])
        self.refresh()
        return records

    # -- lifetime ----------------------------------------------------------------------

    def stop_following(self, why: str = "") -> None:
        """No more refreshes on state changes (buttons still work); the header says why."""
        self._refresher.stop()
        self._unsubscribe()
        self._unsubscribe = lambda: None
        if self._unfollow is not None:
            self._unfollow()
            self._unfollow = None
        if why:
            self.header.value += f" &nbsp;|&nbsp; <i>not refreshing: {html.escape(why)}</i>"

    def close(self) -> None:
        """Stop following the state and remove the widget (the cluster keeps running)."""
        self.stop_following()
        super().close()
