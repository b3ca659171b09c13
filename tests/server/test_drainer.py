"""Draining nodes with Nomad's drainer: ``migrate.max_parallel`` at a time while the
replacements turn healthy (the simulated clients' health tracker decides, with the
group's ``migrate`` block), batch allocs wait for the deadline, system allocs go last or
stay with ``ignore_system``, and the drain completes by itself."""

from __future__ import annotations

import time
from typing import Callable, Iterator

import pytest

import nomadlab as nl
from nomadlab.agent import Agent
from nomadlab.server.drainer import DRAIN_COMPLETE
from nomadlab.structs.duration import SECOND


def service(count: int = 3, max_parallel: int = 1, job_id: str = "web") -> str:
    return f'''job "{job_id}" {{
  datacenters = ["dc1"]
  group "api" {{
    count = {count}
    update {{ max_parallel = 0 }}
    migrate {{
      max_parallel     = {max_parallel}
      health_check     = "task_states"
      min_healthy_time = "100ms"
    }}
    task "srv" {{
      driver = "exec"
      config {{ command = "sleep" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


def other(kind: str, job_id: str) -> str:
    return f'''job "{job_id}" {{
  datacenters = ["dc1"]
  type = "{kind}"
  group "g" {{
    task "t" {{
      driver = "exec"
      config {{ command = "sleep" }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}'''


@pytest.fixture
def c() -> Iterator[Agent]:
    agent = nl.dev(clients=0, mode="step", seed=9)
    yield agent
    agent.shutdown()


def until(c: Agent, what: Callable[[], bool], timeout: float = 30) -> None:
    """Step the server whenever the state changes until ``what`` holds."""
    end = time.monotonic() + timeout
    while True:
        c.run_until_idle()
        if what():
            return
        if time.monotonic() > end:
            raise TimeoutError("the condition never held")
        c.wait_for_index(c.index, timeout=0.2)


def healthy(c: Agent, job_id: str = "web") -> bool:
    live = [a for a in c.allocs(job_id) if a.desired_status == "run"]
    return bool(live) and all(a.deployment_status is not None and a.deployment_status.healthy
                              for a in live)


def migrations_per_pass(c: Agent) -> list[int]:
    """How many allocations each drain pass marked (one transaction each)."""
    return [sum(1 for e in events if e.topic == "Allocation")
            for _, events in c.server.state.history()
            if events and events[0].type == "AllocationUpdateDesiredStatus"]


def test_a_drain_migrates_max_parallel_at_a_time_and_completes(c: Agent) -> None:
    a = c.add_node("a")
    c.submit(service(count=3))
    until(c, lambda: healthy(c))
    c.add_node("b")
    node = c.drain(a.id)
    assert node.drain_strategy is not None and node.events[-1].message == \
        "Node drain strategy set"
    until(c, lambda: c.node(a.id).drain_strategy is None)
    assert migrations_per_pass(c) == [1, 1, 1], "one at a time, each after a healthy one"
    assert c.node(a.id).events[-1].message == DRAIN_COMPLETE
    assert c.node(a.id).scheduling_eligibility == "ineligible"
    live = [x for x in c.allocs("web") if x.desired_status == "run"]
    assert {x.node_name for x in live} == {"b"} and len(live) == 3
    moved = [x for x in c.allocs("web") if x.node_name == "a"]
    assert all(x.desired_description == "alloc is being migrated" for x in moved)
    assert [e.triggered_by for e in c.evals("web")].count("node-drain") == 3


def test_max_parallel_two_marks_two_at_once(c: Agent) -> None:
    a = c.add_node("a")
    c.submit(service(count=4, max_parallel=2))
    until(c, lambda: healthy(c))
    c.add_node("b")
    c.drain(a.id)
    until(c, lambda: c.node(a.id).drain_strategy is None)
    passes = migrations_per_pass(c)
    assert passes[0] == 2 and max(passes) == 2 and sum(passes) == 4, passes


def test_nothing_moves_until_the_allocs_have_a_health_verdict(c: Agent) -> None:
    """Nomad counts only allocs with health: none yet, so nothing is marked."""
    a = c.add_node("a")
    c.add_node("b")
    c.submit(service(count=2).replace('min_healthy_time = "100ms"',
                                      'min_healthy_time = "1h"\n healthy_deadline = "2h"'))
    c.run_until_idle()
    c.drain(a.id)
    c.run_until_idle()
    assert migrations_per_pass(c) == []
    assert c.node(a.id).drain_strategy is not None


def test_system_allocs_go_last_and_stay_with_ignore_system(c: Agent) -> None:
    a = c.add_node("a")
    c.submit(service(count=1))
    c.submit(other("system", "agentd"))
    until(c, lambda: healthy(c))
    c.add_node("b")
    c.server.drain_node(a.id, ignore_system=True)
    until(c, lambda: c.node(a.id).drain_strategy is None)
    on_a = [x for x in c.allocs("agentd") if x.node_id == a.id]
    assert [x.desired_status for x in on_a] == ["run"], "-ignore-system leaves it running"
    b = c.add_node("c")
    until(c, lambda: any(x.node_id == b.id and x.client_status == "running"
                         for x in c.allocs("agentd")))
    c.server.drain_node(b.id)
    until(c, lambda: c.node(b.id).drain_strategy is None)
    on_c = [x for x in c.allocs("agentd") if x.node_id == b.id]
    assert [x.desired_status for x in on_c] == ["stop"], "system allocs go once alone"


def test_batch_allocs_wait_for_the_deadline_then_everything_goes(c: Agent) -> None:
    now = [1_800_000_000 * SECOND]
    c.server.clock = lambda: now[0]
    a = c.add_node("a")
    c.submit(other("batch", "crunch"))
    c.run_until_idle()
    c.add_node("b")
    c.server.drain_node(a.id, deadline=60 * SECOND)
    c.run_until_idle()
    (job_alloc,) = c.allocs("crunch")
    assert not job_alloc.desired_transition.migrate, "batch runs on until the deadline"
    now[0] += 61 * SECOND
    c.run_until_idle()
    assert c.alloc(job_alloc.id).desired_transition.migrate
    assert c.node(a.id).drain_strategy is None
    assert c.node(a.id).events[-1].message == DRAIN_COMPLETE


def test_a_forced_drain_marks_everything_at_once(c: Agent) -> None:
    a = c.add_node("a")
    c.submit(service(count=3))
    c.run_until_idle()
    c.add_node("b")
    c.server.drain_node(a.id, deadline=-1)
    c.run_until_idle()
    assert migrations_per_pass(c) == [3]
    assert c.node(a.id).drain_strategy is None
