"""Evaluations, allocations, logs, nodes, deployments, agent, status and operator
endpoints against a live agent, with good and bad input."""

from __future__ import annotations

import base64
import json
import time

import pytest

from http_agent import eventually, job_api, serving

CHATTY = """
job "chatty" {
  constraint {
    attribute = "${node.unique.name}"
    value     = "client-1"
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.2; done; echo bye >&2"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
  }
}
"""


@pytest.fixture(scope="module")
def cluster():
    with serving(clients=1, client_cpu=2000, client_memory=2048) as (agent, api):
        agent.add_node("sim-1", cpu=1000, memory=1024)
        yield agent, api


def _run(api, job_id: str, count: int = 1) -> dict:
    r = api.post("/v1/jobs", json={"Job": job_api(job_id, count)})
    assert r.status_code == 200, r.text
    eventually(lambda: len([a for a in api.get(f"/v1/job/{job_id}/allocations").json()
                            if a["ClientStatus"] == "running"]) == count,
               what=f"{job_id} running")
    return r.json()


def test_evaluations_list_read_and_allocations(cluster) -> None:
    agent, api = cluster
    registered = _run(api, "evals-job", 2)
    eval_id = registered["EvalID"]
    listed = api.get("/v1/evaluations").json()
    assert eval_id in [e["ID"] for e in listed]
    assert [e["ID"] for e in api.get("/v1/evaluations", params={"prefix": eval_id[:6]}).json()] \
        == [eval_id]
    ev = api.get(f"/v1/evaluation/{eval_id}").json()
    assert ev["Status"] == "complete" and ev["TriggeredBy"] == "job-register"
    assert ev["JobID"] == "evals-job"
    allocs = api.get(f"/v1/evaluation/{eval_id}/allocations").json()
    assert len(allocs) == 2 and {a["EvalID"] for a in allocs} == {eval_id}
    assert (api.get("/v1/evaluation/nope").status_code,
            api.get("/v1/evaluation/nope").text) == (404, "eval not found")
    assert api.get("/v1/evaluation/nope/allocations").status_code == 404


def test_allocations_list_read_and_stop(cluster) -> None:
    agent, api = cluster
    _run(api, "alloc-job")
    stubs = api.get("/v1/allocations").json()
    mine = [s for s in stubs if s["JobID"] == "alloc-job"]
    assert len(mine) == 1 and mine[0]["JobType"] == "service"
    assert "AllocatedResources" not in mine[0] and "Job" not in mine[0]
    with_resources = api.get("/v1/allocations", params={"resources": "true"}).json()
    assert all("AllocatedResources" in s for s in with_resources)
    alloc_id = mine[0]["ID"]
    full = api.get(f"/v1/allocation/{alloc_id}").json()
    assert full["Job"]["ID"] == "alloc-job" and full["Metrics"]["NodesEvaluated"] >= 1
    assert full["Metrics"]["ScoreMetaData"]
    r = api.post(f"/v1/allocation/{alloc_id}/stop")
    assert r.status_code == 200 and r.json()["EvalID"]
    eventually(lambda: api.get(f"/v1/allocation/{alloc_id}").json()["DesiredStatus"] == "stop",
               what="alloc stopped")
    eventually(lambda: any(a["ClientStatus"] == "running" and a["ID"] != alloc_id
                           for a in api.get("/v1/job/alloc-job/allocations").json()),
               what="a replacement")
    assert api.get("/v1/allocation/nope").text == "alloc not found"
    assert api.post("/v1/allocation/nope/stop").status_code == 404


