"""The dashboard widget driven from Python: set values, click, assert on state and figures.

Every test uses a real agent (step mode where the test decides when things move, auto
mode where the dashboard must follow on its own) and the widgets' own click handlers.
"""

from __future__ import annotations

import html
import struct
import time
from typing import Callable, Iterator

import pytest

import nomadlab as nl
from nomadlab.notebook import Dashboard, session
from nomadlab.notebook.widgets import sample_spec

SLEEP_JOB = '''job "sleepy" {
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
'''

BIG_JOB = '''job "big" {
  group "huge" {
    task "t" {
      driver = "docker"
      config {
        image = "nomadlab/busybox:latest"
      }
      resources {
        cpu    = 100
        memory = 9000
      }
    }
  }
}
'''


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def allocs_shown(d: Dashboard, status: str) -> int:
    """Allocation rows with ``status`` in the dashboard's per-job allocation tables."""
    html = d.cluster_view.jobs.value
    sections = html.split("class='nomadlab-allocs'")[1:]
    return sum(part.count(f">{status}</td>") for part in sections)


def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def step_cluster() -> Iterator[nl.Agent]:
    """Step mode, no real client: three simulated nodes, one of them too small."""
    c = nl.dev(clients=0, mode="step", seed=3)
    c.add_node(name="alpha", cpu=4000, memory=8192)
    c.add_node(name="beta", cpu=4000, memory=8192)
    c.add_node(name="tiny", cpu=500, memory=256, drivers=("exec",))
    yield c
    c.shutdown()


@pytest.fixture
def auto_cluster() -> Iterator[nl.Agent]:
    c = nl.dev(clients=1, mode="auto", seed=1)
    yield c
    c.shutdown()


@pytest.fixture
def dash_factory() -> Iterator[Callable[..., Dashboard]]:
    made: list[Dashboard] = []

    def make(cluster: object = None, **kwargs: object) -> Dashboard:
        d = Dashboard(cluster, **kwargs)
        made.append(d)
        return d
    yield make
    for d in made:
        d.close()


def test_step_buttons_move_the_server_and_the_views_follow(step_cluster, dash_factory) -> None:
    c = step_cluster
    d = dash_factory(c)
    assert d.step_controls.layout.display is None, "step mode shows Step and Run until idle"
    empty_topology = d.cluster_view.topology.value
    c.submit(SLEEP_JOB % 2)
    d.step_button.click()
    assert "eval-dequeued" in d.steps[-1]
    assert not c.allocs("sleepy"), "one step dequeues; nothing is placed yet"
    d.idle_button.click()
    assert d.steps[-1].startswith("idle"), d.steps
    assert any("plan-applied" in s for s in d.steps)
    assert d.progress.bar.bar_style == "success" and d.progress.bar.value == d.progress.bar.max
    allocs = c.allocs("sleepy")
    assert len(allocs) == 2
    until(lambda: d.index == c.index)  # clients report on their own; the feed follows
    jobs = d.cluster_view.jobs.value
    assert "sleepy" in jobs and all(a.id[:8] in jobs for a in allocs)
    assert d.cluster_view.topology.value != empty_topology, "the topology is redrawn"
    assert d.errors.count == 0, d.errors.outputs


def test_step_when_idle_says_so(step_cluster, dash_factory) -> None:
    d = dash_factory(step_cluster)
    d.step_button.click()
    assert d.steps == ["idle: no evaluation is waiting and none is in flight"]


def test_a_refresh_only_reads(step_cluster, dash_factory) -> None:
    c = step_cluster
    c.submit(SLEEP_JOB % 1)
    c.run_until_idle()
    d = dash_factory(c)
    before = c.index
    for tab in range(len(d.panels)):
        d.tabs.selected_index = tab
        d.refresh()
    assert c.index == before


def test_auto_mode_dashboard_follows_the_change_feed(auto_cluster, dash_factory) -> None:
    c = auto_cluster
    d = dash_factory(c, debounce=0.05)
    assert d.step_controls.layout.display == "none", "no step buttons in auto mode"
    first = d.index
    c.submit(SLEEP_JOB % 1)  # not through the dashboard: it must notice by itself
    until(lambda: allocs_shown(d, "running") == 1)
    assert d.index > first
    until(lambda: d.index == c.index)


