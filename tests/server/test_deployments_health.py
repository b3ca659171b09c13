"""Deployments driven by the clients' own health verdicts (``health_check =
"task_states"``): a rolling update on simulated nodes, a canary whose task fails so the
deployment fails and auto-reverts, and a rolling update of real exec processes."""

from __future__ import annotations

import time
from typing import Callable

import nomadlab as nl
from nomadlab.agent import Agent
from nomadlab.structs import Deployment


def job_hcl(release: int, count: int = 3, update: str = "max_parallel = 1",
            config: str = 'command = "/bin/sleep"\n args = ["300"]') -> str:
    return f'''job "web" {{
  datacenters = ["dc1"]
  group "api" {{
    count = {count}
    update {{
      health_check     = "task_states"
      min_healthy_time = "100ms"
      healthy_deadline = "30s"
      {update}
    }}
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    task "srv" {{
      driver = "exec"
      config {{
        {config}
      }}
      env {{ RELEASE = "{release}" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


def until(c: Agent, what: Callable[[], bool], timeout: float = 60) -> None:
    """Wait for commits until ``what`` holds (auto mode: the worker moves things)."""
    end = time.monotonic() + timeout
    index = c.index
    while not what():
        if time.monotonic() > end:
            raise TimeoutError("the condition never held")
        index = c.wait_for_index(index, timeout=0.5)


def deployment(c: Agent, version: int) -> Deployment:
    return [d for d in c.deployments("web") if d.job_version == version][-1]


def finished(c: Agent, version: int) -> bool:
    found = [d for d in c.deployments("web") if d.job_version == version]
    return bool(found) and not found[-1].active()


def test_a_rolling_update_moves_on_as_simulated_tasks_turn_healthy() -> None:
    with nl.dev(clients=0, seed=21) as c:
        c.add_node("a", cpu=4000, memory=4096)
        c.submit(job_hcl(0))
        until(c, lambda: finished(c, 0))
        assert deployment(c, 0).status == "successful"
        c.submit(job_hcl(1))
        until(c, lambda: finished(c, 1))
        d = deployment(c, 1)
        assert (d.status, d.task_groups["api"].healthy_allocs) == ("successful", 3)
        live = [a for a in c.allocs("web") if a.desired_status == "run"]
        assert {a.job.version for a in live} == {1} and len(live) == 3
        assert all(a.deployment_status.healthy for a in live)
        assert [j.stable for j in c.job_versions("web")] == [True, True]


def test_a_failing_canary_fails_the_deployment_and_auto_reverts() -> None:
    with nl.dev(clients=0, seed=22) as c:
        c.add_node("a", cpu=4000, memory=4096)
        c.submit(job_hcl(0))
        until(c, lambda: finished(c, 0))
        # progress_deadline 0: the first unhealthy allocation fails the deployment
        # (with a deadline, Nomad would reschedule it and wait for the deadline first)
        c.submit(job_hcl(1, update='max_parallel = 1\n canary = 1\n auto_revert = true\n'
                                   'progress_deadline = "0s"',
                         config='run_for = "50ms"\n exit_code = 1'))
        until(c, lambda: finished(c, 1))
        d = deployment(c, 1)
        assert (d.status, d.status_description) == (
            "failed", "Failed due to unhealthy allocations - rolling back to job version 0")
        canary = c.alloc(d.task_groups["api"].placed_canaries[0])
        assert canary.deployment_status.healthy is False
        assert any(e.type == "Alloc Unhealthy" for e in canary.task_states["srv"].events)
        until(c, lambda: c.job("web").version == 2 and finished(c, 2))
        assert deployment(c, 2).status == "successful"
        live = [a for a in c.allocs("web") if a.desired_status == "run"]
        assert {a.job.version for a in live} == {2} and len(live) == 3
        assert c.job("web").task_groups[0].tasks[0].env["RELEASE"] == "0"


def test_a_rolling_update_of_real_exec_processes() -> None:
    with nl.dev(clients=1, seed=23) as c:
        c.submit(job_hcl(0, count=2))
        until(c, lambda: finished(c, 0))
        old = {a.id for a in c.allocs("web")}
        c.submit(job_hcl(1, count=2))
        until(c, lambda: finished(c, 1))
        assert deployment(c, 1).status == "successful"
        until(c, lambda: all(c.alloc(i).client_status == "complete" for i in old))
        live = [a for a in c.allocs("web") if a.desired_status == "run"]
        assert {a.client_status for a in live} == {"running"} and len(live) == 2
