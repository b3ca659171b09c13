"""python-nomad, a client nobody here wrote, works unmodified against the dev agent."""

from __future__ import annotations

import queue
import time
from urllib.parse import urlsplit

import nomad
import pytest
from nomad.api import exceptions

from http_agent import SLEEPER, eventually, job_api, serving


@pytest.fixture(scope="module")
def client():
    with serving(clients=1, client_cpu=2000, client_memory=2048) as (agent, api):
        address = urlsplit(agent.http_addr)
        yield agent, nomad.Nomad(host=address.hostname, port=address.port, timeout=10)


def test_register_read_plan_evaluations_allocations_logs_deregister(client) -> None:
    agent, n = client
    job = {"Job": job_api("pn")}
    plan = n.job.plan_job("pn", job, diff=True)
    assert plan["Annotations"]["DesiredTGUpdates"]["g"]["Place"] == 1
    registered = n.job.register_job("pn", job)
    assert registered["EvalID"]
    assert "pn" in n.jobs                                  # python-nomad's __contains__
    assert n.job.get_job("pn")["ID"] == "pn"
    assert [j["ID"] for j in n.jobs.get_jobs(prefix="p")] == ["pn"]

    evals = n.evaluations.get_evaluations()
    assert registered["EvalID"] in [e["ID"] for e in evals]
    assert n.evaluation.get_evaluation(registered["EvalID"])["JobID"] == "pn"

    def running():
        allocs = n.job.get_allocations("pn")
        return [a for a in allocs if a["ClientStatus"] == "running"]
    alloc = eventually(running, what="pn running")[0]
    assert alloc["ID"] in [a["ID"] for a in n.allocations.get_allocations()]
    assert n.allocation.get_allocation(alloc["ID"])["Job"]["ID"] == "pn"

    text = eventually(lambda: n.client.stream_logs.stream(alloc["ID"], "t", "stdout",
                                                          plain=True), what="logs")
    assert text.startswith("started 0")

    deregistered = n.job.deregister_job("pn", purge=True)
    assert deregistered["EvalID"]
    with pytest.raises(exceptions.URLNotFoundNomadException):
        n.job.get_job("pn")


def test_drain_a_node(client) -> None:
    agent, n = client
    agent.add_node("spare", cpu=2000, memory=2048)
    spare = next(node for node in n.nodes.get_nodes() if node["Name"] == "spare")
    def drained() -> list[str]:
        """The node's drain events, once the drainer found the empty node and completed
        its drain."""
        def complete() -> list[str]:
            node = n.node.get_node(spare["ID"])
            assert node["SchedulingEligibility"] == "ineligible"
            events = [e["Message"] for e in node["Events"] if e["Subsystem"] == "Drain"]
            return events if events[-1] == "Node drain complete" and not node["Drain"] else []
        return eventually(complete, what="the drain to complete")

    n.node.drain_node_with_spec(spare["ID"], {"Deadline": 60_000_000_000})
    assert drained() == ["Node drain strategy set", "Node drain complete"]
    n.node.drain_node_with_spec(spare["ID"], None, mark_eligible=True)
    assert n.node.get_node(spare["ID"])["SchedulingEligibility"] == "eligible"
    n.node.drain_node(spare["ID"], enable=True)             # the old form still sent
    assert drained()[-2:] == ["Node drain strategy set", "Node drain complete"]
    n.node.drain_node(spare["ID"], enable=False)
    assert n.node.get_node(spare["ID"])["Drain"] is False
    n.node.eligible_node(spare["ID"], eligible=True)
    assert n.node.get_node(spare["ID"])["SchedulingEligibility"] == "eligible"


def test_errors_arrive_as_python_nomads_exceptions(client) -> None:
    agent, n = client
    with pytest.raises(exceptions.URLNotFoundNomadException):
        n.evaluation.get_evaluation("00000000-0000-0000-0000-000000000000")
    bad = job_api("bad")
    bad["TaskGroups"][0]["Count"] = -1
    with pytest.raises(exceptions.BadRequestNomadException) as caught:
        n.job.register_job("bad", {"Job": bad})
    assert "error" in caught.value.nomad_resp.text


def test_parse_status_agent_and_event_stream(client) -> None:
    agent, n = client
    parsed = n.jobs.parse(SLEEPER % {"id": "parsed", "count": 2})
    assert parsed["TaskGroups"][0]["Count"] == 2
    assert n.status.leader.get_leader() == "127.0.0.1:4647"
    assert n.agent.get_agent()["config"]["Region"] == "global"
    assert n.regions.get_regions() == ["global"]

    stream, stop, events = n.event.stream.get_stream(topic="Job:streamed-pn", timeout=5)
    stream.start()
    time.sleep(0.3)                                        # let it subscribe
    n.job.register_job("streamed-pn", {"Job": job_api("streamed-pn")})
    try:
        frame = events.get(timeout=10)
    except queue.Empty:
        pytest.fail("python-nomad's event stream delivered nothing")
    finally:
        stop.set()
    assert frame["Events"][0]["Topic"] == "Job"
    assert frame["Events"][0]["Key"] == "streamed-pn"


MANUAL = SLEEPER.replace('group "g" {', 'group "g" {\n    update {\n      health_check = "manual"\n    }')


def test_python_nomads_deployment_tests(client) -> None:
    """python-nomad's tests/test_deployment.py, against a deployment of our own: read it,
    fail it while it runs, then every other write refused as terminal, in Nomad's words."""
    agent, n = client
    n.job.register_job("pd", {"Job": job_api("pd", text=MANUAL % {"id": "pd", "count": 1})})
    deployment = eventually(lambda: n.job.get_deployment("pd"), what="pd's deployment")
    deployment_id = deployment["ID"]
    assert deployment_id in [d["ID"] for d in n.deployments.get_deployments()]
    assert [d["ID"] for d in n.deployments.get_deployments(deployment_id[:6])] == [deployment_id]
    assert n.deployments.get_deployments(deployment_id, namespace="other") == []
    assert n.deployment.get_deployment(deployment_id)["ID"] == deployment_id
    assert n.deployment[deployment_id]["JobID"] == "pd"
    assert deployment_id in n.deployment
    missing = "00000000-0000-0000-0000-000000000000"
    assert missing not in n.deployment
    with pytest.raises(KeyError):
        n.deployment[missing]
    allocs = eventually(lambda: n.deployment.get_deployment_allocations(deployment_id),
                        what="pd's allocations")
    assert isinstance(allocs[0], dict) and allocs[0]["JobID"] == "pd"
    assert [d["ID"] for d in n.job.get_deployments("pd")] == [deployment_id]

    failed = n.deployment.fail_deployment(deployment_id)
    assert failed["EvalID"] and failed["RevertedJobVersion"] is None
    assert n.deployment.get_deployment(deployment_id)["Status"] == "failed"
    for call, message in (
            (lambda: n.deployment.pause_deployment(deployment_id, False),
             "can't resume terminal deployment"),
            (lambda: n.deployment.promote_deployment_all(deployment_id),
             "can't promote terminal deployment"),
            (lambda: n.deployment.promote_deployment_groups(deployment_id),
             "can't promote terminal deployment"),
            (lambda: n.deployment.deployment_allocation_health(
                deployment_id, unhealthy_allocations=[allocs[0]["ID"]]),
             "can't set health of allocations for a terminal deployment"),
            (lambda: n.deployment.fail_deployment(deployment_id),
             "can't fail terminal deployment")):
        with pytest.raises(exceptions.BaseNomadException) as caught:
            call()
        assert caught.value.nomad_resp.text == message
    n.job.deregister_job("pd", purge=True)
