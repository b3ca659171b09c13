"""``c.plan(job)``: Nomad's job plan answer, with nothing committed."""

from __future__ import annotations

import dataclasses

import pytest

import nomadlab as nl
from nomadlab.agent import Agent
from test_scenarios import job_hcl


@pytest.fixture
def c() -> Agent:
    agent = nl.dev(clients=0, mode="step", seed=5)
    agent.add_node("a", memory=1024)
    yield agent
    agent.shutdown()


def test_plan_of_a_new_job_commits_nothing(c: Agent) -> None:
    index = c.index
    answer = c.plan(job_hcl(count=3, memory=512))
    assert answer["Annotations"]["DesiredTGUpdates"]["api"]["Place"] == 3
    assert answer["FailedTGAllocs"]["api"]["DimensionExhausted"] == {"memory": 1}
    assert answer["Diff"]["Type"] == "Added" and answer["JobModifyIndex"] == 0
    assert [e["Status"] for e in answer["CreatedEvals"]] == ["blocked"]
    assert c.index == index and not c.allocs() and not c.evals()


def test_what_if_with_edited_nodes(c: Agent) -> None:
    node = c.node("a")
    bigger = dataclasses.replace(node, node_resources=dataclasses.replace(
        node.node_resources, memory=nl.structs.NodeMemoryResources(memory_mb=4096)))
    assert c.plan(job_hcl(count=3, memory=512), nodes=[bigger])["FailedTGAllocs"] == {}
    assert c.plan(job_hcl(count=3, memory=512))["FailedTGAllocs"] != {}


def test_plan_of_a_change_shows_the_diff_and_destructive_updates(c: Agent) -> None:
    c.submit(job_hcl(count=2, cpu=100, memory=64))
    c.run_until_idle()
    answer = c.plan(job_hcl(count=2, cpu=200, memory=64))
    # The default update block rolls one allocation at a time (max_parallel 1), so Nomad's
    # plan says "1 create/destroy update, 1 ignore".
    assert answer["Annotations"]["DesiredTGUpdates"]["api"]["DestructiveUpdate"] == 1
    assert answer["Annotations"]["DesiredTGUpdates"]["api"]["Ignore"] == 1
    group = answer["Diff"]["TaskGroups"][0]
    assert group["Updates"] == {"create/destroy update": 1, "ignore": 1}
    (task,) = group["Tasks"]
    assert task["Annotations"] == ["forces create/destroy update"]
    (resources,) = task["Objects"]
    assert resources["Fields"] == [{"Type": "Edited", "Name": "CPU", "Old": "100", "New": "200",
                                    "Annotations": None}]
    unchanged = c.plan(job_hcl(count=2, cpu=100, memory=64))
    assert unchanged["Diff"]["Type"] == "None"
    assert unchanged["Annotations"]["DesiredTGUpdates"]["api"]["Ignore"] == 2


def test_explain_checks_every_node_and_why_not_answers_for_each(c: Agent) -> None:
    for i in range(12):
        c.add_node(f"extra-{i}")
    c.add_node("win", attributes={"kernel.name": "windows"})
    ev = c.submit(job_hcl(count=1, memory=64))
    c.run_until_idle()
    trace = c.eval(ev.id).trace
    (placement,) = trace.placements
    reached = {r.node_name for r in placement.nodes}
    assert len(reached) < 14, "Nomad's limit stops after a few scored nodes"
    unreached = next(n.name for n in c.nodes() if n.name not in reached)
    assert "never reached" in trace.why_not(unreached)
    full = c.explain(ev.id)
    assert {r.node_name for r in full.placements[0].nodes} == {n.name for n in c.nodes()}
    assert all(r.outcome in ("scored", "chosen", "filtered", "exhausted")
               for r in full.placements[0].nodes)
