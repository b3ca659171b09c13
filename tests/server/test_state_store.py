"""The state store: one index, versioned jobs, snapshots, history and the change feed."""

from __future__ import annotations

import threading

import pytest

from nomadlab.structs import SchedulerConfig
from nomadlab.server import (HistoryTruncated, ObjectNotFound, StateError,
                             StateStore)
from nomadlab.structs import (ACLToken, Allocation, DesiredTransition, DrainStrategy,
                              Evaluation, Job, Node, TaskGroup, TaskState)


def make_job(job_id: str = "web", count: int = 2, job_type: str = "service", **kw) -> Job:
    return Job(id=job_id, name=job_id, type=job_type,
               task_groups=[TaskGroup(name="app", count=count)], **kw)


def make_alloc(alloc_id: str, job_id: str = "web", node_id: str = "node-1",
               eval_id: str = "ev-1", index: int = 0, **kw) -> Allocation:
    return Allocation(id=alloc_id, job_id=job_id, node_id=node_id, eval_id=eval_id,
                      task_group="app", name=f"{job_id}.app[{index}]", **kw)


def test_each_write_is_one_transaction_that_stamps_indexes() -> None:
    store = StateStore()
    assert store.index == 0
    job = store.upsert_job(make_job())
    assert (store.index, job.create_index, job.modify_index, job.job_modify_index) == (1, 1, 1, 1)
    assert job.namespace == "default" and job.version == 0 and job.status == "pending"
    evals = store.upsert_evals([Evaluation(id="ev-1", job_id="web", type="service"),
                                Evaluation(id="ev-2", job_id="web", type="service")])
    assert store.index == 2 and [e.create_index for e in evals] == [2, 2]
    updated = store.upsert_evals([Evaluation(id="ev-1", job_id="web", status="complete")])[0]
    assert (updated.create_index, updated.modify_index) == (2, 3)


def test_changed_job_gets_a_new_version_and_unchanged_one_does_not() -> None:
    store = StateStore()
    first = store.upsert_job(make_job(count=2))
    assert store.upsert_job(make_job(count=2)) is first
    assert store.index == 1
    second = store.upsert_job(make_job(count=3))
    assert (second.version, second.create_index, second.job_modify_index) == (1, 1, 2)
    assert [j.version for j in store.job_versions("default", "web")] == [1, 0]
    assert store.job_by_version("default", "web", 0).task_groups[0].count == 2
    assert store.job_by_version("default", "web", 7) is None


def test_stop_is_a_new_version_and_purge_removes_the_job() -> None:
    store = StateStore()
    store.upsert_job(make_job())
    stopped = store.delete_job("default", "web")
    assert stopped.stop and stopped.version == 1
    assert store.job_summary("default", "web") is not None
    store.delete_job("default", "web", purge=True)
    assert store.job("default", "web") is None and store.job_versions("default", "web") == []
    assert store.job_summary("default", "web") is None
    with pytest.raises(ObjectNotFound, match='job "web" not found'):
        store.delete_job("default", "web")


def test_writes_copy_their_input_and_never_change_what_readers_hold() -> None:
    store = StateStore()
    mine = make_job()
    stored = store.upsert_job(mine)
    mine.task_groups[0].count = 99
    assert store.job("default", "web").task_groups[0].count == 2
    store.upsert_evals([Evaluation(id="ev-1", job_id="web")])
    store.upsert_allocs([make_alloc("a1")])
    held_alloc = store.alloc("a1")
    store.update_allocs_from_client([make_alloc("a1", client_status="running")])
    assert held_alloc.client_status == "pending" and held_alloc.modify_index == 3
    assert store.alloc("a1").client_status == "running"
    assert stored.status == "pending"  # the job became running in a later version of the row


def test_snapshot_does_not_see_later_writes() -> None:
    store = StateStore()
    store.upsert_job(make_job())
    snap = store.snapshot()
    store.upsert_job(make_job("api"))
    store.upsert_node(Node(id="n1"))
    assert [j.id for j in snap.jobs()] == ["web"] and snap.nodes() == [] and snap.index == 1
    assert [j.id for j in store.jobs()] == ["api", "web"]
    assert not hasattr(snap, "upsert_job")


def test_snapshot_at_gives_past_states_within_the_kept_history() -> None:
    store = StateStore(history=3)
    for count in (1, 2, 3, 4):
        store.upsert_job(make_job(count=count))
    assert store.snapshot_at(4).job("default", "web").task_groups[0].count == 4
    assert store.snapshot_at(2).job("default", "web").task_groups[0].count == 2
    with pytest.raises(HistoryTruncated, match="keeps the last 3 states"):
        store.snapshot_at(1)
    with pytest.raises(StateError, match="in the future"):
        store.snapshot_at(9)
    assert [index for index, _ in store.history()] == [2, 3, 4]
    with pytest.raises(HistoryTruncated):
        store.events(0)


