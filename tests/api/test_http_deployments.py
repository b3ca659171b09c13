"""Deployments over HTTP: the reads (blocking like every list), the operator's writes with
Nomad's bodies, answers and messages, and the job's versions turning stable.  Health is
set by hand (``health_check = "manual"``) through the API itself, on simulated nodes."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import nomadlab as nl
from http_agent import API, eventually, serving

JOB = """
job "web" {
  datacenters = ["dc1"]
  group "api" {
    count = 2
    update {
      health_check = "manual"
      max_parallel = 2
      %(update)s
    }
    task "srv" {
      driver = "exec"
      config { command = "sleep" }
      env { RELEASE = "%(release)s" }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""


def job(release: str, update: str = "") -> dict[str, Any]:
    return nl.parse_job(JOB % {"release": release, "update": update}).to_api()


@pytest.fixture
def cluster() -> Iterator[tuple[nl.Agent, API]]:
    with serving(clients=0) as (agent, api):
        agent.add_node("a", cpu=4000, memory=4096, simulated=True)
        agent.add_node("b", cpu=4000, memory=4096, simulated=True)
        yield agent, api


def newest(api: API, version: int) -> dict[str, Any]:
    """The deployment of job version ``version``, once the scheduler has started it."""
    def find() -> Any:
        found = api.get("/v1/job/web/deployments").json()
        return found and found[0]["JobVersion"] == version and found[0]
    return eventually(find, what=f"the deployment of version {version}")


def placed(api: API, deployment_id: str, count: int) -> list[str]:
    """The IDs of the deployment's allocations, once it has placed ``count``."""
    def ids() -> list[str]:
        allocs = api.get(f"/v1/deployment/allocations/{deployment_id}").json()
        return [a["ID"] for a in allocs] if len(allocs) >= count else []
    return eventually(ids, what=f"{count} allocations of deployment {deployment_id[:8]}")


def healthy(api: API, deployment_id: str, alloc_ids: list[str]) -> dict[str, Any]:
    r = api.post(f"/v1/deployment/allocation-health/{deployment_id}",
                 json={"DeploymentID": deployment_id, "HealthyAllocationIDs": alloc_ids})
    assert r.status_code == 200, r.text
    return r.json()


def status_of(api: API, deployment_id: str, status: str) -> dict[str, Any]:
    return eventually(lambda: (d := api.get(f"/v1/deployment/{deployment_id}").json())
                      ["Status"] == status and d, what=f"deployment {status}")


def deployed(api: API, release: str, update: str = "") -> dict[str, Any]:
    assert api.post("/v1/jobs", json={"Job": job(release, update)}).status_code == 200
    d = newest(api, int(release))
    assert api.get("/v1/job/web/deployment").json()["ID"] == d["ID"]
    healthy(api, d["ID"], placed(api, d["ID"], 2))
    return status_of(api, d["ID"], "successful")


def test_reads_list_and_block_like_every_list(cluster) -> None:
    agent, api = cluster
    d = deployed(api, "0")
    assert d["Status"] == "successful" and d["StatusDescription"] == \
        "Deployment completed successfully"
    assert d["TaskGroups"]["api"]["HealthyAllocs"] == 2
    listed = api.get("/v1/deployments")
    assert [x["ID"] for x in listed.json()] == [d["ID"]]
    assert [x["ID"] for x in api.get("/v1/deployments", params={"prefix": d["ID"][:4]}).json()] \
        == [d["ID"]]
    assert api.get("/v1/deployments", params={"prefix": "zz"}).json() == []
    assert api.get("/v1/deployments", params={"namespace": "other"}).json() == []
    assert [x["ID"] for x in api.get("/v1/job/web/deployments").json()] == [d["ID"]]
    assert api.get("/v1/job/nope/deployments").json() == []
    # Go encodes the missing deployment as null (the schema has no nullable: read raw)
    assert api.session.get(api.address + "/v1/job/nope/deployment").text.strip() == "null"
    allocs = api.get(f"/v1/deployment/allocations/{d['ID']}").json()
    assert {a["DeploymentStatus"]["Healthy"] for a in allocs} == {True}

    # a blocking read of the deployment returns when it changes (a new version starts one
    # and cancels nothing here: the old one is terminal; the list moves)
    index = int(listed.headers["X-Nomad-Index"])
    assert api.post("/v1/jobs", json={"Job": job("1")}).status_code == 200
    moved = api.get("/v1/deployments", params={"index": index, "wait": "10s"})
    assert int(moved.headers["X-Nomad-Index"]) > index
    assert len(moved.json()) == 2
    assert [x["JobVersion"] for x in api.get("/v1/job/web/deployments").json()] == [1, 0]

    versions = api.get("/v1/job/web/versions").json()["Versions"]
    assert {v["Version"]: v["Stable"] for v in versions} == {1: False, 0: True}


def test_write_bodies_are_checked_as_nomad_checks_them(cluster) -> None:
    agent, api = cluster
    d = deployed(api, "0")
    path = f"/v1/deployment/promote/{d['ID']}"
    r = api.post(path, json={"All": True})
    assert (r.status_code, r.text) == (400, "DeploymentID must be specified")
    r = api.post(path, json={"DeploymentID": "other", "All": True})
    assert (r.status_code, r.text) == (400, "Deployment ID does not match")
    r = api.post(path, json={"DeploymentID": d["ID"], "Groups": "api"})
    assert r.status_code == 400
    assert r.text == ("json: cannot unmarshal string into Go struct field "
                      "DeploymentPromoteRequest.Groups of type []string")
    r = api.post(f"/v1/deployment/allocation-health/{d['ID']}", json={"DeploymentID": d["ID"]})
    assert (r.status_code, r.text) == (400, "must specify at least one healthy/unhealthy "
                                            "allocation ID")
    missing = "00000000-0000-0000-0000-000000000000"
    r = api.post(f"/v1/deployment/fail/{missing}")
    assert (r.status_code, r.text) == (404, "deployment not found")
    assert api.get(f"/v1/deployment/{missing}").status_code == 404
    r = api.get(f"/v1/deployment/fail/{d['ID']}")
    assert r.status_code == 405
    # a terminal deployment refuses every write, in Nomad's words
    for verb, body, message in (
            ("fail", None, "can't fail terminal deployment"),
            ("pause", {"Pause": True}, "can't pause terminal deployment"),
            ("pause", {"Pause": False}, "can't resume terminal deployment"),
            ("promote", {"All": True}, "can't promote terminal deployment"),
            ("unblock", {}, "can't unblock terminal deployment")):
        r = api.post(f"/v1/deployment/{verb}/{d['ID']}",
                     json=None if body is None else {"DeploymentID": d["ID"], **body})
        assert (r.status_code, r.text) == (400, message), verb


def test_canary_promote_pause_resume_and_fail_with_auto_revert(cluster) -> None:
    agent, api = cluster
    deployed(api, "0")
    update = "canary = 1\nauto_revert = true"
    plan = api.post("/v1/job/web/plan", json={"Job": job("1", update), "Diff": True}).json()
    assert plan["Annotations"]["DesiredTGUpdates"]["api"]["Canary"] == 1
    assert plan["Diff"]["TaskGroups"][0]["Updates"] == {"canary": 1, "ignore": 2}

    assert api.post("/v1/jobs", json={"Job": job("1", update)}).status_code == 200
    d = newest(api, 1)
    canary = placed(api, d["ID"], 1)
    assert d["TaskGroups"]["api"]["DesiredCanaries"] == 1
    healthy(api, d["ID"], canary)

    r = api.post(f"/v1/deployment/promote/{d['ID']}",
                 json={"DeploymentID": d["ID"], "All": True})
    assert r.status_code == 200, r.text
    promoted = r.json()
    assert promoted["EvalID"] and promoted["EvalCreateIndex"] > 0
    assert promoted["RevertedJobVersion"] is None
    assert int(r.headers["X-Nomad-Index"]) == promoted["Index"]
    assert api.get(f"/v1/deployment/{d['ID']}").json()["TaskGroups"]["api"]["Promoted"] is True

    r = api.post(f"/v1/deployment/pause/{d['ID']}", json={"DeploymentID": d["ID"], "Pause": True})
    assert r.status_code == 200 and r.json()["EvalID"] == ""
    assert api.get(f"/v1/deployment/{d['ID']}").json()["Status"] == "paused"
    r = api.post(f"/v1/deployment/pause/{d['ID']}",
                 json={"DeploymentID": d["ID"], "Pause": False})
    assert r.status_code == 200 and r.json()["EvalID"]
    assert api.get(f"/v1/deployment/{d['ID']}").json()["Status"] == "running"

    r = api.post(f"/v1/deployment/fail/{d['ID']}")
    assert r.status_code == 200, r.text
    assert r.json()["RevertedJobVersion"] == 0
    failed = api.get(f"/v1/deployment/{d['ID']}").json()
    assert failed["Status"] == "failed"
    assert failed["StatusDescription"].endswith("rolling back to job version 0")
    current = api.get("/v1/job/web").json()
    assert current["Version"] == 2
    assert current["TaskGroups"][0]["Tasks"][0]["Env"]["RELEASE"] == "0"


def test_revert_with_enforce_prior_version(cluster) -> None:
    agent, api = cluster
    deployed(api, "0")
    deployed(api, "1")
    r = api.post("/v1/job/web/revert",
                 json={"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 0})
    assert r.status_code == 400
    assert r.text == "Current job has version 1; enforcing version 0"
    r = api.post("/v1/job/web/revert",
                 json={"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 1})
    assert r.status_code == 200 and r.json()["EvalID"]
    reverted = api.get("/v1/job/web").json()
    assert reverted["Version"] == 2
    assert reverted["TaskGroups"][0]["Tasks"][0]["Env"]["RELEASE"] == "0"
