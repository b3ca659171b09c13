"""Scenarios a Nomad operator recognises, run through the whole server in step mode.

Each asserts placements, the metrics Nomad would show, and the evaluation chain.
"""

from __future__ import annotations

import time

import pytest

from nomadlab.agent import Agent, dev
from nomadlab.structs.duration import SECOND


def job_hcl(job_id: str = "web", count: int = 1, cpu: int = 500, memory: int = 256,
            group_extra: str = "", job_extra: str = "", task_extra: str = "",
            type_: str = "service", config: str = 'command = "sleep"') -> str:
    return f'''job "{job_id}" {{
  datacenters = ["dc1"]
  type = "{type_}"
  {job_extra}
  group "api" {{
    count = {count}
    {group_extra}
    task "srv" {{
      driver = "exec"
      config {{
        {config}
      }}
      {task_extra}
      resources {{
        cpu    = {cpu}
        memory = {memory}
      }}
    }}
  }}
}}'''


@pytest.fixture
def c() -> Agent:
    agent = dev(clients=0, mode="step", seed=1)
    yield agent
    agent.shutdown()


def live(c: Agent, job_id: str = "web") -> list:
    return [a for a in c.allocs(job_id) if a.desired_status == "run"]


def by_node(c: Agent, job_id: str = "web") -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in live(c, job_id):
        counts[a.node_name] = counts.get(a.node_name, 0) + 1
    return counts


def test_binpack_fills_the_fullest_node_first(c: Agent) -> None:
    c.add_node("a", cpu=4000, memory=4096)
    c.add_node("b", cpu=4000, memory=4096)
    c.submit(job_hcl(job_id="seed", count=1, cpu=2000, memory=2048))
    c.run_until_idle()
    (seeded,) = by_node(c, "seed")
    c.submit(job_hcl(count=1, cpu=1000, memory=1024))
    c.run_until_idle()
    assert by_node(c) == {seeded: 1}, "bin-packing puts the new alloc on the busier node"
    (alloc,) = live(c)
    scores = {m.node_id: m.scores["binpack"] for m in alloc.metrics.score_meta_data}
    assert scores[alloc.node_id] == max(scores.values())
    # Nomad's formula: free cpu/mem fractions after placing 3000/3072 of 4000/4096
    expected = (20 - (10 ** (1000 / 4000) + 10 ** (1024 / 4096))) / 18
    assert scores[alloc.node_id] == pytest.approx(expected)


def test_spread_algorithm_balances_nodes(c: Agent) -> None:
    c.set_scheduler_algorithm("spread")
    for name in "abc":
        c.add_node(name)
    c.submit(job_hcl(count=6))
    c.run_until_idle()
    assert sorted(by_node(c).values()) == [2, 2, 2]


def test_constraint_filters_are_counted_as_nomad_counts_them(c: Agent) -> None:
    c.add_node("linux-1")
    c.add_node("win-1", attributes={"kernel.name": "windows"})
    c.add_node("win-2", attributes={"kernel.name": "windows"})
    ev = c.submit(job_hcl(count=1, job_extra='constraint {\n attribute = "${attr.kernel.name}"\n'
                                             ' value = "windows"\n }'))
    c.run_until_idle()
    (alloc,) = live(c)
    assert alloc.node_name.startswith("win")
    metric = alloc.metrics
    assert metric.nodes_filtered == metric.constraint_filtered.get(
        "${attr.kernel.name} = windows", 0) + metric.constraint_filtered.get(
        "computed class ineligible", 0)
    trace = c.eval(ev.id).trace
    explained = c.explain(ev.id)
    linux = explained.placements[0].node("linux-1")
    assert linux.outcome == "filtered" and linux.reason == "${attr.kernel.name} = windows"
    assert "linux-1" in trace.why_not("linux-1") or "never reached" in trace.why_not("linux-1")