def test_wait_for_index_wakes_when_a_writer_commits() -> None:
    store = StateStore()
    assert store.wait_for_index(0, timeout=0.01) == 0
    writer = threading.Timer(0.05, lambda: store.upsert_node(Node(id="n1")))
    writer.start()
    assert store.wait_for_index(0, timeout=60) == 1, "woke on the commit, not the timeout"
    writer.join()
    assert store.snapshot_min_index(1, timeout=0).index == 1
    with pytest.raises(TimeoutError):
        store.snapshot_min_index(5, timeout=0.01)


def test_change_feed_has_one_event_per_changed_object_with_nomads_shape() -> None:
    store = StateStore()
    seen: list = []
    unsubscribe = store.subscribe(seen.extend)
    stream = store.stream()
    store.upsert_job(make_job())
    store.upsert_evals([Evaluation(id="ev-1", job_id="web", type="service")])
    index = store.apply_plan_results([make_alloc("a1")],
                                     eval_updates=[Evaluation(id="ev-1", job_id="web",
                                                              status="complete")])
    events = store.events(since_index=2)
    assert [(e.topic, e.type, e.key) for e in events] == [
        ("Allocation", "PlanResult", "a1"), ("Evaluation", "PlanResult", "ev-1"),
        ("Job", "PlanResult", "web")]
    assert {e.index for e in events} == {index} == {3}
    assert events[2].payload.status == "running"
    api = events[0].to_api()
    assert api["Topic"] == "Allocation" and api["Payload"]["Allocation"]["ID"] == "a1"
    assert [e.type for e in store.events(0)][:2] == ["JobRegistered", "EvaluationUpdated"]
    assert seen == store.events(0)
    assert [stream.get(timeout=1).type for _ in range(5)][:2] == ["JobRegistered",
                                                                  "EvaluationUpdated"]
    assert stream.get(timeout=0.01) is None
    unsubscribe()
    stream.close()
    store.upsert_node(Node(id="n1"))
    assert len(seen) == 5


def test_a_slow_stream_is_cut_off_rather_than_slowing_writers() -> None:
    from nomadlab.server import EventStreamOverflow
    store = StateStore()
    stream = store.stream(maxsize=2)
    for node_id in ("n1", "n2", "n3"):
        store.upsert_node(Node(id=node_id))
    with pytest.raises(EventStreamOverflow):
        stream.get(timeout=0)


def test_callbacks_may_not_write() -> None:
    store = StateStore()
    errors: list = []

    def writer(events) -> None:
        try:
            store.upsert_node(Node(id="again"))
        except StateError as exc:
            errors.append(exc)
    store.subscribe(writer)
    store.upsert_node(Node(id="n1"))
    assert errors and store.index == 1


def test_job_status_and_summary_follow_allocations() -> None:
    store = StateStore()
    store.upsert_job(make_job(count=2))
    summary = store.job_summary("default", "web").summary["app"]
    assert summary.queued == summary.starting == 0
    store.upsert_evals([Evaluation(id="ev-1", job_id="web", queued_allocations={"app": 2})])
    assert store.job_summary("default", "web").summary["app"].queued == 2
    assert store.job("default", "web").status == "pending"

    store.apply_plan_results([make_alloc("a1"), make_alloc("a2", index=1)],
                             eval_updates=[Evaluation(id="ev-1", job_id="web",
                                                      status="complete")])
    assert store.job("default", "web").status == "running"
    s = store.job_summary("default", "web").summary["app"]
    assert (s.queued, s.starting, s.running) == (0, 2, 0)

    store.update_allocs_from_client([
        make_alloc("a1", client_status="running",
                   task_states={"app": TaskState(state="running")}),
        make_alloc("a2", client_status="failed"), make_alloc("unknown-alloc")])
    s = store.job_summary("default", "web").summary["app"]
    assert (s.starting, s.running, s.failed) == (0, 1, 1)
    assert store.alloc("a1").task_states["app"].state == "running"

    store.delete_job("default", "web")
    assert store.job("default", "web").status == "running"  # a1 still runs
    store.upsert_evals([Evaluation(id="ev-2", job_id="web", status="complete")])
    store.apply_plan_results([], [Allocation(id="a1", desired_description="job stopped")])
    stopped = store.alloc("a1")
    assert stopped.desired_status == "stop" and stopped.client_status == "running"
    assert stopped.alloc_modify_index == store.index
    assert store.job("default", "web").status == "dead"


