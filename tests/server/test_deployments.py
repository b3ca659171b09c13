"""Deployments end to end on the server: rolling updates, canaries, promotion, failure and
automatic revert, pausing, progress deadlines and a restart, in step mode on simulated
nodes.  Health is set the way an operator does with ``health_check = "manual"``
(Nomad's /v1/deployment/allocation-health), so each test decides when what is healthy."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator, Optional

import pytest

import nomadlab as nl
from nomadlab.agent import Agent
from nomadlab.errors import Invalid, NotFound
from nomadlab.structs import AllocDeploymentStatus, Allocation, Deployment
from nomadlab.structs.duration import MINUTE, SECOND


def job_hcl(version: int, count: int = 3, update: str = "max_parallel = 1",
            stop: bool = False) -> str:
    return f'''job "web" {{
  datacenters = ["dc1"]
  group "api" {{
    count = {count}
    update {{
      health_check = "manual"
      {update}
    }}
    task "srv" {{
      driver = "exec"
      config {{ command = "sleep" }}
      env {{ RELEASE = "{version}" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


@pytest.fixture
def c() -> Iterator[Agent]:
    agent = nl.dev(clients=0, mode="step", seed=11)
    agent.add_node("a", cpu=4000, memory=4096)
    agent.add_node("b", cpu=4000, memory=4096)
    yield agent
    agent.shutdown()


def latest(c: Agent) -> Deployment:
    return c.deployments("web")[-1]


def running(c: Agent, version: Optional[int] = None) -> list[Allocation]:
    return [a for a in c.allocs("web") if a.desired_status == "run"
            and (version is None or a.job.version == version)]


def unjudged(c: Agent, deployment: Deployment) -> list[str]:
    """The deployment's running allocs nobody has called healthy or unhealthy yet."""
    return [a.id for a in running(c) if a.deployment_id == deployment.id
            and (a.deployment_status is None or a.deployment_status.healthy is None)]


def healthy_all(c: Agent) -> None:
    d = latest(c)
    c.server.set_alloc_health(d.id, unjudged(c, d), [])
    c.run_until_idle()


def deployed(c: Agent, version: int, count: int = 3) -> Deployment:
    c.submit(job_hcl(version, count))
    c.run_until_idle()
    healthy_all(c)
    d = latest(c)
    assert d.status == "successful", d.status_description
    return d


def test_a_first_registration_makes_a_deployment_that_succeeds_and_marks_the_version_stable(
        c: Agent) -> None:
    c.submit(job_hcl(0))
    c.run_until_idle()
    (d,) = c.deployments("web")
    assert (d.status, d.status_description, d.job_version) == (
        "running", "Deployment is running", 0)
    assert d.task_groups["api"].desired_total == 3 and d.task_groups["api"].placed_allocs == 3
    assert {a.deployment_id for a in running(c)} == {d.id}
    assert not c.job("web").stable
    healthy_all(c)
    d = latest(c)
    assert (d.status, d.status_description) == ("successful", "Deployment completed successfully")
    assert d.task_groups["api"].healthy_allocs == 3
    assert c.job("web").stable and [j.stable for j in c.job_versions("web")] == [True]


def test_a_rolling_update_replaces_max_parallel_at_a_time_as_allocs_turn_healthy(
        c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1))
    c.run_until_idle()
    d = latest(c)
    assert d.job_version == 1 and d.status == "running"
    for step in range(1, 4):
        assert len(running(c, 1)) == step, "one new alloc per healthy one (max_parallel 1)"
        assert len(running(c, 0)) == 3 - step
        assert d.task_groups["api"].healthy_allocs == step - 1
        c.server.set_alloc_health(d.id, unjudged(c, d), [])
        c.run_until_idle()
        d = latest(c)
    assert d.status == "successful" and len(running(c, 1)) == 3
    assert [j.stable for j in c.job_versions("web")] == [True, True]
    triggers = [e.triggered_by for e in c.evals("web")]
    assert triggers.count("deployment-watcher") >= 3


def test_max_parallel_two_replaces_two_at_once(c: Agent) -> None:
    deployed(c, 0, count=4)
    c.submit(job_hcl(1, count=4, update="max_parallel = 2"))
    c.run_until_idle()
    assert len(running(c, 1)) == 2 and len(running(c, 0)) == 2


