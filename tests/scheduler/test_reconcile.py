"""The generic reconciler in scenarios a Nomad operator recognises, and its invariants."""

from __future__ import annotations

import copy
import dataclasses

from factories import NOW, make_alloc, make_job, make_node, new_version
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.structs import Allocation, Job, ReschedulePolicy, RescheduleEvent
from nomadlab.structs.duration import HOUR, MINUTE, SECOND
from nomadlab.scheduler.reconcile import (ALLOC_LOST, ALLOC_MIGRATING, ALLOC_NOT_NEEDED,
                                          ALLOC_RESCHEDULED, ALLOC_UPDATING, DesiredUpdates,
                                          ReconcileResult, reconcile)


def names(placements) -> list[str]:
    return [p.name for p in placements]


def stopped(result: ReconcileResult) -> dict[str, str]:
    return {s.alloc.id: s.description for s in result.stop}


def running(job: Job, n: int, node: str = "node-1") -> list[Allocation]:
    return [make_alloc(job, i, node) for i in range(n)]


# -- placing and scaling ---------------------------------------------------------------

def test_fresh_job_places_count_with_lowest_indexes():
    result = reconcile(make_job(3), "web", [], {}, now=NOW)
    assert names(result.place) == ["web.web[0]", "web.web[1]", "web.web[2]"]
    assert all(p.previous_alloc is None and not p.reschedule for p in result.place)
    assert result.desired_tg_updates["web"] == DesiredUpdates(place=3)


def test_count_up_fills_lowest_free_indexes():
    job = make_job(3)
    allocs = [make_alloc(job, i) for i in (0, 2, 5)]
    result = reconcile(new_version(job, count=5), "web", allocs, {}, now=NOW)
    assert names(result.place) == ["web.web[1]", "web.web[3]"]


def test_count_down_stops_highest_indexes():
    job = make_job(5)
    allocs = running(job, 5)
    result = reconcile(new_version(job, count=2), "web", allocs, {}, now=NOW)
    assert sorted(s.alloc.name for s in result.stop) == ["web.web[2]", "web.web[3]", "web.web[4]"]
    assert set(stopped(result).values()) == {ALLOC_NOT_NEEDED}
    assert result.place == ()


def test_count_change_only_updates_the_rest_in_place():
    # Nomad's plan says "(2 create, 3 in-place update)": the job version changed.
    job = make_job(3)
    result = reconcile(new_version(job, count=5), "web", running(job, 3), {}, now=NOW)
    assert result.desired_tg_updates["web"] == DesiredUpdates(place=2, inplace_update=3)


def test_unchanged_job_is_ignored():
    job = make_job(3)
    result = reconcile(job, "web", running(job, 3), {}, now=NOW)
    assert result.is_empty
    assert result.desired_tg_updates["web"] == DesiredUpdates(ignore=3)


# -- stopping --------------------------------------------------------------------------

def test_stopped_job_stops_everything_running():
    job = make_job(3)
    allocs = running(job, 3) + [make_alloc(job, 3, client_status="complete")]
    stopped_job = dataclasses.replace(copy.deepcopy(job), stop=True)
    for j in (stopped_job, None):
        result = reconcile(j, "web", allocs, {"node-1": make_node("node-1", "down")}, now=NOW)
        assert {s.alloc.id for s in result.stop} == {a.id for a in allocs[:3]}
        assert {s.client_status for s in result.stop} == {"lost"}
        assert result.place == ()
        assert result.desired_tg_updates["web"].stop == 3


def test_removed_group_is_stopped():
    job = make_job(2, groups=("web", "cache"))
    allocs = running(job, 2) + [make_alloc(job, i, group="cache") for i in range(2)]
    new = new_version(job)
    new.task_groups = [g for g in new.task_groups if g.name == "web"]
    result = reconcile(new, "web", allocs, {}, now=NOW)
    assert sorted(s.alloc.name for s in result.stop) == ["web.cache[0]", "web.cache[1]"]
    assert result.desired_tg_updates["cache"] == DesiredUpdates(stop=2)


