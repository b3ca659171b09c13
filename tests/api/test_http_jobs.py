"""The job endpoints of the HTTP API against a live agent: good input, bad input, and
answers shaped like Nomad's (each JSON answer is validated against Nomad's OpenAPI)."""

from __future__ import annotations

import base64
import re

import pytest

from http_agent import SLEEPER, eventually, job_api, schema_errors, serving


@pytest.fixture(scope="module")
def cluster():
    with serving(clients=1, client_cpu=2000, client_memory=2048) as (agent, api):
        yield agent, api


def running(api, job_id: str, count: int = 1):
    def check():
        allocs = api.get(f"/v1/job/{job_id}/allocations").json()
        live = [a for a in allocs if a["DesiredStatus"] == "run"]
        return live if len(live) == count and all(a["ClientStatus"] == "running"
                                                  for a in live) else None
    return eventually(check, what=f"{count} running allocations of {job_id}")


def test_register_list_read_and_stop(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs", json={"Job": job_api("reg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["EvalID"] and body["EvalCreateIndex"] > 0 and body["JobModifyIndex"] > 0
    assert int(r.headers["X-Nomad-Index"]) >= body["EvalCreateIndex"]
    assert r.headers["X-Nomad-KnownLeader"] == "true"
    running(api, "reg")

    stubs = api.get("/v1/jobs", params={"prefix": "re"}).json()
    assert [s["ID"] for s in stubs] == ["reg"]
    assert stubs[0]["JobSummary"]["Summary"]["g"]["Running"] == 1
    assert "TaskGroups" not in stubs[0]                       # a stub, not the job
    assert api.get("/v1/jobs", params={"prefix": "zzz"}).json() == []

    job = api.get("/v1/job/reg").json()
    assert job["ID"] == "reg" and job["TaskGroups"][0]["Name"] == "g"
    assert job["Status"] == "running"

    evals = api.get("/v1/job/reg/evaluations").json()
    assert body["EvalID"] in [e["ID"] for e in evals]
    summary = api.get("/v1/job/reg/summary").json()
    assert summary["JobID"] == "reg" and summary["Summary"]["g"]["Running"] == 1

    r = api.delete("/v1/job/reg")
    assert r.status_code == 200 and r.json()["EvalID"]
    eventually(lambda: api.get("/v1/job/reg").json()["Status"] == "dead", what="job dead")
    assert api.get("/v1/job/reg").json()["Stop"] is True
    r = api.delete("/v1/job/reg", params={"purge": "true"})
    assert r.status_code == 200
    assert api.get("/v1/job/reg").status_code == 404


def test_versions_with_diffs_and_revert(cluster) -> None:
    agent, api = cluster
    api.post("/v1/job/ver", json={"Job": job_api("ver")})
    api.post("/v1/job/ver", json={"Job": job_api("ver", count=2)})
    versions = api.get("/v1/job/ver/versions", params={"diffs": "true"}).json()
    assert [v["Version"] for v in versions["Versions"]] == [1, 0]
    group_diff = versions["Diffs"][0]["TaskGroups"][0]
    assert group_diff["Type"] == "Edited"
    assert {"Name": "Count", "Old": "1", "New": "2"}.items() <= \
        next(f for f in group_diff["Fields"] if f["Name"] == "Count").items()

    r = api.post("/v1/job/ver/revert", json={"JobID": "ver", "JobVersion": 0})
    assert r.status_code == 200, r.text
    job = api.get("/v1/job/ver").json()
    assert job["Version"] == 2 and job["TaskGroups"][0]["Count"] == 1
    r = api.post("/v1/job/ver/revert", json={"JobID": "ver", "JobVersion": 2})
    assert r.status_code == 400 and "current version" in r.text
    r = api.post("/v1/job/ver/revert", json={"JobID": "ver", "JobVersion": 9})
    assert r.status_code == 404
    r = api.post("/v1/job/ver/revert", json={"JobID": "ver", "JobVersion": 0,
                                             "EnforcePriorVersion": 0})
    assert r.status_code == 400 and "enforcing version 0" in r.text
    api.delete("/v1/job/ver", params={"purge": "true"})


def test_scale_reads_and_writes_the_group_count(cluster) -> None:
    agent, api = cluster
    api.post("/v1/jobs", json={"Job": job_api("sc")})
    status = api.get("/v1/job/sc/scale").json()
    assert status["TaskGroups"]["g"]["Desired"] == 1
    r = api.post("/v1/job/sc/scale", json={"Count": 2, "Target": {"Group": "g"},
                                           "Message": "more"})
    assert r.status_code == 200 and r.json()["EvalID"], r.text
    assert agent.eval(r.json()["EvalID"]).triggered_by == "job-scaling"
    running(api, "sc", 2)
    assert api.get("/v1/job/sc").json()["Version"] == 1
    assert api.post("/v1/job/sc/scale", json={"Count": 1, "Target": {"Group": "nope"}}) \
        .status_code == 400
    assert api.post("/v1/job/sc/scale", json={"Count": 1, "Target": {}}).text == \
        "missing task group name"
    assert api.post("/v1/job/sc/scale", json={"Count": -1, "Target": {"Group": "g"}}) \
        .status_code == 400
    api.delete("/v1/job/sc", params={"purge": "true"})


def test_plan_reports_diff_updates_and_failures(cluster) -> None:
    agent, api = cluster
    job = job_api("planned", count=2)
    r = api.post("/v1/job/planned/plan", json={"Job": job, "Diff": True})
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["Annotations"]["DesiredTGUpdates"]["g"]["Place"] == 2
    assert plan["Diff"]["Type"] == "Added" and plan["FailedTGAllocs"] in ({}, None)
    assert "Trace" not in plan                               # in-process only
    assert api.get("/v1/job/planned").status_code == 404     # nothing was committed

    job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 10_000_000
    plan = api.post("/v1/job/planned/plan", json={"Job": job}).json()
    metric = plan["FailedTGAllocs"]["g"]
    assert metric["DimensionExhausted"]["memory"] >= 1
    assert plan["Diff"] is None                              # Diff was not asked for
    r = api.post("/v1/job/other/plan", json={"Job": job})
    assert r.status_code == 400 and r.text == "Job ID does not match"


def test_parse_and_validate(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs/parse", json={"JobHCL": SLEEPER % {"id": "p", "count": 3},
                                         "Canonicalize": True})
    assert r.status_code == 200 and r.json()["TaskGroups"][0]["Count"] == 3
    r = api.post("/v1/jobs/parse", json={"JobHCL": 'job "x" {\n  group "g" {\n    count = \n'})
    assert r.status_code == 400 and ":3" in r.text            # where the spec is broken
    assert api.post("/v1/jobs/parse", json={"JobHCL": ""}).status_code == 400

    good = api.post("/v1/validate/job", json={"Job": job_api("v")}).json()
    assert good["ValidationErrors"] is None and good["Error"] == ""
    bad_job = job_api("v")
    bad_job["TaskGroups"][0]["Count"] = -1
    bad = api.post("/v1/validate/job", json={"Job": bad_job}).json()
    assert bad["ValidationErrors"] and "1 error occurred" in bad["Error"]
    assert api.get("/v1/job/v").status_code == 404