def test_server_upserts_keep_what_the_client_reported() -> None:
    store = StateStore()
    store.upsert_job(make_job())
    store.upsert_allocs([make_alloc("a1")])
    store.update_allocs_from_client([make_alloc("a1", client_status="running")])
    client_index = store.alloc("a1").modify_index
    assert store.alloc("a1").alloc_modify_index < client_index
    store.upsert_allocs([make_alloc("a1", desired_description="still wanted")])
    assert store.alloc("a1").client_status == "running"
    store.upsert_allocs([make_alloc("a1", client_status="lost")])
    assert store.alloc("a1").client_status == "lost"


def test_alloc_without_a_stored_job_is_refused_and_nothing_is_committed() -> None:
    store = StateStore()
    with pytest.raises(StateError, match='names job "ghost"'):
        store.apply_plan_results([make_alloc("a1", job_id="ghost")])
    assert store.index == 0 and store.alloc("a1") is None


def test_alloc_indexes_by_job_node_and_eval() -> None:
    store = StateStore()
    store.upsert_job(make_job())
    store.upsert_allocs([make_alloc("a1", node_id="n1"), make_alloc("a2", node_id="n2",
                                                                  eval_id="ev-2")])
    assert [a.id for a in store.allocs("web")] == ["a1", "a2"]
    assert [a.id for a in store.allocs_by_node("n2")] == ["a2"]
    assert [a.id for a in store.allocs_by_eval("ev-1")] == ["a1"]
    store.apply_plan_results([], [Allocation(id="a2")])
    assert store.allocs_by_node("n2", terminal=False) == []
    assert store.allocs("web")[0].job is store.job_by_version("default", "web", 0)
    store.update_alloc_desired_transition({"a1": DesiredTransition(migrate=True)})
    assert store.alloc("a1").desired_transition.migrate is True
    store.delete_evals(["ev-1"], ["a1"])
    assert store.allocs_by_node("n1") == [] and store.eval("ev-1") is None


def test_a_successful_eval_cancels_the_jobs_blocked_eval() -> None:
    store = StateStore()
    store.upsert_job(make_job())
    store.upsert_evals([Evaluation(id="blocked-1", job_id="web", status="blocked")])
    store.upsert_evals([Evaluation(id="ev-2", job_id="web", status="complete")])
    assert store.eval("blocked-1").status == "canceled"
    assert store.eval("blocked-1").status_description == 'evaluation "ev-2" successful'


def test_nodes_keep_server_decisions_across_reregistration() -> None:
    store = StateStore()
    node = store.upsert_node(Node(id="n1", status="ready"))
    assert node.events[0].message == "Node registered"
    store.update_node_drain("n1", DrainStrategy(deadline=10))
    assert store.node("n1").scheduling_eligibility == "ineligible"
    with pytest.raises(StateError, match="while it is draining"):
        store.update_node_eligibility("n1", "eligible")
    store.upsert_node(Node(id="n1", status="ready"))
    assert store.node("n1").drain and store.node("n1").create_index == 1
    store.update_node_drain("n1", None, mark_eligible=True)
    store.update_node_status("n1", "down")
    assert store.node("n1").scheduling_eligibility == "eligible"
    assert [e.type for e in store.events(1)] == ["NodeDrain", "NodeRegistration", "NodeDrain",
                                                 "NodeEvent"]
    store.delete_node("n1")
    assert store.node("n1") is None
    with pytest.raises(ObjectNotFound):
        store.update_node_status("n1", "ready")


def test_prefix_lookup_and_acl_tokens() -> None:
    store = StateStore()
    store.upsert_job(make_job("web"))
    store.upsert_job(make_job("worker"))
    store.upsert_evals([Evaluation(id="abc123", job_id="web"),
                        Evaluation(id="abd456", job_id="web")])
    assert [j.id for j in store.find_by_prefix("jobs", "w")] == ["web", "worker"]
    assert [e.id for e in store.find_by_prefix("evals", "abc")] == ["abc123"]
    assert len(store.find_by_prefix("evals", "ab")) == 2
    with pytest.raises(ValueError, match="tables: jobs"):
        store.find_by_prefix("widgets", "a")
    store.upsert_acl_tokens([ACLToken(accessor_id="acc-1", secret_id="s3cret")])
    assert store.acl_token_by_secret("s3cret").accessor_id == "acc-1"
    assert store.events(store.index - 1)[0].payload.secret_id == ""


def test_scheduler_config_defaults_to_binpack_and_validates() -> None:
    store = StateStore()
    assert store.scheduler_config().to_api()["SchedulerAlgorithm"] == "binpack"
    store.set_scheduler_config(SchedulerConfig(scheduler_algorithm="spread"))
    assert store.scheduler_config().scheduler_algorithm == "spread"
    with pytest.raises(StateError, match="binpack, spread"):
        store.set_scheduler_config(SchedulerConfig(scheduler_algorithm="random"))


def test_system_jobs_run_until_stopped() -> None:
    store = StateStore()
    assert store.upsert_job(make_job("agent", job_type="system")).status == "running"
    assert store.delete_job("default", "agent").status == "dead"
