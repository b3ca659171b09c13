"""The reconciler with deployments, in the cases Nomad's reconcile_test.go checks:
creating a deployment, rolling updates paced by health, canaries before promotion and
after, paused and failed deployments, a newer version or a stop cancelling a deployment,
and completion."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Optional

from factories import NOW, make_alloc, make_job, make_node, new_version
from hypothesis import given, settings
from hypothesis import strategies as st

from nomadlab.scheduler.reconcile import ALLOC_NOT_NEEDED, DesiredUpdates, reconcile
from nomadlab.structs import AllocDeploymentStatus, Allocation, Job, UpdateStrategy
from nomadlab.structs.deployment import (DESCRIPTION_NEWER_JOB,
                                         DESCRIPTION_RUNNING_AUTO_PROMOTION,
                                         DESCRIPTION_RUNNING_NEEDS_PROMOTION,
                                         DESCRIPTION_STOPPED_JOB, DESCRIPTION_SUCCESSFUL,
                                         Deployment, DeploymentState, DeploymentStatusUpdate)

_ids = itertools.count(1)


def new_id() -> str:
    return f"d{next(_ids):03d}"


def with_update(job: Job, **update: object) -> Job:
    job = copy.deepcopy(job)
    for group in job.task_groups:
        group.update = dataclasses.replace(group.update or UpdateStrategy(), **update)
    return job


def changed(job: Job, **update: object) -> Job:
    """The next version with a destructive change (a new image), and ``update`` set."""
    new = new_version(with_update(job, **update) if update else job)
    for group in new.task_groups:
        group.tasks[0].config["image"] = "nginx:1.26"
    return new


def deployment_of(job: Job, status: str = "running", **state: object) -> Deployment:
    return Deployment(id="dep-1", job_id=job.id, job_version=job.version,
                      job_create_index=job.create_index, status=status,
                      task_groups={g.name: DeploymentState(**state) for g in job.task_groups})


def of_deployment(allocs: list[Allocation], deployment: Deployment,
                  healthy: Optional[bool] = None, canary: bool = False) -> list[Allocation]:
    for alloc in allocs:
        alloc.deployment_id = deployment.id
        alloc.deployment_status = AllocDeploymentStatus(healthy=healthy, canary=canary)
    return allocs


def test_a_first_registration_creates_a_deployment_for_the_whole_count():
    job = make_job(3)
    result = reconcile(job, "web", [], {}, now=NOW, new_id=new_id, eval_priority=70)
    d = result.deployment
    assert d is not None and result.deployment_id == d.id
    assert (d.status, d.job_version, d.eval_priority) == ("running", 0, 70)
    assert d.task_groups["web"].desired_total == 3
    assert d.task_groups["web"].progress_deadline == job.task_groups[0].update.progress_deadline
    assert len(result.place) == 3 and not result.deployment_updates


def test_no_deployment_without_an_update_block_or_for_batch():
    job = make_job(3)
    job.task_groups[0].update = None
    assert reconcile(job, "web", [], {}, now=NOW, new_id=new_id).deployment is None
    assert reconcile(make_job(3, type="batch"), "web", [], {}, now=NOW,
                     new_id=new_id).deployment is None


def test_no_deployment_when_a_running_version_only_replaces_a_lost_alloc():
    job = make_job(2)
    allocs = [make_alloc(job, 0), make_alloc(job, 1, client_status="complete")]
    result = reconcile(job, "web", allocs, {}, now=NOW, new_id=new_id)
    assert result.deployment is None


def test_a_destructive_change_starts_a_deployment_max_parallel_at_a_time():
    job = make_job(4)
    new = changed(job, max_parallel=2)
    allocs = [make_alloc(job, i) for i in range(4)]
    result = reconcile(new, "web", allocs, {}, now=NOW, new_id=new_id)
    assert len(result.destructive_update) == 2
    assert result.deployment is not None
    assert result.deployment.task_groups["web"].desired_total == 4
    assert result.desired_tg_updates["web"] == DesiredUpdates(destructive_update=2, ignore=2)


def test_the_rollout_waits_for_the_deployments_allocs_to_turn_healthy():
    job = make_job(4)
    new = changed(job, max_parallel=2)
    d = deployment_of(new, desired_total=4)
    old = [make_alloc(job, i) for i in range(2, 4)]
    fresh = of_deployment([make_alloc(new, i) for i in range(2)], d)
    result = reconcile(new, "web", old + fresh, {}, now=NOW, deployment=d)
    assert result.destructive_update == (), "two in flight fill max_parallel 2"
    fresh[0].deployment_status.healthy = True
    result = reconcile(new, "web", old + fresh, {}, now=NOW, deployment=d)
    assert [u.name for u in result.destructive_update] == ["web.web[2]"]
    assert result.deployment is None and result.deployment_id == d.id


def test_an_unhealthy_alloc_of_the_deployment_stops_the_rollout():
    job = make_job(3)
    new = changed(job, max_parallel=2)
    d = deployment_of(new, desired_total=3)
    fresh = of_deployment([make_alloc(new, 0)], d, healthy=False)
    result = reconcile(new, "web", fresh + [make_alloc(job, i) for i in (1, 2)], {}, now=NOW,
                       deployment=d)
    assert result.destructive_update == ()


def test_a_paused_or_failed_deployment_places_nothing_new():
    job = make_job(3)
    new = changed(job)
    for status in ("paused", "failed"):
        d = deployment_of(new, status=status, desired_total=3)
        result = reconcile(new, "web", [make_alloc(job, i) for i in range(3)], {}, now=NOW,
                           deployment=d)
        assert result.destructive_update == () and result.place == ()
        assert result.desired_tg_updates["web"].ignore == 3


def test_a_paused_deployment_still_replaces_a_lost_alloc():
    job = make_job(2)
    new = changed(job)
    d = deployment_of(new, status="paused", desired_total=2)
    allocs = [make_alloc(job, 0, "node-1"), make_alloc(job, 1, "node-2")]
    result = reconcile(new, "web", allocs, {"node-2": make_node("node-2", "down")}, now=NOW,
                       deployment=d)
    assert [p.name for p in result.place] == ["web.web[1]"] and result.place[0].lost


def test_canaries_are_placed_first_and_the_old_allocs_left_alone():
    job = make_job(3)
    new = changed(job, canary=2)
    result = reconcile(new, "web", [make_alloc(job, i) for i in range(3)], {}, now=NOW,
                       new_id=new_id)
    assert [(p.name, p.canary) for p in result.place] == [("web.web[0]", True),
                                                          ("web.web[1]", True)]
    assert result.destructive_update == () and result.stop == ()
    assert result.desired_tg_updates["web"] == DesiredUpdates(canary=2, ignore=3)
    d = result.deployment
    assert d is not None and d.task_groups["web"].desired_canaries == 2
    assert d.status_description == DESCRIPTION_RUNNING_NEEDS_PROMOTION


def test_auto_promote_says_so_in_the_description():
    job = make_job(3)
    new = changed(job, canary=1, auto_promote=True)
    result = reconcile(new, "web", [make_alloc(job, i) for i in range(3)], {}, now=NOW,
                       new_id=new_id)
    assert result.deployment.status_description == DESCRIPTION_RUNNING_AUTO_PROMOTION


def test_placed_canaries_wait_for_promotion():
    job = make_job(3)
    new = changed(job, canary=1)
    d = deployment_of(new, desired_canaries=1, desired_total=3)
    canary = of_deployment([make_alloc(new, 0)], d, healthy=True, canary=True)
    d.task_groups["web"].placed_canaries = [canary[0].id]
    old = [make_alloc(job, i) for i in range(3)]
    result = reconcile(new, "web", old + canary, {}, now=NOW, deployment=d)
    assert result.place == () and result.destructive_update == () and result.stop == ()
    assert result.deployment_updates == ()


def test_after_promotion_the_old_alloc_of_a_canarys_name_stops_and_the_rest_rolls():
    job = make_job(3)
    new = changed(job, canary=1)
    d = deployment_of(new, desired_canaries=1, desired_total=3, promoted=True)
    canary = of_deployment([make_alloc(new, 0)], d, healthy=True)
    d.task_groups["web"].placed_canaries = [canary[0].id]
    old = [make_alloc(job, i) for i in range(3)]
    result = reconcile(new, "web", old + canary, {}, now=NOW, deployment=d)
    assert [(s.alloc.name, s.description) for s in result.stop] == [
        ("web.web[0]", ALLOC_NOT_NEEDED)]
    assert [u.name for u in result.destructive_update] == ["web.web[1]"]


def test_a_newer_version_cancels_the_deployment_and_its_unpromoted_canaries():
    job = make_job(3)
    v1 = changed(job, canary=1)
    d = deployment_of(v1, desired_canaries=1, desired_total=3)
    canary = of_deployment([make_alloc(v1, 0)], d, canary=True)
    d.task_groups["web"].placed_canaries = [canary[0].id]
    v2 = changed(v1)
    result = reconcile(v2, "web", [make_alloc(job, i) for i in range(3)] + canary, {},
                       now=NOW, deployment=d, new_id=new_id)
    assert DeploymentStatusUpdate("dep-1", "cancelled", DESCRIPTION_NEWER_JOB) in \
        result.deployment_updates
    assert canary[0].id in {s.alloc.id for s in result.stop}
    assert result.deployment is not None and result.deployment.job_version == v2.version


def test_stopping_the_job_cancels_its_deployment():
    job = make_job(2)
    d = deployment_of(job, desired_total=2)
    stopped = dataclasses.replace(job, stop=True)
    result = reconcile(stopped, "web", [make_alloc(job, i) for i in range(2)], {}, now=NOW,
                       deployment=d)
    assert result.deployment_updates == (
        DeploymentStatusUpdate("dep-1", "cancelled", DESCRIPTION_STOPPED_JOB),)


def test_the_deployment_succeeds_when_every_alloc_is_placed_and_healthy():
    job = make_job(2)
    d = deployment_of(job, desired_total=2, healthy_allocs=1)
    allocs = of_deployment([make_alloc(job, i) for i in range(2)], d, healthy=True)
    assert reconcile(job, "web", allocs, {}, now=NOW, deployment=d).deployment_updates == ()
    d.task_groups["web"].healthy_allocs = 2
    assert reconcile(job, "web", allocs, {}, now=NOW, deployment=d).deployment_updates == (
        DeploymentStatusUpdate("dep-1", "successful", DESCRIPTION_SUCCESSFUL),)


def test_a_failed_alloc_of_an_active_deployment_waits_for_the_watcher():
    job = make_job(2)
    d = deployment_of(job, desired_total=2)
    allocs = of_deployment([make_alloc(job, 0), make_alloc(job, 1, failed_at=NOW - 10**12)], d)
    result = reconcile(job, "web", allocs, {}, now=NOW, deployment=d)
    assert result.place == (), "not rescheduled until the watcher allows it"
    allocs[1].desired_transition.reschedule = True
    result = reconcile(job, "web", allocs, {}, now=NOW, deployment=d)
    assert [p.name for p in result.place] == ["web.web[1]"] and result.place[0].reschedule


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 6), max_parallel=st.integers(1, 4), healthy=st.integers(0, 6),
       in_flight=st.integers(0, 6))
def test_never_more_unhealthy_in_flight_than_max_parallel(count, max_parallel, healthy,
                                                          in_flight):
    """Property: new allocs not yet healthy plus destructive updates <= max_parallel."""
    healthy = min(healthy, count)
    in_flight = min(in_flight, count - healthy, max_parallel)
    job = make_job(count)
    new = changed(job, max_parallel=max_parallel)
    d = deployment_of(new, desired_total=count)
    done = of_deployment([make_alloc(new, i) for i in range(healthy)], d, healthy=True)
    flying = of_deployment([make_alloc(new, i) for i in range(healthy, healthy + in_flight)], d)
    old = [make_alloc(job, i) for i in range(healthy + in_flight, count)]
    result = reconcile(new, "web", done + flying + old, {}, now=NOW, deployment=d)
    assert in_flight + len(result.destructive_update) <= max_parallel
    assert len(result.destructive_update) == min(len(old), max_parallel - in_flight)


def test_while_canarying_a_lost_old_alloc_is_replaced_by_its_own_version():
    job = make_job(3)
    new = changed(job, canary=1)
    d = deployment_of(new, desired_canaries=1, desired_total=3)
    canary = of_deployment([make_alloc(new, 0, "node-1")], d, canary=True)
    d.task_groups["web"].placed_canaries = [canary[0].id]
    old = [make_alloc(job, 0, "node-1"), make_alloc(job, 1, "node-2"),
           make_alloc(job, 2, "node-1")]
    result = reconcile(new, "web", old + canary, {"node-2": make_node("node-2", "down")},
                       now=NOW, deployment=d)
    (p,) = result.place
    assert (p.name, p.lost, p.canary, p.downgrade_non_canary) == (
        "web.web[1]", True, False, True)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 6), canary=st.integers(1, 4), placed=st.integers(0, 4),
       healthy=st.booleans())
def test_while_canarying_old_allocs_are_never_touched(count, canary, placed, healthy):
    """Property: before promotion only canaries are placed, up to ``canary`` in all, and
    no old allocation is stopped or replaced."""
    placed = min(placed, canary)
    job = make_job(count)
    new = changed(job, canary=canary)
    d = deployment_of(new, desired_canaries=canary, desired_total=count)
    canaries = of_deployment([make_alloc(new, i % count) for i in range(placed)], d,
                             healthy=healthy or None, canary=True)
    d.task_groups["web"].placed_canaries = [a.id for a in canaries]
    old = [make_alloc(job, i) for i in range(count)]
    result = reconcile(new, "web", old + canaries, {}, now=NOW, deployment=d)
    assert all(p.canary for p in result.place)
    assert len(result.place) == canary - placed
    assert result.destructive_update == () and result.stop == ()
    assert result.desired_tg_updates["web"].canary == canary - placed
