"""Job graph, topology and diff builders, through the agent and through Nomad's API JSON."""

from __future__ import annotations

import io
import warnings

import matplotlib
import pytest

import nomadlab as nl
from nomadlab import viz

matplotlib.use("Agg")

JOB = """
job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
      resources {
        cpu    = %d
        memory = %d
      }
    }
  }
}
"""


def job_hcl(count: int, cpu: int = 100, memory: int = 64) -> str:
    return JOB % (count, cpu, memory)


@pytest.fixture()
def scenario():
    """3 nodes, web x4, then web x5 (a new version), then node "a" goes down."""
    c = nl.dev(clients=0, mode="step", seed=0)
    try:
        for name in ("a", "b", "c"):
            c.add_node(name, cpu=4000, memory=4096)
        c.submit(job_hcl(4))
        c.run_until_idle()
        first = c.index
        c.submit(job_hcl(5))
        c.run_until_idle()
        c.node_down("a")
        c.run_until_idle()
        yield c, first
    finally:
        c.shutdown()


def of_kind(g, kind):
    return [d for _, d in g.nodes(data=True) if d["kind"] == kind]


def relations(g):
    return {r for _, _, r in g.edges(data="relation")}


def test_job_graph_links_job_versions_evals_allocs_and_nodes(scenario) -> None:
    c, _ = scenario
    g = viz.job_graph(c, "web")
    counts = viz.kind_counts(g)
    assert counts["job"] == 1
    assert counts["job-version"] == 2
    assert counts["eval"] == len(c.evals("web")) == 3
    assert counts["alloc"] == len(c.allocs("web")) == 7
    assert counts["node"] == 3
    assert {"version", "triggered", "created", "placed-on", "replaces"} <= relations(g)
    for _, d in g.nodes(data=True):
        assert {"kind", "id", "label", "status", "layer"} <= set(d)
    assert {d["layer"] for d in of_kind(g, "eval")} == {1}
    assert {d["layer"] for d in of_kind(g, "alloc")} == {2}
    assert {d["layer"] for d in of_kind(g, "node")} == {3}
    assert {d["label"]: d["status"] for d in of_kind(g, "node")} == {
        "a": "down", "b": "ready", "c": "ready"}
    assert sorted(d["status"] for d in of_kind(g, "alloc")).count("lost") == 2
    (job_node,) = of_kind(g, "job")
    assert job_node["status"] == c.job("web").status == "running"   # the job now, not v0
    triggers = sorted(d["triggered_by"] for d in of_kind(g, "eval"))
    assert triggers == ["job-register", "job-register", "node-update"]
    for u, v, r in g.edges(data="relation"):
        assert (g.nodes[u]["kind"], g.nodes[v]["kind"]) in {
            ("job", "job-version"), ("job-version", "taskgroup"), ("job-version", "eval"),
            ("eval", "alloc"), ("alloc", "node"), ("alloc", "alloc"), ("eval", "eval"),
            ("job-version", "deployment")}, r
    every_eval_triggered = {v for u, v, r in g.edges(data="relation") if r == "triggered"}
    assert every_eval_triggered == {f"eval:{e.id}" for e in c.evals("web")}


def test_replacements_after_node_down_point_at_the_lost_allocs(scenario) -> None:
    c, _ = scenario
    g = viz.job_graph(c, "web")
    replaces = [(u, v) for u, v, r in g.edges(data="relation") if r == "replaces"]
    assert len(replaces) == 2
    down = next(n.id for n in c.nodes() if n.name == "a")
    for new, old in replaces:
        assert g.nodes[old]["status"] == "lost" and g.nodes[old]["node_id"] == down
        assert g.nodes[new]["node_id"] != down
        creator = next(u for u, _, r in g.in_edges(new, data="relation") if r == "created")
        assert g.nodes[creator]["triggered_by"] == "node-update"


def api_json(state) -> dict:
    """What a Nomad API client would read, from one state (a snapshot: the simulated
    clients keep reporting while the test runs)."""
    return {"Jobs": [v.to_api() for j in state.jobs()
                     for v in state.job_versions(j.namespace, j.id)],
            "Evaluations": [e.to_api() for e in state.evals()],
            "Allocations": [a.to_api() for a in state.allocs()],
            "Nodes": [n.to_api() for n in state.nodes()],
            "Deployments": [d.to_api() for d in state.deployments()]}


def test_api_json_gives_the_same_graph(scenario) -> None:
    c, _ = scenario
    state = c.server.state.snapshot()
    from_agent = viz.job_graph(state, "web")
    from_json = viz.job_graph(api_json(state), "web")
    assert viz.kind_counts(from_json) == viz.kind_counts(from_agent)
    assert set(from_json.nodes) == set(from_agent.nodes)
    assert set(from_json.edges(data="relation")) == set(from_agent.edges(data="relation"))
    assert viz.topology(api_json(state)) == viz.topology(state)