# -- tainted nodes ---------------------------------------------------------------------

def test_lost_node_replaces_with_same_name_and_previous_alloc():
    job = make_job(3)
    allocs = [make_alloc(job, 0, "n1"), make_alloc(job, 1, "n2"), make_alloc(job, 2, "n2")]
    for tainted in ({"n2": make_node("n2", "down")}, {"n2": None},
                    {"n2": make_node("n2", "disconnected")}):
        result = reconcile(job, "web", allocs, tainted, now=NOW)
        assert {(s.alloc.name, s.description, s.client_status) for s in result.stop} == {
            ("web.web[1]", ALLOC_LOST, "lost"), ("web.web[2]", ALLOC_LOST, "lost")}
        assert [(p.name, p.previous_alloc.id, p.lost) for p in result.place] == [
            ("web.web[1]", allocs[1].id, True), ("web.web[2]", allocs[2].id, True)]
        assert result.desired_tg_updates["web"] == DesiredUpdates(place=2, stop=2, ignore=1)


def test_lost_allocs_beyond_new_count_are_not_replaced():
    job = make_job(3)
    allocs = [make_alloc(job, 0, "n1"), make_alloc(job, 1, "n2"), make_alloc(job, 2, "n2")]
    result = reconcile(new_version(job, count=2), "web", allocs, {"n2": None}, now=NOW)
    assert names(result.place) == ["web.web[1]"]
    assert len(result.stop) == 2


def test_draining_node_migrates_flagged_allocs():
    job = make_job(2)
    allocs = [make_alloc(job, 0, "n1"), make_alloc(job, 1, "n2", migrate=True)]
    draining = make_node("n2", drain=True, scheduling_eligibility="ineligible")
    result = reconcile(job, "web", allocs, {"n2": draining}, now=NOW)
    assert stopped(result) == {allocs[1].id: ALLOC_MIGRATING}
    assert [(p.name, p.previous_alloc.id) for p in result.place] == [("web.web[1]", allocs[1].id)]
    assert result.desired_tg_updates["web"] == DesiredUpdates(migrate=1, ignore=1)


def test_draining_node_without_migrate_flag_keeps_allocs():
    job = make_job(1)
    allocs = [make_alloc(job, 0, "n2")]
    result = reconcile(job, "web", allocs, {"n2": make_node("n2", drain=True)}, now=NOW)
    assert result.is_empty


# -- rescheduling ----------------------------------------------------------------------

def resched_job(**kw) -> Job:
    base = dict(attempts=0, interval=0, delay=30 * SECOND, delay_function="exponential",
                max_delay=HOUR, unlimited=True)
    base.update(kw)
    return make_job(2, reschedule=ReschedulePolicy(**base))


def test_failed_alloc_past_its_delay_is_rescheduled_now():
    job = resched_job()
    ok = make_alloc(job, 0, "n1")
    failed = make_alloc(job, 1, "n2", failed_at=NOW - 30 * SECOND)
    result = reconcile(job, "web", [ok, failed], {}, now=NOW)
    (p,) = result.place
    assert (p.name, p.previous_alloc.id, p.reschedule) == ("web.web[1]", failed.id, True)
    assert p.penalty_node_ids == {"n2"}
    assert [(e.prev_alloc_id, e.delay, e.reschedule_time)
            for e in p.reschedule_tracker.events] == [(failed.id, 30 * SECOND, NOW)]
    assert stopped(result) == {failed.id: ALLOC_RESCHEDULED}
    assert result.followup_evals == ()
    assert result.desired_tg_updates["web"] == DesiredUpdates(place=1, stop=1, ignore=1)


def test_failed_alloc_within_its_delay_gets_a_followup_eval():
    job = resched_job()
    failed = make_alloc(job, 1, "n2", failed_at=NOW - 10 * SECOND)
    result = reconcile(job, "web", [make_alloc(job, 0), failed], {}, now=NOW)
    assert result.place == () and result.stop == ()
    (ev,) = result.followup_evals
    assert (ev.wait_until, ev.alloc_ids, ev.triggered_by) == (
        NOW + 20 * SECOND, (failed.id,), "alloc-failure")