def test_bad_register_bodies_get_400_with_a_message(cluster) -> None:
    agent, api = cluster
    before = agent.server.state.table_index("jobs", "job_versions", "evals")
    cases = [
        (dict(data="{not json"), "Failed to decode request body"),
        (dict(data=""), "Request body is empty"),
        (dict(json=[1, 2]), "json: cannot unmarshal array into Go value of type "
                            "api.JobRegisterRequest"),
        (dict(json={"NotJob": {}}), "Job must be specified"),
        (dict(json={"Job": "text"}), "json: cannot unmarshal string into Go struct field "
                                     "JobRegisterRequest.Job of type api.Job"),
        (dict(json={"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": -3}]}}),
         "error"),
    ]
    for kwargs, message in cases:
        r = api.post("/v1/jobs", **kwargs)
        assert r.status_code == 400, (kwargs, r.status_code, r.text)
        assert message in r.text, (kwargs, r.text)
    r = api.post("/v1/job/other", json={"Job": job_api("mismatch")})
    assert r.status_code == 400 and r.text == "Job ID does not match name"
    assert agent.server.state.table_index("jobs", "job_versions", "evals") == before  # no job written


def test_enforce_index_and_preserve_counts(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs", json={"Job": job_api("cas"), "EnforceIndex": True,
                                   "JobModifyIndex": 0})
    assert r.status_code == 200
    index = r.json()["JobModifyIndex"]
    r = api.post("/v1/jobs", json={"Job": job_api("cas", 2), "EnforceIndex": True,
                                   "JobModifyIndex": 0})
    assert r.status_code == 400 and "job already exists" in r.text
    r = api.post("/v1/jobs", json={"Job": job_api("cas", 2), "EnforceIndex": True,
                                   "JobModifyIndex": index + 100})
    assert r.status_code == 400 and "conflicting job modify index" in r.text
    r = api.post("/v1/jobs", json={"Job": job_api("cas", 3), "PreserveCounts": True})
    assert r.status_code == 200 and api.get("/v1/job/cas").json()["TaskGroups"][0]["Count"] == 1
    api.delete("/v1/job/cas", params={"purge": "true"})