def test_snapshot_at_an_index_gives_the_earlier_graph(scenario) -> None:
    c, first = scenario
    then = viz.job_graph(c, "web", index=first)
    assert viz.kind_counts(then)["job-version"] == 1
    assert viz.kind_counts(then)["eval"] == 1
    assert viz.kind_counts(then)["alloc"] == 4
    assert "replaces" not in relations(then)
    assert {d["status"] for d in of_kind(then, "node")} == {"ready"}
    assert then.graph["index"] == first


def test_diff_lists_added_stopped_and_updated(scenario) -> None:
    c, first = scenario
    d = viz.diff(c, first, c.index)
    before = {a.id for a in c.server.state.snapshot_at(first).allocs("web")}
    after = {a.id for a in c.allocs("web")}
    assert {e["id"] for e in d["added"]} == after - before
    assert len(d["added"]) == 3
    lost_from_before = {a.id for a in c.allocs("web") if a.id in before and
                        a.client_status == "lost"}
    assert {e["id"] for e in d["stopped"]} == lost_from_before
    assert d["updated"] and all(e["before"] != e["after"] for e in d["updated"])
    assert not ({e["id"] for e in d["updated"]} & {e["id"] for e in d["stopped"]})
    assert viz.diff(c, c.index, c.index)["added"] == []


def test_topology_sums_live_allocations_per_node(scenario) -> None:
    c, _ = scenario
    topo = {n["name"]: n for n in viz.topology(c)}
    assert set(topo) == {"a", "b", "c"}
    assert topo["a"]["allocs"] == []
    assert sum(len(n["allocs"]) for n in topo.values()) == 5
    assert all(n["cpu"] == 4000 and n["memory"] == 4096 for n in topo.values())
    assert all(a["cpu"] == 100 and a["memory"] == 64 and a["job_id"] == "web"
               for n in topo.values() for a in n["allocs"])


def test_more_than_forty_allocations_are_grouped_per_node_and_status() -> None:
    c = nl.dev(clients=0, mode="step", seed=1)
    try:
        for name in ("a", "b", "c"):
            c.add_node(name, cpu=4000, memory=4096)
        c.submit(job_hcl(45, cpu=20, memory=20))
        c.run_until_idle()
        g = viz.job_graph(c, "web")
        assert not of_kind(g, "alloc")
        groups = of_kind(g, "alloc-group")
        assert 1 <= len(groups) <= 3
        assert sum(d["count"] for d in groups) == 45
        created = [n for u, v, n in g.edges(data="count")
                   if g.nodes[u]["kind"] == "eval" and g.nodes[v]["kind"] == "alloc-group"]
        assert sum(created) == 45
        for f in (viz.draw(g), viz.draw_topology(c)):
            render(f)
    finally:
        c.shutdown()


def render(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")
    return buf.getvalue()


def test_every_drawing_renders_under_agg_without_warnings(scenario) -> None:
    c, first = scenario
    assert matplotlib.get_backend().lower() == "agg"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render(viz.draw(viz.job_graph(c, "web")))
        render(viz.draw(viz.job_graph(c, "web", index=first)))
        render(viz.draw(viz.job_graph(api_json(c.server.state), "web")))
        render(viz.draw_topology(c))
        render(viz.draw_diff(viz.diff(c, first, c.index)))


def test_layout_is_stable_when_the_job_is_drawn_again(scenario) -> None:
    from nomadlab.viz.draw import _stable_layout
    c, _ = scenario
    assert _stable_layout(viz.job_graph(c, "web")) == _stable_layout(
        viz.job_graph(api_json(c.server.state), "web"))


def test_a_blocked_eval_records_what_unblocked_it() -> None:
    import nomadlab as nl
    from nomadlab.viz import job_graph
    spec = ('job "big" {\n group "g" {\n count = 2\n task "t" {\n driver = "exec"\n'
            ' config { command = "x" }\n resources { memory = 3000 }\n }\n }\n}\n')
    with nl.dev(clients=0, mode="step", seed=2) as c:
        c.add_node("small", memory=4096)
        c.submit(spec)
        c.run_until_idle()
        c.add_node("more", memory=4096)
        c.run_until_idle()
        g = job_graph(c, "big")
        blocked = [d for _, d in g.nodes(data=True)
                   if d["kind"] == "eval" and d.get("triggered_by") == "queued-allocs"]
        assert len(blocked) == 1 and blocked[0]["status"] == "complete"
        assert blocked[0]["unblocked_by"] == 'node "more" joined'
        assert any(d["relation"] == "blocked-by" for _, _, d in g.edges(data=True))