def test_inspector_shows_trace_funnel_and_why_not(step_cluster, dash_factory) -> None:
    c = step_cluster
    ev = c.submit(SLEEP_JOB % 1)
    c.run_until_idle()
    d = dash_factory(c)
    d.tabs.selected_index = d.panels.index(d.inspector)
    assert d.inspector.eval_id == ev.id, "the newest evaluation is selected"
    assert d.inspector.task_group == "g"
    trace = d.inspector.trace.value
    (alloc,) = c.allocs("sleepy")
    assert alloc.node_name in trace and "chosen" in trace
    funnel_w, funnel_h = png_size(d.inspector.funnel.value)
    why_w, why_h = png_size(d.inspector.why_not.value)
    assert funnel_w > 200 and why_h > 100
    rows = nl.viz.why_not(c.eval(ev.id), task_group="g")  # what the figure draws
    assert {r["node"]: r["outcome"] for r in rows}[alloc.node_name] == "chosen"


def test_inspector_on_a_placement_failure(step_cluster, dash_factory) -> None:
    c = step_cluster
    ev = c.submit(BIG_JOB)
    c.run_until_idle()
    d = dash_factory(c)
    d.tabs.selected_index = d.panels.index(d.inspector)
    d.inspector.evals.value = ev.id
    assert "huge" in d.inspector.task_group
    assert "tiny" in d.inspector.trace.value
    summary = html.unescape(d.inspector.summary.value)  # nomad eval status, the CLI's words
    assert "Failed Placements" in summary and 'Dimension "memory" exhausted' in summary
    rows = nl.viz.why_not(c.eval(ev.id), task_group="huge")
    outcomes = {r["node"]: r["outcome"] for r in rows}
    assert outcomes["tiny"] != "chosen" and "chosen" not in outcomes.values()
    assert png_size(d.inspector.why_not.value)[1] > 100
    assert d.errors.count == 0, d.errors.outputs


def test_history_scrubber_draws_the_past(step_cluster, dash_factory) -> None:
    c = step_cluster
    before_job = c.index
    c.submit(SLEEP_JOB % 2)
    c.run_until_idle()
    d = dash_factory(c)
    d.tabs.selected_index = d.panels.index(d.history)
    h = d.history
    assert h.job_id == "sleepy" and h.index == c.index == h.slider.max
    now = h.graph.value
    assert png_size(now)[0] > 300 and "(now)" in h.caption.value
    h.slider.value = before_job
    assert "not registered yet" in h.caption.value and h.graph.value == b""
    registered = before_job + 1
    h.slider.value = registered
    past = h.graph.value
    assert past and past != now and "(the past)" in h.caption.value
    h.slider.value = c.index
    h.slider.value = registered
    assert h.graph.value == past, "the same index draws the same picture"


def test_history_follows_new_states_only_at_the_newest_index(step_cluster, dash_factory) -> None:
    c = step_cluster
    c.submit(SLEEP_JOB % 1)
    c.run_until_idle()
    d = dash_factory(c)
    d.tabs.selected_index = d.panels.index(d.history)
    h = d.history
    h.slider.value = h.slider.max - 1
    pinned = h.index
    c.stop("sleepy")
    c.run_until_idle()
    until(lambda: h.slider.max == c.index)  # the change feed refreshes the tab
    assert h.index == pinned, "a past index stays put"
    h.slider.value = h.slider.max
    c.submit(SLEEP_JOB % 1)
    c.run_until_idle()
    until(lambda: h.index == c.index)  # at the newest index it moves with the state


def test_job_editor_validate_shows_the_caret(step_cluster, dash_factory) -> None:
    d = dash_factory(step_cluster)
    d.editor.spec = 'job "x" {\n  group "g" {\n    count = "three"\n  }\n}\n'
    d.editor.buttons["Validate"].click()
    assert d.editor.exit_code == 1
    assert "^" in d.editor.output and "count" in d.editor.output
    assert d.errors.count == 0, "a bad spec is the command's output, not a dashboard error"


