"""Blocking queries (``?index=N&wait=D``) and the event stream, against a live agent."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from http_agent import eventually, job_api, serving


@pytest.fixture(scope="module")
def cluster():
    with serving(clients=1, client_cpu=2000, client_memory=2048) as (agent, api):
        yield agent, api


def _later(seconds: float, action) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_blocking_list_returns_when_the_table_changes(cluster) -> None:
    agent, api = cluster
    first = api.get("/v1/jobs")
    index = int(first.headers["X-Nomad-Index"])
    writer = _later(0.3, lambda: api.post("/v1/jobs", json={"Job": job_api("blocker")}))
    started = time.monotonic()
    r = api.get("/v1/jobs", params={"index": index, "wait": "20s"})
    took = time.monotonic() - started
    writer.join()
    assert took >= 0.25, took
    assert int(r.headers["X-Nomad-Index"]) > index         # woke on the write, not the wait
    assert "blocker" in [j["ID"] for j in r.json()]
    assert r.headers["X-Nomad-LastContact"] == "0" and r.headers["X-Nomad-KnownLeader"] == "true"


def test_a_blocking_query_returns_at_the_end_of_its_wait(cluster) -> None:
    agent, api = cluster
    index = int(api.get("/v1/nodes").headers["X-Nomad-Index"])
    started = time.monotonic()
    r = api.get("/v1/nodes", params={"index": index, "wait": "400ms"})
    took = time.monotonic() - started
    assert took >= 0.4, took                               # the wait (plus at most wait/16)
    assert int(r.headers["X-Nomad-Index"]) == index


def test_a_write_elsewhere_does_not_wake_an_unrelated_query(cluster) -> None:
    """Nodes are untouched by a job registration: the query keeps waiting."""
    agent, api = cluster
    index = int(api.get("/v1/nodes").headers["X-Nomad-Index"])
    writer = _later(0.1, lambda: api.post("/v1/jobs", json={"Job": job_api("unrelated")}))
    started = time.monotonic()
    r = api.get("/v1/nodes", params={"index": index, "wait": "1s"})
    writer.join()
    assert time.monotonic() - started >= 1.0
    assert int(r.headers["X-Nomad-Index"]) == index


def test_a_blocking_read_of_one_job_wakes_on_its_change(cluster) -> None:
    agent, api = cluster
    api.post("/v1/jobs", json={"Job": job_api("one")})
    eventually(lambda: api.get("/v1/job/one").json()["Status"] == "running", what="running")
    index = int(api.get("/v1/job/one").headers["X-Nomad-Index"])
    writer = _later(0.2, lambda: api.post("/v1/jobs", json={"Job": job_api("one", 2)}))
    r = api.get("/v1/job/one", params={"index": index, "wait": "20s"})
    writer.join()
    assert r.json()["TaskGroups"][0]["Count"] == 2
    assert int(r.headers["X-Nomad-Index"]) > index


def test_bad_blocking_parameters(cluster) -> None:
    agent, api = cluster
    assert api.get("/v1/jobs", params={"index": "x"}).status_code == 400
    r = api.get("/v1/jobs", params={"index": "1", "wait": "soon"})
    assert r.status_code == 400 and "Invalid wait time" in r.text


def _read_frames(response: requests.Response, until, limit: float = 20.0) -> list[dict]:
    frames = []
    deadline = time.monotonic() + limit
    for line in response.iter_lines():
        if line:
            frame = json.loads(line)
            if frame:
                frames.append(frame)
                if until(frames):
                    return frames
        assert time.monotonic() < deadline, f"stream did not deliver in time: {frames}"
    return frames


def test_the_event_stream_delivers_a_job_run_in_order(cluster) -> None:
    agent, api = cluster
    stream = api.get("/v1/event/stream", params={"topic": ["Job:streamed", "Evaluation:streamed",
                                                           "Allocation:streamed"]},
                     stream=True, timeout=30)
    assert stream.status_code == 200
    api.post("/v1/jobs", json={"Job": job_api("streamed")})

    def alloc_running(frames: list[dict]) -> bool:
        return any(e["Topic"] == "Allocation" and
                   e["Payload"]["Allocation"]["ClientStatus"] == "running"
                   for f in frames for e in f["Events"])
    frames = _read_frames(stream, alloc_running)
    stream.close()
    indexes = [f["Index"] for f in frames]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    events = [(e["Topic"], e["Type"]) for f in frames for e in f["Events"]]
    assert events[0] == ("Job", "JobRegistered")
    first = {kind: events.index(kind) for kind in reversed(events)}
    assert first[("Job", "JobRegistered")] < first[("Evaluation", "EvaluationUpdated")] \
        < first[("Allocation", "PlanResult")]
    for frame in frames:
        for event in frame["Events"]:
            assert event["Index"] == frame["Index"]
            assert "streamed" in (event["Key"], *(event["FilterKeys"] or ()))
    assert all(e["Namespace"] == "default" for f in frames for e in f["Events"])


def test_the_event_stream_replays_from_an_index_and_filters(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs", json={"Job": job_api("replayed")})
    start = r.json()["JobModifyIndex"]
    eventually(lambda: api.get("/v1/job/replayed").json()["Status"] == "running", what="running")
    stream = api.get("/v1/event/stream", params={"topic": "Job:replayed", "index": start},
                     stream=True, timeout=30)
    frames = _read_frames(stream, lambda fs: any(
        e["Payload"]["Job"]["Status"] == "running" for f in fs for e in f["Events"]))
    stream.close()
    assert frames[0]["Index"] == start                     # from the index asked for
    assert {e["Topic"] for f in frames for e in f["Events"]} == {"Job"}
    assert {e["Key"] for f in frames for e in f["Events"]} == {"replayed"}


def test_topics_parse_as_nomad_parses_them(cluster) -> None:
    from nomadlab.api.events import parse_topics
    assert parse_topics([]) == {"*": {"*"}}
    assert parse_topics(["Node", "Job:web", "Job:api"]) == {"Node": {"*"}, "Job": {"web", "api"}}
    agent, api = cluster
    r = api.get("/v1/event/stream", params={"topic": "Job:a:b"})
    assert r.status_code == 400 and "Invalid key value pair for topic: Job:a:b" in r.text