def test_logs_plain_framed_offsets_and_follow(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs", json={"Job": job_api(text=CHATTY)})
    assert r.status_code == 200
    alloc_id = eventually(lambda: next(iter(api.get("/v1/job/chatty/allocations").json()), None),
                          what="an allocation")["ID"]
    # follow from the start: lines arrive as the task writes them, and the stream ends
    # when the task is done
    started = time.monotonic()
    r = api.get(f"/v1/client/fs/logs/{alloc_id}",
                params={"task": "t", "type": "stdout", "plain": "true", "follow": "true"},
                stream=True, timeout=30)
    assert r.status_code == 200
    seen = b""
    first_at = None
    for chunk in r.iter_content(chunk_size=None):
        if chunk and first_at is None:
            first_at = time.monotonic() - started
        seen += chunk
    assert seen.decode().splitlines() == [f"line {i}" for i in range(1, 7)]
    assert first_at is not None and first_at < 1.0    # streamed, not sent at the end

    plain = api.get(f"/v1/client/fs/logs/{alloc_id}",
                    params={"task": "t", "type": "stdout", "plain": "true"})
    assert plain.text.startswith("line 1\n") and plain.headers["Content-Type"] == "text/plain"
    tail = api.get(f"/v1/client/fs/logs/{alloc_id}",
                   params={"task": "t", "type": "stdout", "plain": "true", "origin": "end",
                           "offset": "7"})
    assert tail.text == "line 6\n"
    skip = api.get(f"/v1/client/fs/logs/{alloc_id}",
                   params={"task": "t", "type": "stdout", "plain": "true", "offset": "7"})
    assert skip.text.startswith("line 2\n")
    frames = [json.loads(line) for line in api.get(
        f"/v1/client/fs/logs/{alloc_id}", params={"task": "t", "type": "stderr"}
    ).text.splitlines()]
    assert base64.b64decode(frames[0]["Data"]) == b"bye\n"
    assert frames[0]["File"] == "alloc/logs/t.stderr.0" and frames[0]["Offset"] == 4

    bad = {"task": "t", "type": "stdout"}
    for change, message in (({"task": ""}, "must provide task name"),
                            ({"type": ""}, "must provide log type (stdout/stderr)"),
                            ({"type": "stdlog"}, "log type"),
                            ({"origin": "middle"}, "origin"),
                            ({"offset": "x"}, "offset"),
                            ({"task": "nope"}, 'unknown task name "nope"')):
        r = api.get(f"/v1/client/fs/logs/{alloc_id}", params={**bad, **change})
        assert r.status_code == 400 and message in r.text, (change, r.text)
    assert api.get("/v1/client/fs/logs/nope", params=bad).status_code == 404


def test_nodes_list_read_drain_eligibility_purge(cluster) -> None:
    agent, api = cluster
    stubs = api.get("/v1/nodes").json()
    assert {s["Name"] for s in stubs} >= {"client-1", "sim-1"}
    assert all("NodeResources" not in s for s in stubs)
    assert all(s["NodeResources"] for s in api.get("/v1/nodes", params={"resources": "1"}).json())
    sim = next(s for s in stubs if s["Name"] == "sim-1")
    assert [s["ID"] for s in api.get("/v1/nodes", params={"prefix": sim["ID"][:5]}).json()] \
        == [sim["ID"]]
    node = api.get(f"/v1/node/{sim['ID']}").json()
    assert node["Attributes"]["nomadlab.simulated"] == "true"
    assert node["SecretID"] == ""                            # never shown, as in Nomad
    assert isinstance(api.get(f"/v1/node/{sim['ID']}/allocations").json(), list)

    r = api.post(f"/v1/node/{sim['ID']}/drain", json={"DrainSpec": {"Deadline": 3600e9}})
    assert r.status_code == 200, r.text
    node = api.get(f"/v1/node/{sim['ID']}").json()
    assert node["Drain"] is True and node["SchedulingEligibility"] == "ineligible"
    r = api.post(f"/v1/node/{sim['ID']}/eligibility", json={"Eligibility": "eligible"})
    assert r.status_code == 400 and "drain strategy" in r.text
    r = api.post(f"/v1/node/{sim['ID']}/drain", json={"DrainSpec": None, "MarkEligible": True})
    assert r.status_code == 200
    node = api.get(f"/v1/node/{sim['ID']}").json()
    assert node["Drain"] is False and node["SchedulingEligibility"] == "eligible"

    r = api.post(f"/v1/node/{sim['ID']}/eligibility", json={"Eligibility": "ineligible"})
    assert r.status_code == 200 and r.json()["NodeModifyIndex"] > 0
    assert api.get(f"/v1/node/{sim['ID']}").json()["SchedulingEligibility"] == "ineligible"
    assert api.post(f"/v1/node/{sim['ID']}/eligibility", json={"Eligibility": "maybe"}) \
        .status_code == 400
    assert api.post(f"/v1/node/{sim['ID']}/eligibility", data="").status_code == 400
    assert api.post(f"/v1/node/{sim['ID']}/drain", json={"DrainSpec": "soon"}).status_code == 400

    r = api.post(f"/v1/node/{sim['ID']}/purge")
    assert r.status_code == 200
    assert api.get(f"/v1/node/{sim['ID']}").status_code == 404
    assert api.get("/v1/node/nope").text == "node not found"
    assert api.post("/v1/node/nope/drain", json={"DrainSpec": None}).status_code == 404


def test_deployments_agent_status_regions_namespaces(cluster) -> None:
    agent, api = cluster
    listed = {d["ID"] for d in api.get("/v1/deployments").json()}
    assert listed == {d.id for d in agent.deployments(namespace="*")}
    assert api.get("/v1/deployment/nope").status_code == 404
    me = api.get("/v1/agent/self").json()
    assert me["config"]["Server"]["Enabled"] is True and me["config"]["Region"] == "global"
    assert me["config"]["Ports"]["HTTP"] == agent.http.port
    assert me["member"]["Status"] == "alive"
    members = api.get("/v1/agent/members").json()
    assert members["ServerRegion"] == "global" and len(members["Members"]) == 1
    assert api.get("/v1/status/leader").json() == "127.0.0.1:4647"
    assert api.get("/v1/status/peers").json() == ["127.0.0.1:4647"]
    assert api.get("/v1/regions").json() == ["global"]
    assert [n["Name"] for n in api.get("/v1/namespaces").json()] == ["default"]


def test_operator_scheduler_configuration(cluster) -> None:
    agent, api = cluster
    config = api.get("/v1/operator/scheduler/configuration").json()
    assert config["SchedulerConfig"]["SchedulerAlgorithm"] == "binpack"
    r = api.put("/v1/operator/scheduler/configuration", json={"SchedulerAlgorithm": "spread"})
    assert r.status_code == 200 and r.json()["Updated"] is True
    assert agent.server.state.scheduler_config().scheduler_algorithm == "spread"
    stale = config["SchedulerConfig"]["ModifyIndex"]
    r = api.put("/v1/operator/scheduler/configuration", params={"cas": str(stale)},
                json={"SchedulerAlgorithm": "binpack"})
    assert r.json()["Updated"] is False                       # check-and-set lost
    r = api.put("/v1/operator/scheduler/configuration", json={"SchedulerAlgorithm": "random"})
    assert r.status_code == 400 and "invalid scheduler algorithm" in r.text
    api.put("/v1/operator/scheduler/configuration", json={"SchedulerAlgorithm": "binpack"})
    assert agent.server.state.scheduler_config().scheduler_algorithm == "binpack"