def test_job_editor_plan_and_run(auto_cluster, dash_factory) -> None:
    c = auto_cluster
    d = dash_factory(c)
    assert d.editor.spec == sample_spec(), "the editor starts with the sample spec"
    d.editor.spec = SLEEP_JOB % 3
    d.editor.buttons["Plan"].click()
    assert d.editor.exit_code in (0, 1), d.editor.output
    assert "sleepy" in d.editor.output and not c.jobs(), "a plan commits nothing"
    d.editor.buttons["Run"].click()
    assert d.editor.exit_code == 0, d.editor.output
    c.wait("sleepy", status="running", timeout=60)
    d.refresh()
    assert allocs_shown(d, "running") == 3


def test_callback_errors_are_shown_not_swallowed(auto_cluster, dash_factory) -> None:
    d = dash_factory(auto_cluster)
    d.step_button.click()  # step() is for step mode: the agent raises
    assert d.errors.count == 1
    (shown,) = d.errors.outputs
    assert shown["name"] == "stderr" and "step mode" in shown["text"]
    assert "Traceback" not in shown["text"], "a learner's mistake is a message, not a traceback"


def test_dashboard_without_cluster_follows_the_kernels_agent(dash_factory) -> None:
    try:
        first = session.agent()
        d = dash_factory()
        assert d.cluster is first
        second = session.start(session.AgentShape(clients=0, nodes=2, mode="step", http=False))
        assert d.cluster is second and d.editor.cluster is second
        assert d.step_controls.layout.display is None
        assert "2 node(s)" in d.header.value
    finally:
        session.shutdown()


def test_close_stops_following(step_cluster, dash_factory) -> None:
    c = step_cluster
    d = dash_factory(c, debounce=0.01)
    d.close()
    shown = d.index
    c.submit(SLEEP_JOB % 1)
    c.run_until_idle()
    time.sleep(0.1)
    assert d.index == shown


def test_progress_track_outside_a_kernel_just_iterates() -> None:
    from nomadlab.notebook.progress import ProgressBar, track
    assert list(track(range(3), description="x")) == [0, 1, 2]
    bar = ProgressBar()
    bar.start(4, "nodes")
    bar.advance(2)
    assert bar.label.value == "nodes: 2/4"
    bar.advance(5)
    assert bar.bar.value == 4
    bar.finish("done")
    assert bar.bar.bar_style == "success" and bar.label.value == "done"


def test_dashboard_over_a_clusters_http_api(dash_factory) -> None:
    """The same views against nl.connect(...): following its event stream, drawn from
    AllocMetric counts."""
    c = nl.dev(clients=1, seed=2, http=0)
    remote = nl.connect(c.http_addr)
    try:
        d = dash_factory(remote, debounce=0.01)
        assert d.step_controls.layout.display == "none"
        assert remote.address in d.header.value
        d.editor.spec = SLEEP_JOB % 2
        d.editor.buttons["Run"].click()
        assert d.editor.exit_code == 0, d.editor.output
        c.wait("sleepy", timeout=10)
        until(lambda: "2 allocation(s) running" in d.header.value)  # woken by the stream
        assert allocs_shown(d, "running") == 2
        d.tabs.selected_index = d.panels.index(d.inspector)
        assert "AllocMetric" in d.inspector.trace.value
        assert d.inspector.task_group == "g" and png_size(d.inspector.funnel.value)[0] > 200
        d.tabs.selected_index = d.panels.index(d.history)
        assert "(now)" in d.history.caption.value and d.history.slider.disabled
        assert d.errors.count == 0, d.errors.outputs
    finally:
        remote.close()
        c.shutdown()


def test_a_new_dashboard_on_the_same_cluster_supersedes_the_old_one(step_cluster, dash_factory) -> None:
    c = step_cluster
    first = dash_factory(c, debounce=0.01)
    second = dash_factory(c, debounce=0.01)
    shown = first.index
    c.submit(SLEEP_JOB % 1)
    c.run_until_idle()
    until(lambda: second.index == c.index)
    assert first.index == shown, "the older one no longer follows"
    assert "not refreshing" in first.header.value