def test_memory_exhausted_blocks_then_a_new_node_unblocks(c: Agent) -> None:
    c.add_node("small", cpu=4000, memory=1024)
    ev = c.submit(job_hcl(count=3, memory=512))
    c.run_until_idle()
    done = c.eval(ev.id)
    assert done.status == "complete"
    assert len(live(c)) == 2
    metric = done.failed_tg_allocs["api"]
    assert metric.nodes_exhausted == 1 and metric.dimension_exhausted == {"memory": 1}
    assert metric.coalesced_failures == 0 and done.queued_allocations == {"api": 1}
    blocked = c.eval(done.blocked_eval)
    assert blocked.status == "blocked" and blocked.previous_eval == ev.id
    why = done.trace.why_not("small")
    assert "memory" in why and "asked 512" in why

    c.add_node("more", cpu=4000, memory=4096)
    c.run_until_idle()
    assert any(r.stage == "eval-unblocked" and r.eval_id == blocked.id and
               'node "more" joined' in r.detail for r in c.server.log)
    assert len(live(c)) == 3
    assert c.eval(blocked.id).status == "complete"


def test_distinct_hosts_with_too_few_nodes(c: Agent) -> None:
    c.add_node("a")
    c.add_node("b")
    ev = c.submit(job_hcl(count=3, group_extra="constraint { distinct_hosts = true }"))
    c.run_until_idle()
    assert sorted(by_node(c).values()) == [1, 1]
    metric = c.eval(ev.id).failed_tg_allocs["api"]
    assert metric.constraint_filtered == {"distinct_hosts": 2}


def test_system_job_follows_new_nodes(c: Agent) -> None:
    c.add_node("a")
    c.add_node("b")
    c.submit(job_hcl(job_id="agent", type_="system", memory=64))
    c.run_until_idle()
    assert by_node(c, "agent") == {"a": 1, "b": 1}
    c.add_node("c")
    c.run_until_idle()
    assert by_node(c, "agent") == {"a": 1, "b": 1, "c": 1}


def test_count_up_fills_lowest_indexes_and_down_stops_highest(c: Agent) -> None:
    c.add_node("a")
    c.submit(job_hcl(count=2))
    c.run_until_idle()
    c.submit(job_hcl(count=4))
    c.run_until_idle()
    assert sorted(a.name for a in live(c)) == [f"web.api[{i}]" for i in range(4)]
    c.submit(job_hcl(count=1))
    c.run_until_idle()
    assert [a.name for a in live(c)] == ["web.api[0]"]


def test_resources_change_is_destructive_kill_timeout_change_in_place(c: Agent) -> None:
    """Nomad's tasksUpdated: resources (and meta) replace allocations; kill_timeout does not."""
    c.add_node("a")
    c.submit(job_hcl(count=2))
    c.run_until_idle()
    first = {a.id for a in live(c)}
    c.submit(job_hcl(count=2, task_extra='kill_timeout = "20s"'))
    c.run_until_idle()
    assert {a.id for a in live(c)} == first, "a kill_timeout change updates in place"
    assert all(a.job.version == 1 for a in live(c))
    # max_parallel 2: both are replaced at once, without waiting for a healthy one.
    c.submit(job_hcl(count=2, cpu=600, task_extra='kill_timeout = "20s"',
                     group_extra="update { max_parallel = 2 }"))
    c.run_until_idle()
    assert not first & {a.id for a in live(c)}, "a resources change replaces the allocs"
    assert len(live(c)) == 2


def test_node_down_marks_allocs_lost_and_replaces_them(c: Agent) -> None:
    for name in "abc":
        c.add_node(name)
    c.submit(job_hcl(count=2, group_extra="constraint { distinct_hosts = true }"))
    c.run_until_idle()
    victim = live(c)[0]
    c.node_down(victim.node_name)
    c.run_until_idle()
    lost = c.alloc(victim.id)
    assert lost.desired_status == "stop" and lost.client_status == "lost"
    assert lost.desired_description == "alloc is lost since its node is down"
    replacement = next(a for a in live(c) if a.name == victim.name)
    assert replacement.previous_allocation == victim.id
    assert replacement.node_name not in (victim.node_name,) + tuple(
        a.node_name for a in live(c) if a.id != replacement.id)
    node_eval = next(e for e in c.evals("web") if e.triggered_by == "node-update")
    assert node_eval.node_id == victim.node_id and node_eval.status == "complete"


