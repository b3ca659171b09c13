"""Nothing a client sends can crash the agent or corrupt its state.

Hypothesis throws random methods, paths built from the real routes, query strings and
bodies (JSON of any shape, and bytes that are not JSON) at a live agent.  Every answer
must be a proper HTTP status below 500 with a message, and afterwards the agent still
serves, its jobs are still valid jobs, and its clients still run tasks.
"""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.api.routes import Router
from nomadlab.jobspec import job_from_api

from http_agent import eventually, job_api, serving


@pytest.fixture(scope="module")
def cluster():
    with serving(clients=1, client_cpu=2000, client_memory=2048) as (agent, api):
        api.post("/v1/jobs", json={"Job": job_api("keeper")})
        yield agent, api


def _routes(agent) -> list[tuple[str, str]]:
    """(method, pattern) of every route the agent serves."""
    router = Router(agent)
    return sorted({(route.method, route.pattern) for _, methods in router._table
                   for route in methods.values()})


SEGMENTS = st.sampled_from(["keeper", "nope", "a/b", "%2F", "..", "", "x" * 300, "ünï",
                            "00000000-0000-0000-0000-000000000000"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Job", "ID", "TaskGroups", "Count", "Target", "Group", "Meta",
                         "Payload", "DrainSpec", "Eligibility", "JobHCL", "JobVersion",
                         "SchedulerAlgorithm", "Deadline", "Name", "Tasks", "x"]),
        inner, max_size=5),
    max_leaves=12)
BODIES = (JSON.map(lambda v: json.dumps(v).encode())
          | st.binary(max_size=64)
          | st.builds(lambda job: json.dumps({"Job": job}).encode(),
                      st.fixed_dictionaries({"ID": st.text(max_size=8)},
                                            optional={"TaskGroups": JSON, "Type": JSON,
                                                      "Priority": JSON})))
QUERY = st.dictionaries(st.sampled_from(["index", "wait", "prefix", "purge", "task", "type",
                                         "offset", "origin", "plain", "namespace", "topic",
                                         "diffs", "resources", "all"]),
                        st.sampled_from(["", "1", "-1", "true", "x", "1s", "*", "stdout",
                                         "end", "99999999999999999999"]), max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_requests_get_a_status_and_a_message(cluster, data) -> None:
    agent, api = cluster
    method, pattern = data.draw(st.sampled_from(_routes(agent)))
    if data.draw(st.integers(0, 9)) == 0:                   # now and then a wrong method
        method = data.draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"]))
    if pattern == "/v1/event/stream":
        return  # a stream never ends by itself; it has its own tests
    path = pattern
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + data.draw(SEGMENTS) + path[end + 1:]
    query = data.draw(QUERY)
    if query.get("index") and method == "GET":
        query["wait"] = "10ms"                            # keep blocking queries short
    query.pop("follow", None)
    body = data.draw(BODIES)
    r = api.session.request(method, api.address + path, params=query, data=body, timeout=10)
    assert r.status_code < 500, (method, path, query, body, r.status_code, r.text)
    if not r.ok:
        assert r.text.strip(), "an error needs a message"


def test_malformed_http_does_not_take_the_agent_down(cluster) -> None:
    agent, api = cluster
    host, port = agent.http.host, agent.http.port
    for raw in (b"GARBAGE\r\n\r\n", b"GET /v1/jobs HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST /v1/jobs HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n{",
                b"GET /v1/jobs HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",   # then hang up
                b"\x00\xff" * 100):
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(raw)
            try:
                sock.recv(4096)
            except (socket.timeout, ConnectionResetError):
                pass


def test_after_the_fuzzing_the_agent_serves_and_its_state_is_sound(cluster) -> None:
    agent, api = cluster
    assert api.get("/v1/jobs").status_code == 200
    for job in agent.jobs():
        job_from_api(job.to_api())                         # every stored job is a valid job
    api.post("/v1/jobs", json={"Job": job_api("after-fuzz")})
    eventually(lambda: api.get("/v1/job/after-fuzz").json()["Status"] == "running",
               what="a job placed and running after the fuzzing")
