"""The state store on disk: the log's framing and replay, compaction, the server's rebuild
after a restart, and a real agent process killed with SIGKILL in the middle of a stream of
HTTP registrations."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from nomadlab.jobspec import parse_job
from nomadlab.server.persist import LOG_FILE, SNAPSHOT_FILE, StateLog, StateLogError
from nomadlab.structs import SchedulerConfig
from nomadlab.server.server import Server
from nomadlab.server.state import StateError, StateStore
from nomadlab.structs import (ACLPolicy, ACLToken, Allocation, Deployment, DesiredTransition,
                              DrainStrategy, Evaluation)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from agent_process import AgentProcess, api, free_port  # noqa: E402
from placements import simulated_node  # noqa: E402

JOB = """job "%s" {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config { command = "sleep" }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}"""


def tables(store: StateStore) -> dict[str, Any]:
    """Every table of the store's latest state, as plain values to compare."""
    t = store._tables()
    return {f.name: (dict(getattr(t, f.name)) if hasattr(getattr(t, f.name), "items")
                     else getattr(t, f.name)) for f in dataclasses.fields(t)}


def exercise(store: StateStore) -> None:
    """One of every kind of write the store takes."""
    for i in range(3):
        store.upsert_node(simulated_node(f"n{i}", seed=1))
    nodes = store.nodes()
    store.upsert_job(parse_job(JOB % ("web", 2)))
    store.upsert_job(parse_job(JOB % ("web", 3)))            # a second version
    store.upsert_job(parse_job(JOB % ("gone", 1)))
    job = store.job("default", "web")
    ev = Evaluation(id="ev-1", namespace="default", priority=50, type="service",
                    triggered_by="job-register", job_id="web", status="pending",
                    job_modify_index=job.job_modify_index)
    store.upsert_evals([ev])
    allocs = [Allocation(id=f"alloc-{i}", namespace="default", eval_id="ev-1",
                         name=f"web.g[{i}]", node_id=nodes[i].id, job_id="web",
                         task_group="g", desired_status="run", client_status="pending")
              for i in range(3)]
    store.apply_plan_results(allocs, deployment=Deployment(id="dep-1", namespace="default",
                                                           job_id="web"),
                             eval_updates=[dataclasses.replace(ev, status="complete")])
    store.update_allocs_from_client([dataclasses.replace(store.alloc("alloc-0"),
                                                         client_status="running")])
    store.update_alloc_desired_transition({"alloc-1": DesiredTransition(migrate=True)})
    store.apply_plan_results([], [dataclasses.replace(store.alloc("alloc-2"),
                                                      desired_status="stop")])
    store.delete_evals([], ["alloc-2"])                       # garbage collected
    store.update_node_status(nodes[1].id, "down")
    store.update_node_drain(nodes[2].id, DrainStrategy(deadline=60))
    store.delete_node(nodes[0].id)
    store.upsert_acl_policies([ACLPolicy(name="readonly", rules="")])
    store.upsert_acl_tokens([ACLToken(accessor_id="acc-1", secret_id="sec-1", name="t")])
    store.upsert_acl_tokens([ACLToken(accessor_id="acc-2", secret_id="sec-2", name="u")])
    store.delete_acl_tokens(["acc-2"])
    store.set_scheduler_config(SchedulerConfig(scheduler_algorithm="spread"))
    store.delete_job("default", "gone", purge=True)
    store.delete_job("default", "web")                        # stopped: a new version


def reopen(directory: Path, **kwargs: Any) -> StateStore:
    store = StateStore()
    store.open_log(str(directory), **kwargs)
    return store


# -- the log ------------------------------------------------------------------------------


def test_log_replay_rebuilds_the_live_store_exactly(tmp_path: Path) -> None:
    live = StateStore()
    restored = live.open_log(str(tmp_path))
    assert restored.index == 0 and restored.records == 0
    exercise(live)
    again = reopen(tmp_path)
    assert again.index == live.index
    assert tables(again) == tables(live)
    assert again.job_versions("default", "web") == live.job_versions("default", "web")
    assert again.acl_token_by_secret("sec-1") == live.acl_token("acc-1")
    assert again.allocs_by_node(live.alloc("alloc-1").node_id) == \
        live.allocs_by_node(live.alloc("alloc-1").node_id)


