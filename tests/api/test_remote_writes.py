"""Writes through ``nl.connect``: what ``nomadlab job run -check-index`` sends."""

from __future__ import annotations

import pytest

import nomadlab as nl

from http_agent import SLEEPER, serving


def test_submit_with_enforce_index_goes_through_the_http_api() -> None:
    with serving(clients=0, mode="step") as (agent, api):
        agent.add_node("a", cpu=1000, memory=1024)
        remote = nl.connect(agent.http_addr)
        assert remote.submit(SLEEPER % {"id": "cas", "count": 1}, enforce_index=0) is not None
        index = agent.job("cas").job_modify_index
        with pytest.raises(Exception, match="Enforcing job modify index 0: job already exists"):
            remote.submit(SLEEPER % {"id": "cas", "count": 2}, enforce_index=0)
        assert agent.job("cas").version == 0
        remote.submit(SLEEPER % {"id": "cas", "count": 2}, enforce_index=index)
        assert agent.job("cas").version == 1


MANUAL = SLEEPER.replace('group "g" {', 'group "g" {\n    update {\n      health_check = "manual"\n'
                         '      canary       = %(canary)d\n    }').replace(
    'driver = "exec"', 'driver = "exec"\n      env { RELEASE = "%(canary)d" }')


def test_deployments_through_the_http_api_read_and_steer_as_the_agent() -> None:
    """A Remote's deployment reads give the agent's structs; its writes go through
    /v1/deployment/... and come back as the evaluations the agent would give."""
    with serving(clients=0, mode="step") as (agent, api):
        agent.add_node("a", cpu=1000, memory=1024, simulated=True)
        remote = nl.connect(agent.http_addr)
        remote.submit(MANUAL % {"id": "dep", "count": 2, "canary": 0})
        agent.run_until_idle()
        first = agent.latest_deployment("dep")
        assert remote.latest_deployment("dep") == first
        assert remote.deployment(first.id[:6]) == first
        assert remote.deployments() == agent.deployments() == [first]
        assert remote.job_deployments("dep") == agent.job_deployments("dep") == [first]
        assert {a.id for a in remote.deployment_allocations(first.id)} == \
            {a.id for a in agent.deployment_allocations(first.id)}
        with pytest.raises(KeyError, match='No deployment\\(s\\) with prefix or id "zz" found'):
            remote.deployment("zz")
        ev = remote.set_alloc_health(first.id, [a.id for a in agent.allocs("dep")], [])
        assert ev is not None and ev.deployment_id == first.id
        agent.run_until_idle()
        assert remote.deployment(first.id).status == "successful"

        remote.submit(MANUAL % {"id": "dep", "count": 2, "canary": 1})
        agent.run_until_idle()
        second = remote.latest_deployment("dep")
        assert second.job_version == 1 and second.task_groups["g"].desired_canaries == 1
        assert remote.pause_deployment(second.id) is None
        assert agent.deployment(second.id).status == "paused"
        assert remote.resume_deployment(second.id) is not None
        agent.run_until_idle()
        canary, = agent.deployment(second.id).task_groups["g"].placed_canaries
        remote.set_alloc_health(second.id, [canary], [])
        agent.run_until_idle()
        assert remote.promote_deployment(second.id, ["g"]) is not None
        assert agent.deployment(second.id).task_groups["g"].promoted
        assert remote.fail_deployment(second.id) is not None
        assert agent.deployment(second.id).status == "failed"
        with pytest.raises(Exception, match="can't unblock terminal deployment"):
            remote.unblock_deployment(second.id)