def test_exponential_delay_after_two_attempts_and_max_delay_cap():
    job = resched_job(max_delay=100 * SECOND)
    events = [RescheduleEvent(reschedule_time=NOW - 5 * MINUTE, delay=30 * SECOND),
              RescheduleEvent(reschedule_time=NOW - 30 * SECOND, delay=60 * SECOND)]
    failed = make_alloc(job, 1, failed_at=NOW, reschedule_events=events)
    result = reconcile(job, "web", [make_alloc(job, 0), failed], {}, now=NOW)
    assert result.followup_evals[0].wait_until == NOW + 100 * SECOND  # 120s capped
    # Once it ran longer than max_delay since the last reschedule, the delay resets.
    failed.reschedule_tracker.events[-1].reschedule_time = NOW - 2 * MINUTE
    result = reconcile(job, "web", [make_alloc(job, 0), failed], {}, now=NOW)
    assert result.followup_evals[0].wait_until == NOW + 30 * SECOND


def test_followup_eval_reschedules_its_allocs_now():
    job = resched_job()
    failed = make_alloc(job, 1, failed_at=NOW - 10 * SECOND, followup_eval_id="ev-2")
    allocs = [make_alloc(job, 0), failed]
    assert reconcile(job, "web", allocs, {}, now=NOW, eval_id="ev-1").followup_evals == ()
    assert reconcile(job, "web", allocs, {}, now=NOW, eval_id="ev-1").place == ()
    result = reconcile(job, "web", allocs, {}, now=NOW, eval_id="ev-2")
    assert [p.previous_alloc.id for p in result.place] == [failed.id]


def test_followup_evals_batch_within_five_seconds():
    job = resched_job(delay_function="constant")
    job.task_groups[0].count = 4
    allocs = [make_alloc(job, i, failed_at=NOW - 30 * SECOND + t * SECOND)
              for i, t in enumerate((2, 4, 8, 20))]
    result = reconcile(job, "web", allocs, {}, now=NOW)
    assert [(e.wait_until - NOW, len(e.alloc_ids)) for e in result.followup_evals] == [
        (2 * SECOND, 2), (8 * SECOND, 1), (20 * SECOND, 1)]