def test_restored_store_goes_on_from_its_index(tmp_path: Path) -> None:
    first = StateStore()
    first.open_log(str(tmp_path))
    exercise(first)
    first.close_log()
    second = reopen(tmp_path)
    job = second.upsert_job(parse_job(JOB % ("next", 1)))
    assert job.create_index == first.index + 1
    third = reopen(tmp_path)
    assert tables(third) == tables(second)


def test_a_torn_tail_record_is_dropped_and_the_log_goes_on_after_it(tmp_path: Path) -> None:
    live = StateStore()
    live.open_log(str(tmp_path))
    exercise(live)
    before = tables(live)
    live.upsert_job(parse_job(JOB % ("torn", 1)))
    live.close_log()
    log_path = tmp_path / LOG_FILE
    data = log_path.read_bytes()
    log_path.write_bytes(data[:-7])            # the process died in the middle of a write

    again = StateStore()
    restored = again.open_log(str(tmp_path))
    assert restored.dropped_bytes > 0
    assert tables(again) == before
    assert again.job("default", "torn") is None
    again.upsert_job(parse_job(JOB % ("after", 1)))   # appended after the last good record
    again.close_log()
    third = reopen(tmp_path)
    assert third.job("default", "after") is not None
    assert third.index == before["index"] + 1


def test_a_tail_record_failing_its_checksum_is_dropped(tmp_path: Path) -> None:
    live = StateStore()
    live.open_log(str(tmp_path))
    live.upsert_job(parse_job(JOB % ("kept", 1)))
    live.upsert_job(parse_job(JOB % ("flipped", 1)))
    live.close_log()
    log_path = tmp_path / LOG_FILE
    data = bytearray(log_path.read_bytes())
    data[-3] ^= 0xFF
    log_path.write_bytes(bytes(data))
    again = StateStore()
    assert again.open_log(str(tmp_path)).dropped_bytes > 0
    assert again.job("default", "kept") is not None
    assert again.job("default", "flipped") is None


def test_compaction_writes_a_snapshot_and_empties_the_log(tmp_path: Path) -> None:
    live = StateStore()
    live.open_log(str(tmp_path), compact_records=5)
    exercise(live)
    state_log = live._log
    assert state_log is not None
    assert (tmp_path / SNAPSHOT_FILE).exists()
    assert state_log.records < 5
    again = reopen(tmp_path)
    assert tables(again) == tables(live)


CONSTRAINED = JOB.replace('datacenters = ["dc1"]', '''datacenters = ["dc1"]
  constraint {
    attribute = "${node.class}"
    operator  = "!="
    value     = "gpu"
  }''')


@pytest.mark.parametrize("compact_records", [10_000, 1], ids=["log", "snapshot"])
def test_an_evaluations_trace_comes_back_exactly(tmp_path: Path, compact_records: int) -> None:
    """Every node record and check of every placement, from the log and from a snapshot."""
    server = Server(seed=1)
    server.state.open_log(str(tmp_path), compact_records=compact_records)
    server.register_node(simulated_node("gpu", node_class="gpu", seed=1))
    server.register_node(simulated_node("tiny", cpu=30, memory=20, seed=1))
    for i in range(3):
        server.register_node(simulated_node(f"n{i}", seed=1))
    ev = server.register_job(parse_job(CONSTRAINED % ("traced", 4)))
    server.run_until_idle()
    trace = server.state.eval(ev.id).trace
    outcomes = {record.outcome for p in trace.placements for record in p.nodes}
    assert {"filtered", "exhausted", "chosen"} <= outcomes
    assert any(check.reason and not check.passed
               for p in trace.placements for record in p.nodes for check in record.checks)
    server.state.close_log()
    again = reopen(tmp_path)
    assert again.eval(ev.id).trace == trace
    assert tables(again) == tables(server.state)


