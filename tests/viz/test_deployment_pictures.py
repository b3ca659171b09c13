"""Deployments in pictures: the job graph links versions to their deployments and those to
their canaries; the deployment timeline replays allocations per version with health
marks.  One release history, stepped on simulated nodes with health set by hand:
v0 healthy, v1 a promoted canary, v2 a canary found unhealthy and rolled back to v1."""

from __future__ import annotations

import io
import warnings
from typing import Iterator

import matplotlib
import pytest
from matplotlib.text import Text

import nomadlab as nl
from nomadlab import viz

matplotlib.use("Agg")

JOB = """
job "web" {
  datacenters = ["dc1"]
  group "api" {
    count = 3
    update {
      health_check = "manual"
      max_parallel = 1
      %(update)s
    }
    task "srv" {
      driver = "exec"
      config { command = "sleep" }
      env { RELEASE = "%(release)s" }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""

CANARY = "canary = 1\nauto_revert = true"


def judge(c: nl.Agent, healthy: bool = True) -> None:
    """Give every running allocation of the latest deployment nobody judged its verdict."""
    d = c.latest_deployment("web")
    ids = [a.id for a in c.deployment_allocations(d.id) if a.desired_status == "run"
           and (a.deployment_status is None or a.deployment_status.healthy is None)]
    if ids and d.status == "running":
        c.set_alloc_health(d.id, ids if healthy else [], [] if healthy else ids)
    c.run_until_idle()


@pytest.fixture(scope="module")
def releases() -> Iterator[nl.Agent]:
    with nl.dev(clients=0, mode="step", seed=5) as c:
        c.add_node("a", cpu=4000, memory=4096)
        c.add_node("b", cpu=4000, memory=4096)
        c.submit(JOB % {"release": "0", "update": ""})
        c.run_until_idle()
        judge(c)
        c.submit(JOB % {"release": "1", "update": CANARY})
        c.run_until_idle()
        judge(c)
        c.promote_deployment(c.latest_deployment("web").id)
        c.run_until_idle()
        while c.latest_deployment("web").status == "running":
            judge(c)
        c.submit(JOB % {"release": "2", "update": CANARY})
        c.run_until_idle()
        judge(c, healthy=False)
        yield c


def by_version(c: nl.Agent) -> dict[int, nl.Deployment]:
    return {d.job_version: d for d in c.deployments("web")}


def test_the_release_history_is_what_the_pictures_show(releases: nl.Agent) -> None:
    d = by_version(releases)
    assert [d[v].status for v in (0, 1, 2)] == ["successful", "successful", "failed"]
    assert d[3].job_version == 3 and releases.job("web").version == 3  # the rollback


def test_job_graph_links_versions_deployments_and_canaries(releases: nl.Agent) -> None:
    c = releases
    g = viz.job_graph(c, "web")
    d = by_version(c)
    deployments = {k: v for k, v in g.nodes(data=True) if v["kind"] == "deployment"}
    assert {v["id"] for v in deployments.values()} == {x.id for x in d.values()}
    assert {v["layer"] for v in deployments.values()} == {1}
    for version, deployment in d.items():
        key = f"deployment:{deployment.id}"
        assert g.nodes[key]["status"] == deployment.status
        assert g.edges[f"job-version:web@{version}", key]["relation"] == "deployed"
    promoted_canary, = d[1].task_groups["api"].placed_canaries
    failed_canary, = d[2].task_groups["api"].placed_canaries
    assert g.edges[f"deployment:{d[1].id}", f"alloc:{promoted_canary}"]["relation"] == "promoted"
    assert g.edges[f"deployment:{d[2].id}", f"alloc:{failed_canary}"]["relation"] == "canary"
    assert g.nodes[f"alloc:{failed_canary}"]["canary"] is True
    assert g.nodes[f"alloc:{failed_canary}"]["label"].endswith(" canary")
    from_json = viz.job_graph({"Jobs": [v.to_api() for v in c.job_versions("web")],
                               "Evaluations": [e.to_api() for e in c.evals("web")],
                               "Allocations": [a.to_api() for a in c.allocs("web")],
                               "Nodes": [n.to_api() for n in c.nodes()],
                               "Deployments": [x.to_api() for x in c.deployments("web")]},
                              "web")
    assert set(from_json.edges(data="relation")) == set(g.edges(data="relation"))


def readable(fig) -> bytes:
    """The PNG, once no text in the figure is smaller than 9 pt and nothing warned."""
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_text().strip() and t.get_fontsize() < 9]
    assert not small, small
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    return buffer.getvalue()


def test_the_job_graph_draws_deployments_readably(releases: nl.Agent) -> None:
    fig = viz.draw(viz.job_graph(releases, "web"))
    assert fig.get_size_inches()[0] == 9
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"successful", "failed", "canary", "promoted"} <= set(legend)
    assert "evaluations, deployments" in fig.axes[0].get_title()
    readable(fig)


def test_deployment_timeline_replays_versions_and_health(releases: nl.Agent) -> None:
    c = releases
    d = by_version(c)
    t = viz.deployment_timeline(c, "web")
    statuses = {x.job_version: [s.status for s in t.spans if s.deployment_id == x.id]
                for x in d.values()}
    assert statuses[1] == ["running", "successful"]
    assert statuses[2] == ["running", "failed"]
    assert {b.alloc_id for b in t.bars} == {a.id for a in c.allocs("web")}
    failed_canary, = d[2].task_groups["api"].placed_canaries
    marks = {alloc: healthy for _x, alloc, healthy in t.health}
    assert marks[failed_canary] is False
    assert sum(marks.values()) == len(marks) - 1 == 6   # 3 of v0, the v1 canary and 2 more
    for x, alloc, _healthy in t.health:  # each mark sits on a bar of its allocation
        assert any(b.alloc_id == alloc and b.start <= x <= b.end for b in t.bars)
    assert all(b.canary for b in t.bars if b.alloc_id == failed_canary)
    fig = viz.draw_deployment_timeline(t, "web")
    assert fig.get_size_inches()[0] == 9
    labels = [tick.get_text() for tick in fig.axes[1].get_yticklabels()]
    assert any(label.startswith("v2  web.api[") and label.endswith(" canary") for label in labels)
    readable(fig)


def test_without_state_history_the_timeline_uses_the_times_it_has(releases: nl.Agent) -> None:
    c = releases
    data = {"Jobs": [v.to_api() for v in c.job_versions("web")],
            "Allocations": [a.to_api() for a in c.allocs("web")],
            "Nodes": [n.to_api() for n in c.nodes()],
            "Deployments": [x.to_api() for x in c.deployments("web")]}
    t = viz.deployment_timeline(data, "web")
    assert t.note.startswith("no state history")
    started = {a.id for a in c.allocs("web") if any(s.events for s in a.task_states.values())}
    assert {b.alloc_id for b in t.bars} == started
    readable(viz.draw_deployment_timeline(t, "web"))
