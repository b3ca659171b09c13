"""``disconnect`` / ``max_client_disconnect``: unknown allocs, lost_after, replace, and the
reconcile strategies when a disconnected client comes back (pure, on the reconciler)."""

from __future__ import annotations

import dataclasses

import pytest
from factories import NOW, make_alloc, make_job, make_node

from nomadlab.scheduler.disconnect import (ALLOC_RECONNECTED, ALLOC_UNKNOWN,
                                           DISCONNECT_TIMEOUT_FOLLOWUP_EVAL_DESC, expired,
                                           needs_to_reconnect,
                                           node_status_after_missed_heartbeats,
                                           pick_reconnecting_alloc, with_client_state)
from nomadlab.scheduler.reconcile import ALLOC_LOST, ALLOC_NOT_NEEDED, reconcile
from nomadlab.structs import (AllocMetric, DisconnectStrategy, Job, NodeScoreMeta, TaskState)
from nomadlab.structs.duration import MINUTE, SECOND
from nomadlab.structs.timestamps import format_rfc3339

LOST_AFTER = 10 * MINUTE


def job_with(count: int = 2, **disconnect: object) -> Job:
    job = make_job(count)
    job.task_groups[0].disconnect = DisconnectStrategy(
        lost_after=LOST_AFTER, replace=disconnect.get("replace", True),
        reconcile=disconnect.get("reconcile", "best_score"))
    return job


def disconnected() -> dict:
    return {"node-1": make_node("node-1", "disconnected")}


def test_a_node_with_lost_after_allocs_is_disconnected_not_down() -> None:
    job = job_with()
    plain = make_job(1)
    assert node_status_after_missed_heartbeats([make_alloc(job, 0)], NOW) == "disconnected"
    assert node_status_after_missed_heartbeats([make_alloc(plain, 0)], NOW) == "down"
    legacy = make_job(1)
    legacy.task_groups[0].max_client_disconnect = LOST_AFTER
    assert node_status_after_missed_heartbeats([make_alloc(legacy, 0)], NOW) == "disconnected"
    stopped = make_alloc(job, 0, desired_status="stop")
    assert node_status_after_missed_heartbeats([stopped], NOW) == "down"


def test_disconnecting_allocs_become_unknown_with_a_timeout_followup_and_a_replacement() -> None:
    job = job_with(2)
    allocs = [make_alloc(job, 0, "node-1"), make_alloc(job, 1, "node-2")]
    result = reconcile(job, "web", allocs, disconnected(), now=NOW)

    (unknown,) = result.disconnect_updates
    assert unknown.id == allocs[0].id and unknown.client_status == "unknown"
    assert unknown.client_description == ALLOC_UNKNOWN
    assert needs_to_reconnect(unknown)
    assert unknown.alloc_states[-1].time == format_rfc3339(NOW)
    (followup,) = result.followup_evals
    assert followup.triggered_by == "max-disconnect-timeout"
    assert followup.status_description == DISCONNECT_TIMEOUT_FOLLOWUP_EVAL_DESC
    assert followup.wait_until == NOW + LOST_AFTER and followup.alloc_ids == (unknown.id,)
    (place,) = result.place
    assert place.name == "web.web[0]" and place.reschedule
    assert place.previous_alloc is not None and place.previous_alloc.id == allocs[0].id
    assert result.stop == (), "the unknown alloc is not stopped: it may come back"


def test_replace_false_keeps_no_replacement_while_unknown() -> None:
    job = job_with(2, replace=False)
    allocs = [make_alloc(job, 0, "node-1"), make_alloc(job, 1, "node-2")]
    result = reconcile(job, "web", allocs, disconnected(), now=NOW)
    assert [a.id for a in result.disconnect_updates] == [allocs[0].id]
    assert result.place == () and result.stop == ()


def test_an_unknown_alloc_is_left_alone_until_lost_after_then_lost() -> None:
    for replace in (True, False):
        job = job_with(1, replace=replace)
        unknown = with_client_state(make_alloc(job, 0, "node-1"), "unknown", NOW,
                                    client_status="unknown")
        others = [make_alloc(job, 0, "node-2", create_index=9)] if replace else []
        early = reconcile(job, "web", [unknown, *others], disconnected(),
                          now=NOW + LOST_AFTER - SECOND)
        assert early.is_empty, f"replace={replace}: nothing to do before lost_after"
        assert not expired(unknown, NOW + LOST_AFTER - SECOND)
        assert expired(unknown, NOW + LOST_AFTER)

        late = reconcile(job, "web", [unknown, *others], disconnected(), now=NOW + LOST_AFTER)
        (stop,) = late.stop
        assert (stop.alloc.id, stop.description, stop.client_status) == \
            (unknown.id, ALLOC_LOST, "lost")
        assert len(late.place) == (0 if replace else 1), "a replacement exists, or is placed"