def test_attempts_exhausted_leaves_the_failed_alloc_in_place():
    job = resched_job(attempts=1, interval=HOUR, unlimited=False, delay_function="constant")
    events = [RescheduleEvent(reschedule_time=NOW - 10 * MINUTE, delay=30 * SECOND)]
    failed = make_alloc(job, 1, failed_at=NOW - HOUR // 2, reschedule_events=events)
    result = reconcile(job, "web", [make_alloc(job, 0), failed], {}, now=NOW)
    assert result.place == () and result.stop == () and result.followup_evals == ()


def test_force_reschedule_ignores_the_delay():
    job = resched_job()
    failed = make_alloc(job, 1, failed_at=NOW)
    failed.desired_transition.force_reschedule = True
    result = reconcile(job, "web", [make_alloc(job, 0), failed], {}, now=NOW)
    assert [p.previous_alloc.id for p in result.place] == [failed.id]


def test_already_replaced_failed_alloc_is_skipped():
    job = resched_job()
    failed = make_alloc(job, 1, failed_at=NOW - HOUR, next_allocation="b")
    replacement = make_alloc(job, 1, previous_allocation=failed.id)
    result = reconcile(job, "web", [make_alloc(job, 0), failed, replacement], {}, now=NOW)
    assert result.is_empty


# -- batch -----------------------------------------------------------------------------

def test_batch_complete_allocs_are_not_replaced():
    job = make_job(3, type="batch")
    allocs = [make_alloc(job, 0, client_status="complete"), make_alloc(job, 1),
              make_alloc(job, 2, client_status="complete")]
    result = reconcile(job, "web", allocs, {}, now=NOW)
    assert result.is_empty
    assert result.desired_tg_updates["web"].ignore == 3


def test_batch_failed_alloc_rescheduled_once_after_5s():
    job = make_job(1, type="batch")  # canonical batch policy: 1 attempt / 24h, 5s constant
    failed = make_alloc(job, 0, failed_at=NOW - 5 * SECOND)
    result = reconcile(job, "web", [failed], {}, now=NOW)
    (p,) = result.place
    assert p.reschedule and p.previous_alloc is failed
    again = make_alloc(job, 0, failed_at=NOW, reschedule_events=p.reschedule_tracker.events)
    result = reconcile(job, "web", [again], {}, now=NOW + MINUTE)
    assert result.place == () and result.followup_evals == ()


def test_batch_terminal_allocs_of_old_versions_are_ignored():
    job = make_job(2, type="batch")
    old = [make_alloc(job, i, client_status="complete") for i in range(2)]
    new = new_version(job, tasks=job.task_groups[0].tasks)
    new.task_groups[0].tasks[0].config["image"] = "nginx:2"
    result = reconcile(new, "web", old, {}, now=NOW)
    assert names(result.place) == ["web.web[0]", "web.web[1]"]
    assert result.desired_tg_updates["web"] == DesiredUpdates(place=2, ignore=2)


# -- updates ---------------------------------------------------------------------------

def with_config_change(job: Job) -> Job:
    new = new_version(job)
    new.task_groups[0].tasks[0].config["image"] = "nginx:1.26"
    return new


def test_config_change_is_destructive_max_parallel_at_a_time():
    job = make_job(3)  # service default update block: max_parallel 1
    result = reconcile(with_config_change(job), "web", running(job, 3), {}, now=NOW)
    assert [(d.name, d.description) for d in result.destructive_update] == [
        ("web.web[0]", ALLOC_UPDATING)]
    assert result.desired_tg_updates["web"] == DesiredUpdates(destructive_update=1, ignore=2)


def test_config_change_without_update_block_replaces_all():
    job = make_job(3, type="batch")
    result = reconcile(with_config_change(job), "web", running(job, 3), {}, now=NOW)
    assert [d.name for d in result.destructive_update] == [f"web.web[{i}]" for i in range(3)]


def test_meta_change_is_destructive_as_in_nomad():
    job = make_job(1, type="batch")
    new = new_version(job)
    new.meta["owner"] = "me"
    assert len(reconcile(new, "web", running(job, 1), {}, now=NOW).destructive_update) == 1


def test_non_destructive_change_updates_in_place():
    job = make_job(2)
    new = new_version(job)
    new.task_groups[0].tasks[0].kill_timeout = 30 * SECOND
    allocs = running(job, 2)
    result = reconcile(new, "web", allocs, {}, now=NOW)
    assert result.inplace_update == tuple(allocs)
    assert result.desired_tg_updates["web"] == DesiredUpdates(inplace_update=2)


def test_update_fn_decides_in_place_feasibility():
    job = make_job(2)
    new = new_version(job)
    new.task_groups[0].tasks[0].kill_timeout = 30 * SECOND
    result = reconcile(new, "web", running(job, 2), {}, now=NOW,
                       update_fn=lambda a, j, g: ("destructive", None))
    assert len(result.destructive_update) == 1 and result.inplace_update == ()


def test_to_api_uses_nomad_names():
    result = reconcile(make_job(2), "web", [], {}, now=NOW)
    assert result.desired_tg_updates_api() == {"web": {
        "Place": 2, "Stop": 0, "Migrate": 0, "InPlaceUpdate": 0, "DestructiveUpdate": 0,
        "Ignore": 0, "Canary": 0, "Preemptions": 0}}
    assert DesiredUpdates.from_api(result.desired_tg_updates["web"].to_api()) == \
        result.desired_tg_updates["web"]


# -- properties ------------------------------------------------------------------------

NODES = ["n0", "n1", "n2", "n3"]


def apply(job: Job, allocs: list[Allocation], result: ReconcileResult,
          serial: list[int]) -> list[Allocation]:
    """What the plan applier and clients would make of ``result`` (new allocs run on n0)."""
    by_id = {a.id: copy.deepcopy(a) for a in allocs}
    for s in result.stop:
        by_id[s.alloc.id].desired_status = "stop"
        if s.client_status:
            by_id[s.alloc.id].client_status = s.client_status
    for a in result.inplace_update:
        by_id[a.id].job = copy.deepcopy(job)
    group_of = {g.name: g for g in job.task_groups}
    new_places = [(p.name, p.task_group, p.previous_alloc) for p in result.place]
    for d in result.destructive_update:
        by_id[d.alloc.id].desired_status = "stop"
        new_places.append((d.name, d.task_group, d.alloc))
    for name, group, prev in new_places:
        serial[0] += 1
        alloc = Allocation(id=f"new{serial[0]:04d}", name=name, node_id="n0", job_id=job.id,
                           job=copy.deepcopy(job), task_group=group_of[group].name,
                           client_status="running", previous_allocation=prev.id if prev else "")
        if prev is not None:
            by_id[prev.id].next_allocation = alloc.id
        by_id[alloc.id] = alloc
    return list(by_id.values())


def live(allocs: list[Allocation], group: str) -> list[Allocation]:
    return [a for a in allocs if a.task_group == group and a.desired_status == "run"
            and a.client_status in ("pending", "running")]


alloc_specs = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from(NODES),
              st.sampled_from(["running", "pending", "failed", "complete", "lost"]),
              st.sampled_from(["run", "run", "run", "stop"]), st.booleans(), st.booleans()),
    max_size=8, unique_by=lambda spec: spec[0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(0, 6), specs=alloc_specs,
       down=st.sets(st.sampled_from(NODES[1:])), changed=st.booleans(),
       job_type=st.sampled_from(["service", "batch"]))
