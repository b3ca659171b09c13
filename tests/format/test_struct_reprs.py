"""Structs show as the CLI documents in a notebook (HTML) and in IPython (text)."""

from __future__ import annotations

import copy

from IPython.lib.pretty import pretty

import nomadlab as nl
from nomadlab.structs.trace import EvalTrace
from nomadlab.structs import AllocMetric, Evaluation

SPEC = """
job "web" {
  group "cache" {
    count = 2
    task "redis" {
      driver = "exec"
      config { command = "/bin/sleep" }
    }
  }
}
"""


def test_job_repr_lists_groups_and_keeps_equality() -> None:
    job = nl.parse_job(SPEC)
    html = job._repr_html_()
    assert "<table" in html and "cache" in html and "redis" in html
    text = pretty(job)
    assert text.startswith("ID          = web\n")
    assert "Task Group  Count  Tasks  Drivers\ncache       2      redis  exec" in text
    assert nl.Job.from_api(job.to_api()) == job and copy.deepcopy(job) == job


def test_evaluation_repr_is_eval_status() -> None:
    ev = Evaluation(id="f7c1bd87-aaaa", job_id="web", status="blocked", type="service",
                    triggered_by="queued-allocs",
                    failed_tg_allocs={"cache": AllocMetric(nodes_evaluated=1, nodes_exhausted=1,
                                                           dimension_exhausted={"memory": 1})})
    text = pretty(ev)
    assert "Placement Failures = true" in text
    assert '  * Dimension "memory" exhausted on 1 nodes' in text
    assert "Failed Placements" in ev._repr_html_()


def test_alloc_and_node_reprs_from_a_running_agent() -> None:
    with nl.dev(mode="step") as c:
        c.submit(SPEC.replace("count = 2", "count = 1"))
        c.run_until_idle()
        alloc = c.allocs("web")[0]
        assert pretty(alloc).startswith(f"ID                  = {alloc.id[:8]}\n")
        assert "Task &quot;redis&quot; is" in alloc._repr_html_()
        node = c.nodes()[0]
        assert f"Name          = {node.name}" in pretty(node)
        assert "Allocations" not in pretty(node)  # a node struct alone knows no allocations
        trace = c.eval(alloc.eval_id).trace
        assert isinstance(trace, EvalTrace) and pretty(trace) == str(trace)


def test_a_plan_shows_as_nomad_job_plan_prints_it() -> None:
    with nl.dev(clients=0, mode="step") as c:
        c.add_node("a", cpu=1000, memory=1024)
        plan = c.plan(SPEC)
        assert plan["Annotations"]["DesiredTGUpdates"]["cache"]["Place"] == 2  # still a dict
        text = pretty(plan)
        assert text.startswith('+ Job: "web"\n+ Task Group: "cache" (2 create)')
        assert "Scheduler dry-run:\n- All tasks successfully allocated." in text
        assert "Trace" not in text
        html = plan._repr_html_()
        assert "Scheduler dry-run:" in html and "2 create" in html
        too_big = c.plan(SPEC.replace("count = 2", "count = 200"))
        assert "WARNING: Failed to place all allocations." in pretty(too_big)


def test_a_deployment_shows_as_nomad_deployment_status_prints_it() -> None:
    from nomadlab.structs import Deployment, DeploymentState
    d = Deployment(id="8c1b6f0e-1111-2222-3333-444455556666", job_id="web", job_version=3,
                   status="running", status_description="Deployment is running",
                   task_groups={"cache": DeploymentState(desired_total=3, placed_allocs=1)})
    assert pretty(d) == ("ID          = 8c1b6f0e\nJob ID      = web\nJob Version = 3\n"
                         "Status      = running\nDescription = Deployment is running\n\n"
                         "Deployed\nTask Group  Desired  Placed  Healthy  Unhealthy\n"
                         "cache       3        1       0        0")
    assert "<table" in d._repr_html_() and "Deployed" in d._repr_html_()