def test_a_newer_version_cancels_the_running_deployment_and_a_stop_cancels_its_own(
        c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1))
    c.run_until_idle()
    first = latest(c)
    c.submit(job_hcl(2))
    c.run_until_idle()
    old = next(d for d in c.deployments("web") if d.id == first.id)
    assert (old.status, old.status_description) == (
        "cancelled", "Cancelled due to newer version of job")
    assert latest(c).job_version == 2 and latest(c).status == "running"
    c.stop("web")
    c.run_until_idle()
    assert (latest(c).status, latest(c).status_description) == (
        "cancelled", "Cancelled because job is stopped")


def test_canaries_wait_for_promotion_then_the_rest_rolls(c: Agent) -> None:
    deployed(c, 0)
    plan = c.plan(job_hcl(1, update="max_parallel = 1\n canary = 1"))
    assert plan["Annotations"]["DesiredTGUpdates"]["api"]["Canary"] == 1
    group = plan["Diff"]["TaskGroups"][0]
    assert group["Updates"] == {"canary": 1, "ignore": 3}
    assert group["Tasks"][0]["Annotations"] == ["forces create/destroy update"]
    c.submit(job_hcl(1, update="max_parallel = 1\n canary = 1"))
    c.run_until_idle()
    d = latest(c)
    (canary,) = running(c, 1)
    assert canary.deployment_status.canary and d.task_groups["api"].placed_canaries == [canary.id]
    assert len(running(c, 0)) == 3, "the old allocations stay until promotion"
    assert d.status_description == "Deployment is running but requires manual promotion"
    with pytest.raises(Invalid, match=r'Task group "api" has 0/1 healthy allocations'):
        c.server.promote_deployment(d.id)
    c.server.set_alloc_health(d.id, [canary.id], [])
    c.run_until_idle()
    assert len(running(c, 1)) == 1 and len(running(c, 0)) == 3, "healthy but not promoted"
    ev = c.server.promote_deployment(d.id)
    assert ev.triggered_by == "deployment-watcher" and ev.deployment_id == d.id
    c.run_until_idle()
    d = latest(c)
    assert d.task_groups["api"].promoted
    assert not c.alloc(canary.id).deployment_status.canary
    assert d.status_description == "Deployment is running"
    while d.status == "running":
        assert unjudged(c, d), "the rollout moves on after promotion"
        healthy_all(c)
        d = latest(c)
    assert d.status == "successful"
    assert len(running(c, 1)) == 3 and not running(c, 0)


def test_auto_promote_promotes_once_every_canary_is_healthy(c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1, update="max_parallel = 1\n canary = 2\n auto_promote = true"))
    c.run_until_idle()
    d = latest(c)
    assert d.status_description == "Deployment is running pending automatic promotion"
    first, second = unjudged(c, d)
    c.server.set_alloc_health(d.id, [first], [])
    c.run_until_idle()
    assert not latest(c).task_groups["api"].promoted
    c.server.set_alloc_health(d.id, [second], [])
    c.run_until_idle()
    assert latest(c).task_groups["api"].promoted
    assert any(r.stage == "deployment-promoted" for r in c.server.log)


def test_an_unhealthy_alloc_fails_the_deployment_and_auto_revert_rolls_back(c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1, update="max_parallel = 1\n auto_revert = true"))
    c.run_until_idle()
    d = latest(c)
    (bad,) = unjudged(c, d)
    c.server.set_alloc_health(d.id, [], [bad])
    c.run_until_idle()
    failed = next(x for x in c.deployments("web") if x.id == d.id)
    assert (failed.status, failed.status_description) == (
        "failed", "Failed due to unhealthy allocations - rolling back to job version 0")
    job = c.job("web")
    assert job.version == 2 and job.task_groups[0].tasks[0].env["RELEASE"] == "0"
    assert not job.stable
    assert latest(c).job_version == 2, "the reverted version rolls out as a deployment"
    while latest(c).status == "running":
        healthy_all(c)
    assert all(a.job.version == 2 for a in running(c))


def test_a_failed_deployment_without_auto_revert_places_nothing_more(c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1))
    c.run_until_idle()
    d = latest(c)
    c.server.fail_deployment(d.id)
    c.run_until_idle()
    d = latest(c)
    assert (d.status, d.status_description) == ("failed", "Deployment marked as failed")
    assert len(running(c, 1)) == 1 and len(running(c, 0)) == 2
    with pytest.raises(Invalid, match="can't fail terminal deployment"):
        c.server.fail_deployment(d.id)
    with pytest.raises(Invalid, match="can't promote terminal deployment"):
        c.server.promote_deployment(d.id)


