"""Allocation lists are sent from stubs encoded once per allocation object: the answer
must stay exactly the list built afresh, whatever changed in between."""

from __future__ import annotations

import pytest
import requests

import nomadlab as nl
from nomadlab.api.http import encode_json
from nomadlab.api.stubs import _EncodedStubs, alloc_stub

JOB = """
job "web" {
  group "g" {
    count = 3
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""

OPTIONS = [{}, {"resources": "true"}, {"task_states": "false"},
           {"resources": "true", "task_states": "false"}]


def _fresh(snapshot, resources: bool = False, task_states: bool = True) -> bytes:
    """The list as built without any cache."""
    stubs = [alloc_stub(a, resources) for a in snapshot.allocs()]
    for stub in stubs:
        if not task_states:
            stub["TaskStates"] = None
    return encode_json(stubs)


def _at_rest(agent, path: str, params: dict) -> tuple[bytes, object]:
    """An answer and the snapshot it was drawn from: asked again until no commit (a
    client reporting its tasks) lands during the request."""
    while True:
        snapshot = agent.snapshot()
        answer = requests.get(agent.http_addr + path, params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        if agent.index == snapshot.index:
            return answer.content, snapshot


def _check_every_form(agent) -> None:
    for params in OPTIONS:
        answer, snapshot = _at_rest(agent, "/v1/allocations", params)
        assert answer == _fresh(snapshot, params.get("resources") == "true",
                                params.get("task_states") != "false"), params


@pytest.fixture
def agent():
    with nl.dev(clients=0, mode="step", http=0, seed=3) as agent:
        agent.add_node(name="sim-1", cpu=4000, memory=4096)
        yield agent


def test_the_list_is_the_fresh_list_after_every_kind_of_change(agent) -> None:
    _check_every_form(agent)                                   # empty
    agent.submit(JOB)
    agent.run_until_idle()
    assert len(agent.allocs("web")) == 3
    _check_every_form(agent)                                   # placed and running
    first = agent.allocs("web")[0]
    agent.stop_alloc(first.id)
    agent.run_until_idle()
    assert agent.alloc(first.id).desired_status == "stop"
    _check_every_form(agent)                                   # one replaced
    agent.stop("web")
    agent.run_until_idle()
    _check_every_form(agent)                                   # all stopped


def test_the_job_and_evaluation_lists_come_from_the_same_stubs(agent) -> None:
    ev = agent.submit(JOB)
    agent.run_until_idle()
    requests.get(f"{agent.http_addr}/v1/allocations", timeout=30)   # stubs cached
    agent.stop_alloc(agent.allocs("web")[0].id)
    agent.run_until_idle()
    for path, params, allocs in (
            ("/v1/job/web/allocations", {"all": "true"}, lambda s: s.allocs("web")),
            (f"/v1/evaluation/{ev.id}/allocations", {}, lambda s: s.allocs_by_eval(ev.id))):
        answer, snapshot = _at_rest(agent, path, params)
        assert answer == encode_json([alloc_stub(a) for a in allocs(snapshot)]), path


def test_entries_of_replaced_allocations_are_dropped(agent) -> None:
    cache = _EncodedStubs(floor=1)
    agent.submit(JOB)
    agent.run_until_idle()
    before = agent.snapshot()
    assert len(before.allocs()) == 3
    cache.array(before, before.allocs(), False, True)
    assert len(cache) == 3
    agent.stop("web")                       # every allocation becomes a new object
    agent.run_until_idle()
    after = agent.snapshot()
    assert all(after.alloc(a.id) is not a for a in before.allocs())
    answer = cache.array(after, after.allocs(), False, True)
    assert answer == _fresh(after)
    assert len(cache) == 3                  # the three replaced entries are gone
    cache.array(after, after.allocs(), True, True)
    assert len(cache) == 6                  # one entry per allocation and form