def test_pending_allocs_and_groups_without_lost_after_are_lost_at_once() -> None:
    job = job_with(2)
    pending = make_alloc(job, 0, "node-1", client_status="pending")
    plain = make_job(1, job_id="plain")
    result = reconcile(job, "web", [pending, make_alloc(job, 1, "node-2")], disconnected(),
                       now=NOW)
    assert [(s.alloc.id, s.client_status) for s in result.stop] == [(pending.id, "lost")]
    result = reconcile(plain, "plain", [make_alloc(plain, 0, "node-1")], disconnected(), now=NOW)
    assert [s.client_status for s in result.stop] == ["lost"]
    assert result.disconnect_updates == ()


def reconnected(job: Job, **fields: object):
    """An original that was unknown and runs again, and its running replacement."""
    original = with_client_state(make_alloc(job, 0, "node-1", create_index=5, **fields),
                                 "unknown", NOW, client_status="running")
    replacement = make_alloc(job, 0, "node-2", create_index=9)
    return original, replacement


@pytest.mark.parametrize("strategy, keeps", [("keep_original", "original"),
                                             ("keep_replacement", "replacement"),
                                             ("best_score", "original")])
def test_on_reconnect_the_strategy_picks_who_stays(strategy: str, keeps: str) -> None:
    job = job_with(1, reconcile=strategy)
    original, replacement = reconnected(job)
    result = reconcile(job, "web", [original, replacement], {}, now=NOW + MINUTE)
    ((stop, description),) = [(s.alloc.id, s.description) for s in result.stop]
    if keeps == "original":
        assert (stop, description) == (replacement.id, ALLOC_RECONNECTED)
        (update,) = result.reconnect_updates
        assert update.id == original.id and not needs_to_reconnect(update)
        assert update.alloc_states[-1].value == "running"
    else:
        assert (stop, description) == (original.id, ALLOC_NOT_NEEDED)
        assert result.reconnect_updates == ()
    assert result.place == ()


def test_best_score_prefers_a_better_placed_running_replacement() -> None:
    job = job_with(1)

    def scored(alloc, score):
        return dataclasses.replace(alloc, metrics=AllocMetric(
            score_meta_data=[NodeScoreMeta(node_id=alloc.node_id, norm_score=score)]))

    original, replacement = reconnected(job)
    assert pick_reconnecting_alloc("best_score", scored(original, 0.4),
                                   scored(replacement, 0.9)).id == replacement.id
    assert pick_reconnecting_alloc("best_score", scored(original, 0.9),
                                   scored(replacement, 0.4)).id == original.id
    pending = dataclasses.replace(scored(replacement, 0.9), client_status="pending")
    assert pick_reconnecting_alloc("best_score", scored(original, 0.4), pending).id == \
        original.id, "a running alloc is never swapped for one that is not"


def test_longest_running_keeps_the_task_that_started_first() -> None:
    job = job_with(1, reconcile="longest_running")
    original, replacement = reconnected(job)
    original.task_states = {"server": TaskState(state="running",
                                                started_at=format_rfc3339(NOW - MINUTE))}
    replacement.task_states = {"server": TaskState(state="running",
                                                   started_at=format_rfc3339(NOW))}
    assert pick_reconnecting_alloc("longest_running", original, replacement) is original
    assert pick_reconnecting_alloc("longest_running", replacement, original) is original


def test_a_newer_job_version_replacement_always_wins() -> None:
    job = job_with(1, reconcile="keep_original")
    original, replacement = reconnected(job)
    replacement.job = dataclasses.replace(replacement.job, version=job.version + 1)
    assert pick_reconnecting_alloc("keep_original", original, replacement) is replacement


def test_a_reconnecting_alloc_that_failed_is_stopped_and_replaced() -> None:
    job = job_with(1)
    original = with_client_state(make_alloc(job, 0, "node-1", create_index=5), "unknown", NOW,
                                 client_status="failed")
    result = reconcile(job, "web", [original], {}, now=NOW + MINUTE)
    (stop,) = result.stop
    assert stop.alloc.id == original.id and stop.client_status == "failed"
    assert [p.name for p in result.place] == ["web.web[0]"]


def test_stop_on_client_after_delays_the_replacement_until_the_client_stopped_it() -> None:
    for legacy in (False, True):
        job = make_job(1)
        group = job.task_groups[0]
        if legacy:
            group.stop_after_client_disconnect = 30 * SECOND
        else:
            group.disconnect = DisconnectStrategy(stop_on_client_after=30 * SECOND,
                                                  replace=True, reconcile="best_score")
        group.tasks[0].kill_timeout = 10 * SECOND
        alloc = make_alloc(job, 0, "node-1")
        result = reconcile(job, "web", [alloc], {"node-1": make_node("node-1", "down")},
                           now=NOW)
        assert [(s.alloc.id, s.client_status) for s in result.stop] == [(alloc.id, "lost")]
        assert result.place == (), "the whole group waits for the client to stop it"
        (followup,) = result.followup_evals
        assert followup.wait_until == NOW + 40 * SECOND and followup.alloc_ids == (alloc.id,)
