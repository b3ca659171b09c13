"""The placement funnel and why-not matrix agree with the AllocMetric and draw under Agg."""

from __future__ import annotations

import io
import warnings

import pytest

from nomadlab import dev
from nomadlab.viz.funnel import (
    METRIC_ONLY_NOTE,
    draw_funnel,
    draw_why_not,
    placement_funnel,
    why_not,
    why_not_table,
)

JOB = '''
job "web" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "api" {
    task "srv" {
      driver = "exec"
      config { command = "/bin/sleep" }
      resources {
        cpu    = 100
        memory = 512
      }
    }
  }
}
'''


@pytest.fixture
def scenario():
    c = dev(clients=0, mode="step", seed=0)
    c.add_node("win", cpu=4000, memory=4096, attributes={"kernel.name": "windows"})
    c.add_node("tiny", cpu=4000, memory=256)
    c.add_node("n1", cpu=4000, memory=4096)
    c.add_node("n2", cpu=4000, memory=4096)
    ev = c.submit(JOB)
    c.run_until_idle()
    yield c, ev.id
    c.shutdown()


def _stages(g, kind):
    return {n: d for n, d in g.nodes(data=True) if d["kind"] == kind}


def test_funnel_counts_match_alloc_metric(scenario):
    c, eval_id = scenario
    g = placement_funnel(c, eval_id)
    metric = g.graph["metric"]
    assert g.graph["source"] == "trace" and g.graph["note"] == ""
    assert metric == c.eval(eval_id).trace.placements[0].metric()
    assert g.nodes["candidates"]["count"] == metric.nodes_evaluated == 4
    filters = _stages(g, "filter-step")
    assert list(filters) == ["filter-step:constraint"]
    assert filters["filter-step:constraint"]["count"] == metric.nodes_filtered == 1
    assert filters["filter-step:constraint"]["reasons"] == metric.constraint_filtered
    exhausted = _stages(g, "exhausted")
    assert {d["dimension"]: d["count"] for d in exhausted.values()} == \
        metric.dimension_exhausted == {"memory": 1}
    assert g.nodes["scored"]["count"] >= 1
    assert g.nodes["scored"]["count"] == len(metric.score_meta_data)
    winner = g.nodes["winner"]
    assert winner["kind"] == "winner" and winner["node_name"] in ("n1", "n2")
    records = {d["node_name"]: (d["outcome"], d["reason"]) for _, d in _stages(g, "node").items()}
    assert records["win"] == ("filtered", "${attr.kernel.name} = linux")
    assert records["tiny"] == ("exhausted", "memory")
    assert records[winner["node_name"]][0] == "chosen"
    assert ("winner", f"node:{winner['node_id']}") in g.edges


def test_why_not_rows_for_every_explained_node(scenario):
    c, eval_id = scenario
    trace = c.explain(eval_id)
    rows = why_not(trace)
    assert rows.note == ""
    assert {r["node"] for r in rows} == {n.node_name for n in trace.placements[0].nodes} == \
        {"win", "tiny", "n1", "n2"}
    order = ["computed-class", "constraint", "drivers", "host-volumes", "network-mode",
             "distinct_hosts", "distinct_property", "resources"]
    assert rows.steps == sorted(rows.steps, key=order.index)
    assert {"constraint", "resources"} <= set(rows.steps)
    by = {r["node"]: r for r in rows}
    assert by["win"]["cells"]["constraint"] == "filtered"
    assert by["win"]["reasons"]["constraint"] == "${attr.kernel.name} = linux"
    assert by["win"]["cells"]["resources"] == "not checked"
    assert by["tiny"]["cells"]["constraint"] in ("passed", "cached")
    assert by["tiny"]["cells"]["resources"] == "exhausted"
    assert by["tiny"]["reasons"]["resources"] == "memory"
    for name in ("n1", "n2"):
        assert by[name]["cells"]["resources"] == "passed"
        assert set(by[name]["cells"].values()) <= {"passed", "cached", "not checked"}
        assert by[name]["norm_score"] > 0 and by[name]["scores"]["binpack"] > 0
    assert by["win"]["norm_score"] is None
    assert [by[n]["outcome"] for n in ("n1", "n2")].count("chosen") == 1
    assert "binpack" in rows.rankers
    assert rows.rule.startswith("final score = mean of the appended scores: binpack")
    # The agent plus eval ID reads the evaluation's own trace: the same verdicts.
    own = {r["node"]: r["outcome"] for r in why_not(c, eval_id)}
    assert own == {n: r["outcome"] for n, r in by.items() if n in own}


def test_why_not_table_html_and_text(scenario):
    c, eval_id = scenario
    table = why_not_table(c, eval_id)
    assert table.html.startswith("<table>") and "&lt;" not in table.text
    assert "exhausted: memory" in table.text and "final score = mean" in table.text
    assert "${attr.kernel.name} = linux" in table.html
    assert table._repr_html_() == table.html and str(table) == table.text


def test_alloc_metric_only_path(scenario):
    c, eval_id = scenario
    alloc = next(a for a in c.allocs("web") if a.eval_id == eval_id)
    full = placement_funnel(c, eval_id)
    for source in (alloc, alloc.metrics, alloc.metrics.to_api()):
        g = placement_funnel(source)
        assert g.graph["source"] == "metric" and g.graph["note"] == METRIC_ONLY_NOTE
        for stage in ("candidates", "scored"):
            assert g.nodes[stage]["count"] == full.nodes[stage]["count"]
        assert g.nodes["filter-step:"]["count"] == 1
        assert g.nodes["exhausted:memory"]["count"] == 1
        rows = why_not(source)
        assert rows.note == METRIC_ONLY_NOTE and rows.steps == []
        assert len(rows) == len(alloc.metrics.score_meta_data)
        assert METRIC_ONLY_NOTE in why_not_table(source).text
    assert placement_funnel(alloc).nodes["winner"]["node_id"] == alloc.node_id


def test_figures_render_to_png_under_agg(scenario):
    c, eval_id = scenario
    alloc = next(a for a in c.allocs("web") if a.eval_id == eval_id)
    explained = c.explain(eval_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = [draw_funnel(c, eval_id), draw_why_not(c, eval_id), draw_funnel(explained),
                   draw_why_not(explained), draw_funnel(alloc), draw_why_not(alloc.metrics)]
        for fig in figures:
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            assert buf.getvalue().startswith(b"\x89PNG")
