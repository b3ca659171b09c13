"""Bad request bodies get Nomad's status code and message, and change nothing.

Each case is one that used to hurt: a count of 10**18 grew the agent until the kernel
killed it, ``int([1])`` in the drain handler was a 500, ``"false"`` was read as true.
Nomad decodes bodies with Go's encoding/json, so the messages are Go's; where nomadlab
has a limit of its own (allocations per group) the message names it and says why.
After every refused request the agent still serves and its state has not moved.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from nomadlab.jobspec.validate import MAX_COUNT

from http_agent import eventually, job_api, serving


@pytest.fixture(scope="module")
def cluster():
    with serving(clients=1, client_cpu=2000, client_memory=2048) as (agent, api):
        r = api.post("/v1/jobs", json={"Job": job_api("keeper")})
        assert r.status_code == 200, r.text
        eventually(lambda: api.get("/v1/job/keeper").json()["Status"] == "running"
                   and all(e.status == "complete" for e in agent.evals()),
                   what="the keeper job running, its evaluation done")
        yield agent, api


def _state(agent: Any) -> Any:
    """What a request could change: each job's version and stop flag, how many
    evaluations exist, the scheduler's settings, each node's drain and eligibility.
    (Statuses move by themselves as the scheduler and clients work; these do not.)"""
    return (sorted((j.namespace, j.id, j.version, j.stop) for j in agent.jobs()),
            len(agent.evals()), agent.server.state.scheduler_config().to_api(),
            [(n.id, n.drain_strategy, n.scheduling_eligibility) for n in agent.nodes()])


def _refused(cluster: Any, method: str, path: str, body: Any, message: str,
             status: int = 400) -> str:
    """Send ``body`` (a value, or raw bytes); the answer is ``status`` with ``message``
    in it, nothing changed, and the agent still answers."""
    agent, api = cluster
    before = _state(agent)
    data = body if isinstance(body, bytes) else json.dumps(body)
    r = api.session.request(method, api.address + path, data=data, timeout=30)
    assert r.status_code == status, (path, body, r.status_code, r.text)
    assert message in r.text, (path, body, r.text)
    assert _state(agent) == before, "a refused request changed the state"
    assert api.get("/v1/job/keeper").status_code == 200
    return r.text


def _job(job_id: str, change: Any = None) -> dict[str, Any]:
    job = copy.deepcopy(job_api(job_id))
    if change is not None:
        change(job)
    return job


def _group(job: dict[str, Any]) -> dict[str, Any]:
    return job["TaskGroups"][0]


def _task(job: dict[str, Any]) -> dict[str, Any]:
    return job["TaskGroups"][0]["Tasks"][0]


# -- counts -----------------------------------------------------------------------------

def test_a_huge_count_is_refused_at_once_naming_the_limit(cluster) -> None:
    job = _job("huge", lambda j: _group(j).update(Count=10**18))
    text = _refused(cluster, "POST", "/v1/jobs", {"Job": job},
                    f"nomadlab's limit of {MAX_COUNT:,}".replace(",", ""))
    assert 'group "g"' in text and "memory" in text
    assert _refused(cluster, "POST", "/v1/job/huge/plan", {"Job": job}, "limit of")


def test_the_largest_allowed_count_plans(cluster) -> None:
    agent, api = cluster
    job = _job("big", lambda j: _group(j).update(Count=MAX_COUNT))
    r = api.post("/v1/job/big/plan", json={"Job": job})
    assert r.status_code == 200, r.text
    assert api.get("/v1/job/big").status_code == 404         # a plan commits nothing


def test_a_count_beyond_int64_is_a_decode_error_in_gos_words(cluster) -> None:
    job = _job("over", lambda j: _group(j).update(Count=2**63))
    _refused(cluster, "POST", "/v1/jobs", {"Job": job},
             f"json: cannot unmarshal number {2**63} into Go struct field "
             "TaskGroup.Job.TaskGroups.Count of type int")


def test_scaling_past_the_limit_or_int64_is_refused(cluster) -> None:
    target = {"Group": "g"}
    _refused(cluster, "POST", "/v1/job/keeper/scale", {"Count": 10**18, "Target": target},
             f"limit of {MAX_COUNT}")
    _refused(cluster, "POST", "/v1/job/keeper/scale", {"Count": 2**64, "Target": target},
             f"json: cannot unmarshal number {2**64} into Go struct field "
             "ScalingRequest.Count of type int64")


# -- wrong kinds ------------------------------------------------------------------------

def test_wrong_kinds_in_a_register_body(cluster) -> None:
    job = _job("kinds")
    _refused(cluster, "POST", "/v1/jobs", {"Job": job, "JobModifyIndex": []},
             "json: cannot unmarshal array into Go struct field "
             "JobRegisterRequest.JobModifyIndex of type uint64")
    _refused(cluster, "POST", "/v1/jobs", {"Job": job, "JobModifyIndex": -1},
             "json: cannot unmarshal number -1 into Go struct field "
             "JobRegisterRequest.JobModifyIndex of type uint64")
    for flag in ("EnforceIndex", "PreserveCounts", "PolicyOverride"):
        _refused(cluster, "POST", "/v1/jobs", {"Job": job, flag: "false"},
                 f"json: cannot unmarshal string into Go struct field "
                 f"JobRegisterRequest.{flag} of type bool")
    _refused(cluster, "POST", "/v1/jobs", {"Job": _job("kinds", lambda j: j.update(Stop="false"))},
             "json: cannot unmarshal string into Go struct field Job.Job.Stop of type bool")
    _refused(cluster, "POST", "/v1/jobs", [1],
             "json: cannot unmarshal array into Go value of type api.JobRegisterRequest")


def test_wrong_kinds_in_a_drain_body(cluster) -> None:
    agent, _ = cluster
    drain = f"/v1/node/{agent.nodes()[0].id}/drain"
    _refused(cluster, "POST", drain, {"DrainSpec": {"Deadline": [1]}},
             "json: cannot unmarshal array into Go struct field "
             "DrainSpec.DrainSpec.Deadline of type time.Duration")
    _refused(cluster, "POST", drain, b'{"DrainSpec": {"Deadline": 1e400}}',
             "json: cannot unmarshal number 1e400 into Go struct field "
             "DrainSpec.DrainSpec.Deadline of type time.Duration")
    _refused(cluster, "POST", drain, {"DrainSpec": {"Deadline": 1.5}},
             "json: cannot unmarshal number 1.5 into Go struct field")
    _refused(cluster, "POST", drain, {"DrainSpec": None, "MarkEligible": "false"},
             "json: cannot unmarshal string into Go struct field "
             "NodeUpdateDrainRequest.MarkEligible of type bool")
    _refused(cluster, "POST", drain, {"DrainSpec": "soon"},
             "json: cannot unmarshal string into Go struct field "
             "NodeUpdateDrainRequest.DrainSpec of type api.DrainSpec")
    assert agent.nodes()[0].drain_strategy is None


def test_wrong_kinds_elsewhere(cluster) -> None:
    agent, _ = cluster
    node = agent.nodes()[0].id
    _refused(cluster, "POST", f"/v1/node/{node}/eligibility", {"Eligibility": 5},
             "json: cannot unmarshal number into Go struct field "
             "NodeUpdateEligibilityRequest.Eligibility of type string")
    _refused(cluster, "POST", "/v1/operator/scheduler/configuration",
             {"SchedulerAlgorithm": "binpack", "PauseEvalBroker": "false"},
             "json: cannot unmarshal string into Go struct field "
             "SchedulerConfiguration.PauseEvalBroker of type bool")
    _refused(cluster, "POST", "/v1/job/keeper/revert", {"JobVersion": "0"},
             "json: cannot unmarshal string into Go struct field "
             "JobRevertRequest.JobVersion of type uint64")
    _refused(cluster, "POST", "/v1/job/keeper/dispatch", {"Meta": {"a": 1}},
             "json: cannot unmarshal number into Go struct field "
             "JobDispatchRequest.Meta of type string")
    _refused(cluster, "POST", "/v1/jobs/parse", {"JobHCL": ["job"]},
             "json: cannot unmarshal array into Go struct field "
             "JobsParseRequest.JobHCL of type string")


def test_purge_false_is_false(cluster) -> None:
    agent, api = cluster
    assert api.post("/v1/jobs", json={"Job": _job("stopper")}).status_code == 200
    _refused(cluster, "DELETE", "/v1/job/stopper?purge=maybe", b"",
             'Failed to parse value of "purge"')
    r = api.delete("/v1/job/stopper", params={"purge": "false"})
    assert r.status_code == 200, r.text
    stopped = api.get("/v1/job/stopper")
    assert stopped.status_code == 200 and stopped.json()["Stop"] is True   # not purged


# -- absurd resources -------------------------------------------------------------------

@pytest.mark.parametrize("dimension, change", [
    ("memory", lambda j: _task(j)["Resources"].update(MemoryMB=10**15)),
    ("cpu", lambda j: _task(j)["Resources"].update(CPU=10**15)),
    ("disk", lambda j: _group(j)["EphemeralDisk"].update(SizeMB=10**15)),
])
def test_absurd_resources_leave_the_job_blocked_on_that_dimension(cluster, dimension,
                                                                  change) -> None:
    """Nomad has no upper bound on a task's resources: such a job registers and cannot be
    placed; its blocked evaluation says which dimension ran out."""
    agent, api = cluster
    job_id = f"absurd-{dimension}"
    r = api.post("/v1/jobs", json={"Job": _job(job_id, change)})
    assert r.status_code == 200, r.text

    def exhausted() -> Any:
        for ev in api.get(f"/v1/job/{job_id}/evaluations").json():
            for metric in (ev.get("FailedTGAllocs") or {}).values():
                if metric.get("DimensionExhausted"):
                    return metric["DimensionExhausted"]
        return None
    dimensions = eventually(exhausted, what=f"a blocked evaluation for {job_id}")
    assert any(dimension in key for key in dimensions), dimensions
    assert api.delete(f"/v1/job/{job_id}", params={"purge": "true"}).status_code == 200


def test_absurd_ports_are_refused(cluster) -> None:
    def port(value: int) -> Any:
        return lambda j: _group(j).update(
            Networks=[{"ReservedPorts": [{"Label": "x", "Value": value}]}])
    _refused(cluster, "POST", "/v1/jobs", {"Job": _job("ports", port(10**9))},
             'Port "x" static value 1000000000 must be between 0 and 65535')
    _refused(cluster, "POST", "/v1/jobs", {"Job": _job("ports", port(2**70))},
             f"json: cannot unmarshal number {2**70} into Go struct field "
             "Port.Job.TaskGroups.Networks.ReservedPorts.Value of type int")


# -- names that are path parts ----------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("..", 'name cannot be "..": it is a path part'),
    (".", 'name cannot be ".": it is a path part'),
    ("a/b", "name cannot include slashes"),
    ("a\\b", "name cannot include slashes"),
    ("a\0b", "name cannot include null characters"),
])
def test_names_that_are_path_parts_are_refused_with_their_path(cluster, name, message) -> None:
    as_task = _job("names", lambda j: _task(j).update(Name=name))
    text = _refused(cluster, "POST", "/v1/jobs", {"Job": as_task}, "Task " + message)
    assert 'job "names" > group "g" > task' in text
    as_group = _job("names", lambda j: _group(j).update(Name=name))
    text = _refused(cluster, "POST", "/v1/jobs", {"Job": as_group}, "Task group " + message)
    assert 'job "names" > group' in text


def test_after_all_that_the_agent_still_runs_jobs(cluster) -> None:
    agent, api = cluster
    assert api.post("/v1/jobs", json={"Job": _job("after")}).status_code == 200
    eventually(lambda: api.get("/v1/job/after").json()["Status"] == "running",
               what="a job placed and running after the bad input")