def test_failed_alloc_is_rescheduled_after_nomads_delay(c: Agent) -> None:
    """A mock task exits 1 with no restarts allowed: the alloc fails, and the server
    replaces it 30s later (a service job's first reschedule delay), away from its node."""
    now = [10**18]
    c.server.clock = lambda: now[0]
    c.add_node("a")
    c.add_node("b")
    c.submit(job_hcl(count=1, group_extra='restart {\n attempts = 0\n mode = "fail"\n }',
                     config='run_for = "20ms"\n exit_code = 1'))
    c.run_until_idle()
    (alloc,) = live(c)
    c.wait(alloc.id, status="failed", timeout=10)
    # The client's health verdict for the deployment follows: the deployment watcher then
    # lets the failed allocation be rescheduled (its group has a progress deadline).
    index, deadline = c.index, time.monotonic() + 10
    while c.alloc(alloc.id).deployment_status is None or \
            c.alloc(alloc.id).deployment_status.healthy is not False:
        assert time.monotonic() < deadline, "no health verdict for the failed allocation"
        index = c.wait_for_index(index, timeout=1)
    events = [e.type for e in c.alloc(alloc.id).task_states["srv"].events]
    assert events[-3:] == ["Terminated", "Not Restarting", "Alloc Unhealthy"]
    c.run_until_idle()
    followups = [e for e in c.evals("web") if e.triggered_by == "alloc-failure" and e.wait_until]
    assert followups, "a delayed reschedule creates a follow-up evaluation"
    assert [a.id for a in live(c)] == [alloc.id], "nothing replaces it before the delay"
    now[0] += 31 * SECOND
    c.run_until_idle()
    replacement = next(a for a in live(c) if a.previous_allocation == alloc.id)
    assert replacement.reschedule_tracker.events[-1].prev_alloc_id == alloc.id
    assert replacement.node_id != alloc.node_id, "the reschedule penalty steers it away"


def test_same_seed_same_ids_and_placements() -> None:
    def run() -> list[tuple[str, str, str]]:
        with dev(clients=0, mode="step", seed=42) as agent:
            for name in "abcd":
                agent.add_node(name)
            agent.submit(job_hcl(count=5))
            agent.run_until_idle()
            return sorted((a.id, a.name, a.node_name) for a in agent.allocs("web"))
    assert run() == run()


def test_explain_constraint_resolves_every_node(c: Agent) -> None:
    c.add_node("linux-1")
    c.add_node("win-1", attributes={"kernel.name": "windows"})
    results = {r.node_name: r for r in c.explain_constraint("${attr.kernel.name} = linux")}
    assert results["linux-1"].passed and not results["win-1"].passed
    assert results["win-1"].lvalue == "windows"
    missing = c.explain_constraint("${meta.rack} = r1")
    assert all(r.lvalue is None and not r.passed for r in missing)


def test_auto_mode_places_without_stepping() -> None:
    with dev(clients=2, mode="auto", seed=3) as agent:
        agent.submit(job_hcl(count=3))
        agent.run_until_idle(timeout=10)
        assert len([a for a in agent.allocs("web") if a.desired_status == "run"]) == 3


def test_static_port_collision_names_the_allocation_holding_it(c: Agent) -> None:
    c.add_node("a")
    port = 'network {\n port "http" { static = 8080 }\n }'
    first = c.submit(job_hcl(job_id="first", group_extra=port))
    c.run_until_idle()
    (holder,) = live(c, "first")
    ev = c.submit(job_hcl(job_id="second", group_extra=port))
    c.run_until_idle()
    metric = c.eval(ev.id).failed_tg_allocs["api"]
    assert metric.dimension_exhausted == {"network: reserved port collision http=8080": 1}
    why = c.eval(ev.id).trace.why_not("a")
    assert "reserved port collision http=8080" in why and holder.id[:8] in why
    assert c.eval(first.id).status == "complete"


def test_draining_a_node_migrates_its_allocs(c: Agent) -> None:
    c.add_node("a")
    c.submit(job_hcl(count=2))
    c.run_until_idle()
    assert by_node(c) == {"a": 2}
    c.add_node("b")
    c.drain("a", deadline=-1)  # -force: every allocation at once
    c.run_until_idle()
    assert by_node(c) == {"b": 2}
    migrated = [a for a in c.allocs("web") if a.node_name == "a"]
    assert all(a.desired_status == "stop" and a.desired_description == "alloc is being migrated"
               for a in migrated)
    assert {a.previous_allocation for a in live(c)} == {a.id for a in migrated}