BATCH = """
job "%s" {
  type = "batch"
  %s
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo child $NOMAD_JOB_ID ${NOMAD_META_who}"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def test_dispatch_a_parameterized_job(cluster) -> None:
    agent, api = cluster
    spec = BATCH % ("param", 'parameterized {\n    payload = "optional"\n'
                             '    meta_required = ["who"]\n  }')
    r = api.post("/v1/jobs", json={"Job": job_api(text=spec)})
    assert r.status_code == 200 and r.json()["EvalID"] == ""   # nothing to schedule yet
    r = api.post("/v1/job/param/dispatch", json={"Meta": {"who": "learner"},
                                                 "Payload": base64.b64encode(b"hi").decode()})
    assert r.status_code == 200, r.text
    child_id = r.json()["DispatchedJobID"]
    assert re.fullmatch(r"param/dispatch-\d+-[0-9a-f]{8}", child_id)
    child = api.get(f"/v1/job/{child_id}").json()
    assert child["ParentID"] == "param" and child["Dispatched"] is True
    assert child["Meta"]["who"] == "learner"
    eventually(lambda: api.get(f"/v1/job/{child_id}").json()["Status"] == "dead",
               what="dispatched child finished")
    alloc = api.get(f"/v1/job/{child_id}/allocations").json()[0]
    assert alloc["ClientStatus"] == "complete"
    assert "learner" in agent.logs(alloc["ID"], "t")

    r = api.post("/v1/job/param/dispatch", json={"Meta": {}})
    assert r.status_code == 400 and r.text == "Dispatch did not provide required meta keys: [who]"
    r = api.post("/v1/job/param/dispatch", json={"Meta": {"who": "x", "extra": "y"}})
    assert r.status_code == 400 and "unpermitted metadata keys: [extra]" in r.text
    api.post("/v1/jobs", json={"Job": job_api("plain")})
    r = api.post("/v1/job/plain/dispatch", json={})
    assert r.status_code == 400 and "is not a parameterized job" in r.text
    summary = api.get("/v1/job/param/summary").json()
    assert sum(summary["Children"].values()) == 1


def test_force_a_periodic_launch(cluster) -> None:
    agent, api = cluster
    spec = BATCH % ("cron", 'periodic {\n    cron = "0 0 1 1 *"\n  }')
    r = api.post("/v1/jobs", json={"Job": job_api(text=spec)})
    assert r.status_code == 200
    r = api.post("/v1/job/cron/periodic/force")
    assert r.status_code == 200 and r.json()["EvalID"], r.text
    children = [j for j in api.get("/v1/jobs", params={"prefix": "cron/"}).json()]
    assert len(children) == 1 and re.fullmatch(r"cron/periodic-\d+", children[0]["ID"])
    assert children[0]["ParentID"] == "cron"
    r = api.post("/v1/job/plain-force/periodic/force")
    assert r.status_code == 404
    api.post("/v1/jobs", json={"Job": job_api("notcron")})
    r = api.post("/v1/job/notcron/periodic/force")
    assert r.status_code == 400 and r.text == "can't force launch non-periodic job"


def test_unknown_ids_and_methods(cluster) -> None:
    agent, api = cluster
    for path in ("/v1/job/missing", "/v1/job/missing/summary", "/v1/job/missing/versions",
                 "/v1/job/missing/scale"):
        r = api.get(path)
        assert (r.status_code, r.text) == (404, "job not found"), path
    assert api.delete("/v1/job/missing").status_code == 404
    assert api.post("/v1/job/missing/evaluate").status_code == 404
    r = api.delete("/v1/jobs")
    assert (r.status_code, r.text) == (405, "Invalid method")
    assert api.call("PATCH", "/v1/job/x").status_code == 405
    assert api.get("/v1/nothing-here").status_code == 404
    r = api.get("/v1/jobs", params={"region": "mars"})
    assert r.status_code == 500 and r.text == "No path to region"


def test_responses_validate_against_nomads_openapi(cluster) -> None:
    """The helper validates every JSON answer; here, that it really can fail."""
    assert schema_errors("/v1/jobs", "GET", [{"ID": 5}])
    assert schema_errors("/v1/job/x", "GET", {"TaskGroups": "no"})
    assert not schema_errors("/v1/jobs", "GET", [{"ID": "ok", "Priority": 50}])
    agent, api = cluster
    api.get("/v1/jobs")
    assert "GET /jobs" in api.validated