@pytest.mark.parametrize("name", [LOG_FILE, SNAPSHOT_FILE])
def test_a_version_2_data_dir_still_loads(tmp_path: Path, name: str) -> None:
    live = StateStore()
    live.open_log(str(tmp_path), compact_records=3)
    exercise(live)
    live.close_log()
    path = tmp_path / name
    old_magic = b"NLSNAP2\n" if name == SNAPSHOT_FILE else b"NLLOG02\n"
    path.write_bytes(old_magic + path.read_bytes()[len(old_magic):])
    again = reopen(tmp_path)
    assert tables(again) == tables(live)
    again.upsert_job(parse_job(JOB % ("later", 1)))
    again.close_log()
    assert (tmp_path / LOG_FILE).read_bytes().startswith(b"NLLOG03\n")   # what follows is v3
    assert reopen(tmp_path).job("default", "later") is not None


def test_a_crash_between_snapshot_and_log_truncation_replays_nothing_twice(
        tmp_path: Path) -> None:
    live = StateStore()
    live.open_log(str(tmp_path))
    exercise(live)
    old_log = (tmp_path / LOG_FILE).read_bytes()
    state_log = live._log
    assert state_log is not None
    t = live._tables()
    state_log.compact(t.index, {name: {k: tuple(v) if name == "job_versions" else v
                                       for k, v in getattr(t, name).items()}
                                for name in ("jobs", "job_versions", "job_summaries", "evals",
                                             "allocs", "nodes", "deployments",
                                             "acl_policies", "acl_tokens")},
                      dict(t.table_index), t.scheduler_config)
    live.close_log()
    (tmp_path / LOG_FILE).write_bytes(old_log)   # the truncation never happened
    again = reopen(tmp_path)
    assert tables(again) == tables(live)


def test_a_log_with_a_missing_transaction_is_refused(tmp_path: Path) -> None:
    state_log = StateLog(str(tmp_path))
    state_log.load()
    state_log.append((1, "JobRegistered", ("jobs",), {}, {}, None))
    state_log.append((3, "JobRegistered", ("jobs",), {}, {}, None))
    state_log.close()
    with pytest.raises(StateLogError, match="transaction 3 follows 1"):
        StateLog(str(tmp_path)).load()


def test_a_write_that_cannot_be_persisted_is_not_committed(tmp_path: Path) -> None:
    live = StateStore()
    live.open_log(str(tmp_path))
    live.upsert_job(parse_job(JOB % ("kept", 1)))
    state_log = live._log
    assert state_log is not None and state_log._fd is not None
    os.close(state_log._fd)                         # the disk went away
    with pytest.raises(StateError, match="nothing was committed"):
        live.upsert_job(parse_job(JOB % ("lost", 1)))
    assert live.job("default", "lost") is None
    assert live.index == 1
    state_log._fd = None


def test_only_an_empty_store_opens_a_log(tmp_path: Path) -> None:
    store = StateStore()
    store.upsert_job(parse_job(JOB % ("web", 1)))
    with pytest.raises(StateError, match="empty store"):
        store.open_log(str(tmp_path))


# -- the server rebuilds what it keeps outside the store ----------------------------------