def test_fail_with_auto_revert_and_no_stable_version_says_so(c: Agent) -> None:
    c.submit(job_hcl(0, update="max_parallel = 1\n auto_revert = true"))
    c.run_until_idle()
    c.server.fail_deployment(latest(c).id)
    assert latest(c).status_description == (
        "Deployment marked as failed - no stable job version to auto revert to")


def test_a_paused_deployment_places_nothing_until_resumed(c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1))
    c.run_until_idle()
    d = latest(c)
    assert c.server.pause_deployment(d.id, True) is None
    assert (latest(c).status, latest(c).status_description) == ("paused", "Deployment is paused")
    c.server.set_alloc_health(d.id, unjudged(c, d), [])
    c.run_until_idle()
    assert len(running(c, 1)) == 1, "paused: the healthy alloc lets nothing more through"
    ev = c.server.pause_deployment(d.id, False)
    assert ev is not None and latest(c).status == "running"
    c.run_until_idle()
    assert len(running(c, 1)) == 2


def test_operator_requests_are_checked_in_nomads_words(c: Agent) -> None:
    with pytest.raises(NotFound, match="deployment not found"):
        c.server.promote_deployment("no-such-deployment")
    c.submit(job_hcl(0))
    c.run_until_idle()
    d = latest(c)
    with pytest.raises(Invalid, match="must specify at least one healthy/unhealthy"):
        c.server.set_alloc_health(d.id, [], [])
    with pytest.raises(Invalid, match="can't unblock running deployment"):
        c.server.unblock_deployment(d.id)
    with pytest.raises(NotFound, match='unknown alloc "nope"'):
        c.server.set_alloc_health(d.id, ["nope"], [])
    healthy_all(c)
    with pytest.raises(Invalid, match="can't set health of allocations for a terminal"):
        c.server.set_alloc_health(d.id, [running(c)[0].id], [])
    with pytest.raises(Invalid, match="can't pause terminal deployment"):
        c.server.pause_deployment(d.id, True)


def test_the_progress_deadline_fails_a_deployment_that_makes_no_progress() -> None:
    now = [1_800_000_000 * SECOND]
    c = nl.dev(clients=0, mode="step", seed=4)
    c.server.clock = lambda: now[0]
    try:
        c.add_node("a")
        c.submit(job_hcl(0, update='max_parallel = 1\n healthy_deadline = "2m"\n'
                             'progress_deadline = "5m"'))
        c.run_until_idle()
        d = latest(c)
        assert d.task_groups["api"].require_progress_by
        now[0] += 4 * MINUTE
        c.run_until_idle()
        assert latest(c).status == "running"
        now[0] += 2 * MINUTE
        c.run_until_idle()
        assert (latest(c).status, latest(c).status_description) == (
            "failed", "Failed due to progress deadline")
    finally:
        c.shutdown()


def test_a_restarted_server_restores_deployments_and_the_watcher_carries_on(
        tmp_path: Path) -> None:
    first = nl.dev(clients=0, mode="step", seed=2, data_dir=str(tmp_path))
    first.add_node("a")
    first.submit(job_hcl(0))
    first.run_until_idle()
    healthy_all(first)
    first.submit(job_hcl(1))
    first.run_until_idle()
    before = latest(first)
    first.shutdown()

    again = nl.dev(clients=0, mode="step", seed=2, data_dir=str(tmp_path))
    try:
        assert latest(again) == before
        while latest(again).status == "running":
            healthy_all(again)
        assert latest(again).status == "successful"
        assert [j.stable for j in again.job_versions("web")] == [True, True]
    finally:
        again.shutdown()


def test_the_deployment_commits_with_its_plan(c: Agent) -> None:
    """The new deployment and its allocations are written by one transaction."""
    c.submit(job_hcl(0))
    c.run_until_idle()
    d = latest(c)
    assert {a.create_index for a in running(c)} == {d.create_index}


def test_job_revert_rolls_the_old_version_out_as_a_new_deployment(c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1))
    c.run_until_idle()
    c.server.fail_deployment(latest(c).id)
    c.run_until_idle()
    c.revert("web", 0)
    c.run_until_idle()
    job = c.job("web")
    assert job.version == 2 and not job.stable
    assert job.task_groups[0].tasks[0].env["RELEASE"] == "0"
    d = latest(c)
    assert (d.job_version, d.status) == (2, "running")
    while latest(c).status == "running":
        healthy_all(c)
    assert latest(c).status == "successful"
    assert [j.stable for j in c.job_versions("web")] == [True, False, True]
    assert {a.job.version for a in running(c)} == {2}