def test_reconcile_converges_to_count_with_unique_names(count, specs, down, changed, job_type):
    policy = ReschedulePolicy(attempts=0, interval=0, delay=0, delay_function="constant",
                              max_delay=0, unlimited=True)
    old = make_job(max(count, 1), type=job_type, reschedule=policy)
    job = new_version(old, count=count)
    job.task_groups[0].update = None
    if changed:
        job.task_groups[0].tasks[0].env["V"] = "2"
    allocs = []
    for index, node, status, desired, migrate, current in specs:
        if status == "lost":  # the reconciler only ever marks lost allocs stopped
            desired = "stop"
        alloc = make_alloc(job if current else old, index, node, client_status=status,
                           desired_status=desired, migrate=migrate and status == "running")
        if status == "failed":
            alloc.modify_time = NOW - SECOND
        allocs.append(alloc)
    tainted = {n: make_node(n, "down") for n in down}

    result = reconcile(job, "web", allocs, tainted, now=NOW)
    stopped_ids = [s.alloc.id for s in result.stop] + [d.alloc.id for d in result.destructive_update]
    kept_ids = [a.id for a in result.ignore] + [a.id for a in result.inplace_update]
    assert len(stopped_ids) == len(set(stopped_ids)), "an alloc stopped twice"
    assert not set(stopped_ids) & set(kept_ids), "an alloc both stopped and kept"
    counts = result.desired_tg_updates["web"]
    assert counts.place + counts.migrate == len(result.place)
    assert counts.destructive_update == len(result.destructive_update)
    assert counts.ignore == len(result.ignore)
    assert counts.inplace_update == len(result.inplace_update)

    serial = [0]
    state = allocs
    for _ in range(3):
        fresh = [p.index for p in result.place if p.previous_alloc is None]
        assert all(i < count for i in fresh), "a new name outside range(count)"
        state = apply(job, state, result, serial)
        result = reconcile(job, "web", state, tainted, now=NOW)
        if result.is_empty:
            break
    assert result.is_empty, result
    finished = [a for a in state if job_type == "batch" and a.client_status == "complete"
                and a.desired_status == "run" and a.job.version == job.version]
    running_now = live(state, "web")
    # Finished batch allocs are never replaced, nor stopped when the count goes down.
    assert len(running_now) <= count <= len(running_now) + len(finished)
    taken = sorted(a.index for a in running_now + finished)
    assert len(set(taken)) == len(taken), "duplicate names"