def test_a_restarted_server_rebuilds_broker_blocked_delayed_periodic_and_heartbeats(
        tmp_path: Path) -> None:
    first = Server(seed=1)
    first.restore(str(tmp_path))
    node = first.register_node(simulated_node("small", cpu=1000, memory=1024, seed=1))
    pending = first.register_job(parse_job(JOB % ("pending", 1)))   # not scheduled yet
    first.register_job(parse_job((JOB % ("huge", 1)).replace("memory = 16", "memory = 4096")))
    first.run_until_idle()
    later = dataclasses.replace(
        first._new_eval(first.state.job("default", "pending"), "job-register"),
        wait_until="2999-01-01T00:00:00Z")
    first.state.upsert_evals([later])
    first.register_job(parse_job("""job "cron" {
      type = "batch"
      periodic { crons = ["*/5 * * * *"] }
      group "g" {
        task "t" {
          driver = "exec"
          config { command = "true" }
        }
      }
    }"""))
    blocked = [e for e in first.state.evals("huge") if e.status == "blocked"]
    assert len(blocked) == 1
    pending_after = first.state.eval(pending.id)
    assert pending_after.status == "complete"
    first.state.close_log()

    # the same state, with one more pending evaluation nobody scheduled before the "crash"
    store = StateStore()
    store.open_log(str(tmp_path))
    job = store.job("default", "pending")
    store.upsert_evals([Evaluation(id="left-pending", namespace="default", priority=50,
                                   type="service", triggered_by="job-register",
                                   job_id="pending", status="pending",
                                   job_modify_index=job.job_modify_index)])
    store.close_log()

    second = Server(seed=1)
    index = second.restore(str(tmp_path))
    assert index == store.index
    assert [e.id for e in second.broker.ready("service")] == ["left-pending"]
    assert [e.id for e in second.blocked.blocked()] == [blocked[0].id]
    assert [e.id for e in second._delayed] == [later.id]
    assert second.next_periodic_launch("default", "cron") is not None
    assert node.id in second._heartbeats
    assert second.check_heartbeats() == []            # not marked down at once
    records = second.run_until_idle()
    assert any(r.eval_id == "left-pending" and r.stage == "eval-completed" for r in records)
    ids = {e.id for e in first.state.evals()} | {a.id for a in first.state.allocs()}
    fresh = second.register_job(parse_job(JOB % ("new", 1)))
    assert fresh.id not in ids                        # the seeded IDs do not repeat
    second.state.close_log()


# -- a real agent killed in the middle of HTTP registrations ------------------------------


@pytest.fixture
def agent_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_kill_9_during_registrations_loses_no_acknowledged_write(agent_dir: Path) -> None:
    port = free_port()
    agent = AgentProcess(agent_dir, port)
    acknowledged: dict[str, tuple[int, str]] = {}    # job id -> (version, eval id)
    stop = threading.Event()
    enough = threading.Event()       # every job acknowledged at least twice: kill now
    errors: list[str] = []

    def register() -> None:
        i = 0
        while not stop.is_set():
            job_id = f"job-{i % 40}"
            count = 1 + i // 40
            job = parse_job(JOB % (job_id, count)).to_api()
            try:
                status, body = api(port, "PUT", "/v1/jobs", {"Job": job})
            except OSError:
                return                       # the agent is gone: this one was never answered
            if status != 200:
                errors.append(f"{status}: {body}")
                return
            acknowledged[job_id] = (count - 1, body["EvalID"])
            if i >= 80:
                enough.set()
            i += 1
        enough.set()

    try:
        agent.wait_started()
        writer = threading.Thread(target=register)
        writer.start()
        log_path = agent_dir / "server" / LOG_FILE
        assert enough.wait(120), errors   # the stream goes on while the agent is killed
        assert not errors, errors
        agent.kill()
        stop.set()
        writer.join(60)
        assert not errors, errors
        snapshot = dict(acknowledged)
        assert log_path.exists()

        agent = AgentProcess(agent_dir, port)
        agent.wait_started()
        status, jobs = api(port, "GET", "/v1/jobs")
        assert status == 200
        listed = {j["ID"]: j for j in jobs}
        for job_id, (version, eval_id) in snapshot.items():
            assert job_id in listed, f"acknowledged job {job_id} lost"
            status, job = api(port, "GET", f"/v1/job/{job_id}")
            assert job["Version"] >= version, (job_id, job["Version"], version)
            status, versions = api(port, "GET", f"/v1/job/{job_id}/versions")
            assert version in [v["Version"] for v in versions["Versions"]]
            status, ev = api(port, "GET", f"/v1/evaluation/{eval_id}")
            assert status == 200 and ev["JobID"] == job_id
        # and it serves: a new registration is acknowledged and readable
        status, body = api(port, "PUT", "/v1/jobs", {"Job": parse_job(JOB % ("after", 1)).to_api()})
        assert status == 200
        assert api(port, "GET", "/v1/job/after")[0] == 200
        assert re.search(r"Data Dir: .*data", "".join(agent.lines))
    finally:
        stop.set()
        agent.stop()