def test_a_system_job_update_goes_max_parallel_nodes_per_stagger() -> None:
    now = [1_800_000_000 * SECOND]
    c = nl.dev(clients=0, mode="step", seed=6)
    c.server.clock = lambda: now[0]
    spec = """job "agentd" {
  datacenters = ["dc1"]
  type = "system"
  update {
    max_parallel = 1
    stagger      = "10s"
  }
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "sleep" }
      env { RELEASE = "%d" }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}"""
    try:
        c.add_node("a")
        c.add_node("b")
        c.submit(spec % 0)
        c.run_until_idle()
        c.submit(spec % 1)
        c.run_until_idle()

        def versions() -> list[int]:
            return sorted(a.job.version for a in c.allocs("agentd") if a.desired_status == "run")
        assert versions() == [0, 1]
        (rolling,) = [e for e in c.evals("agentd") if e.triggered_by == "rolling-update"]
        assert rolling.wait == 10 * SECOND and rolling.status == "pending"
        now[0] += 11 * SECOND
        c.run_until_idle()
        assert versions() == [1, 1]
    finally:
        c.shutdown()


def test_while_canarying_a_migrated_old_alloc_keeps_its_version(c: Agent) -> None:
    deployed(c, 0)
    c.submit(job_hcl(1, update="max_parallel = 1\n canary = 1"))
    c.run_until_idle()
    old = running(c, 0)
    c.add_node("spare", cpu=4000, memory=4096)
    c.server.drain_node(old[0].node_id, deadline=-1)
    c.run_until_idle()
    replacements = [a for a in running(c) if a.previous_allocation]
    assert replacements, "the drained node's allocations were replaced"
    for alloc in replacements:
        previous = c.alloc(alloc.previous_allocation)
        assert alloc.job.version == previous.job.version
        assert bool(alloc.deployment_status and alloc.deployment_status.canary) == \
            bool(previous.deployment_status and previous.deployment_status.canary)
    assert len(running(c, 0)) == 3, "still three of the old version until promotion"


def test_with_a_progress_deadline_an_unhealthy_alloc_is_let_reschedule(c: Agent) -> None:
    """Nomad's watcher does not fail a progress-based deployment for one unhealthy alloc
    that may still be rescheduled: it marks it DesiredTransition.Reschedule instead."""
    c.submit(job_hcl(0, update='max_parallel = 1\n healthy_deadline = "1m"\n'
                               'progress_deadline = "10m"'))
    c.run_until_idle()
    d = latest(c)
    alloc = running(c)[0]
    report = dataclasses.replace(alloc, client_status="failed", deployment_status=
                                 AllocDeploymentStatus(healthy=False, timestamp=None))
    c.server.update_allocs_from_client([report])
    assert latest(c).status == "running"
    assert c.alloc(alloc.id).desired_transition.reschedule
    assert latest(c).task_groups["api"].unhealthy_allocs == 1
    assert any(e.triggered_by == "deployment-watcher" and e.deployment_id == d.id
               for e in c.evals("web"))


def test_a_progress_deadline_still_falls_after_a_restart(tmp_path: Path) -> None:
    now = [1_800_000_000 * SECOND]
    spec = job_hcl(0, update='max_parallel = 1\n healthy_deadline = "1m"\n'
                             'progress_deadline = "5m"')
    first = nl.dev(clients=0, mode="step", seed=8, data_dir=str(tmp_path))
    first.server.clock = lambda: now[0]
    first.add_node("a")
    first.submit(spec)
    first.run_until_idle()
    first.shutdown()

    again = nl.dev(clients=0, mode="step", seed=8, data_dir=str(tmp_path))
    again.server.clock = lambda: now[0]
    try:
        again.run_until_idle()
        assert latest(again).status == "running"
        now[0] += 6 * MINUTE
        again.run_until_idle()
        assert (latest(again).status, latest(again).status_description) == (
            "failed", "Failed due to progress deadline")
    finally:
        again.shutdown()


def test_an_evaluation_records_the_deployment_it_worked_on(c: Agent) -> None:
    ev = c.submit(job_hcl(0))
    c.run_until_idle()
    assert c.eval(ev.id).deployment_id == latest(c).id
