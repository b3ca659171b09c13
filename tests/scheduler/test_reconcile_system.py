"""The system/sysbatch reconciler: one allocation per group on every eligible node."""

from __future__ import annotations

import copy
import dataclasses

from factories import make_alloc, make_job, make_node, new_version
from hypothesis import given, settings
from hypothesis import strategies as st

from nomadlab.scheduler.reconcile import (ALLOC_LOST, ALLOC_NODE_TAINTED, ALLOC_NOT_NEEDED,
                                          DesiredUpdates)
from nomadlab.scheduler.reconcile_system import reconcile_system

NODES = [make_node(f"n{i}") for i in range(3)]


def system_job(**kw):
    return make_job(1, job_id="agent", type="system", **kw)


def test_places_one_per_node():
    result = reconcile_system(system_job(), "agent", [], NODES, {})
    assert [(p.name, p.node_id) for p in result.place] == [
        ("agent.web[0]", "n0"), ("agent.web[0]", "n1"), ("agent.web[0]", "n2")]
    assert result.desired_tg_updates["web"] == DesiredUpdates(place=3)


def test_new_node_gets_an_alloc_and_existing_ones_are_ignored():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES[:2]]
    result = reconcile_system(job, "agent", allocs, NODES, {})
    assert [p.node_id for p in result.place] == ["n2"]
    assert result.desired_tg_updates["web"] == DesiredUpdates(place=1, ignore=2)


def test_node_no_longer_eligible_is_stopped():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES]
    result = reconcile_system(job, "agent", allocs, NODES[:2], {})
    assert [(s.alloc.node_id, s.description) for s in result.stop] == [("n2", ALLOC_NOT_NEEDED)]
    assert result.place == ()


def test_not_ready_node_is_left_alone():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES]
    result = reconcile_system(job, "agent", allocs, NODES[:2], {}, not_ready_node_ids={"n2"})
    assert result.is_empty


def test_lost_node_stops_without_replacement():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES]
    result = reconcile_system(job, "agent", allocs, NODES[:2], {"n2": make_node("n2", "down")})
    assert [(s.alloc.node_id, s.description, s.client_status) for s in result.stop] == [
        ("n2", ALLOC_LOST, "lost")]
    assert result.place == ()


def test_drain_migrate_flag_stops_as_tainted():
    job = system_job()
    allocs = [make_alloc(job, 0, "n0", migrate=True)]
    result = reconcile_system(job, "agent", allocs, NODES[1:], {"n0": make_node("n0")})
    assert [s.description for s in result.stop] == [ALLOC_NODE_TAINTED]
    assert result.desired_tg_updates["web"].migrate == 1


def test_stopped_job_stops_all():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES]
    for stopped in (None, dataclasses.replace(copy.deepcopy(job), stop=True)):
        result = reconcile_system(stopped, "agent", allocs, NODES, {})
        assert len(result.stop) == 3 and result.place == ()


def test_config_change_is_destructive_and_kill_timeout_change_in_place():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES]
    destructive = new_version(job)
    destructive.task_groups[0].tasks[0].config["image"] = "nginx:2"
    result = reconcile_system(destructive, "agent", allocs, NODES, {})
    assert [d.alloc.node_id for d in result.destructive_update] == ["n0", "n1", "n2"]
    inplace = new_version(job)
    inplace.task_groups[0].tasks[0].kill_timeout = 1
    result = reconcile_system(inplace, "agent", allocs, NODES, {})
    assert len(result.inplace_update) == 3 and result.destructive_update == ()


def test_rolling_update_limits_destructive_updates():
    job = system_job()
    allocs = [make_alloc(job, 0, n.id) for n in NODES]
    new = new_version(job)
    new.task_groups[0].tasks[0].config["image"] = "nginx:2"
    new.update = copy.deepcopy(make_job(1).update)  # stagger 30s, max_parallel 1
    result = reconcile_system(new, "agent", allocs, NODES, {})
    assert len(result.destructive_update) == 1
    assert result.desired_tg_updates["web"] == DesiredUpdates(destructive_update=1, ignore=2)
    assert result.limit_reached, "the rest follows after the stagger"


def test_failed_system_alloc_is_replaced_on_its_node():
    job = system_job()
    failed = make_alloc(job, 0, "n0", client_status="failed")
    result = reconcile_system(job, "agent", [failed], NODES[:1], {})
    (p,) = result.place
    assert (p.node_id, p.previous_alloc) == ("n0", failed)


def test_sysbatch_completed_alloc_is_not_rerun_unless_job_changed():
    job = make_job(1, job_id="once", type="sysbatch")
    done = make_alloc(job, 0, "n0", client_status="complete")
    result = reconcile_system(job, "once", [done], NODES[:1], {})
    assert result.place == () and result.ignore == (done,)
    new = new_version(job)
    new.task_groups[0].tasks[0].config["image"] = "nginx:2"
    result = reconcile_system(new, "once", [done], NODES[:1], {})
    assert [d.alloc for d in result.destructive_update] == [done]


def test_duplicate_allocs_on_a_node_keep_the_newest():
    job = system_job()
    old = make_alloc(job, 0, "n0", create_index=5)
    new = make_alloc(job, 0, "n0", create_index=9)
    result = reconcile_system(job, "agent", [old, new], NODES[:1], {})
    assert [s.alloc for s in result.stop] == [old]
    assert result.ignore == (new,)


@settings(max_examples=100, deadline=None)
@given(have=st.sets(st.integers(0, 4)), eligible=st.sets(st.integers(0, 4)),
       down=st.sets(st.integers(0, 4)))
def test_every_eligible_node_ends_with_exactly_one(have, eligible, down):
    job = system_job()
    nodes = [make_node(f"n{i}") for i in sorted(eligible - down)]
    allocs = [make_alloc(job, 0, f"n{i}") for i in sorted(have)]
    tainted = {f"n{i}": make_node(f"n{i}", "down") for i in down}
    result = reconcile_system(job, "agent", allocs, nodes, tainted)
    stopped = {s.alloc.id for s in result.stop}
    kept = {a.node_id for a in allocs if a.id not in stopped}
    placed = [p.node_id for p in result.place]
    assert len(placed) == len(set(placed))
    assert kept.isdisjoint(placed)
    assert kept | set(placed) == {n.id for n in nodes}
