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
