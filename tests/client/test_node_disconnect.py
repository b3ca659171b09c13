"""``disconnect``: a node cut off is ``disconnected``, its allocations ``unknown`` (not lost)
until ``lost_after``; when it is back, the group's ``reconcile`` strategy decides."""

from __future__ import annotations

import time

import nomadlab as nl
from nomadlab.scheduler.disconnect import ALLOC_RECONNECTED, ALLOC_UNKNOWN


def spec(disconnect: str) -> str:
    return f"""
job "edge" {{
  group "g" {{
    disconnect {{
      {disconnect}
    }}
    task "t" {{
      driver = "exec"
      config {{
        command = "/bin/sleep"
        args    = ["300"]
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"""


def wait_for(check, timeout: float = 20.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def live(c) -> list:
    return [a for a in c.allocs("edge") if a.desired_status == "run"]


def cut_off_the_node_of_the_only_alloc(c, disconnect: str):
    c.add_node("a", cpu=1000, memory=1024)
    c.add_node("b", cpu=1000, memory=1024)
    c.submit(spec(disconnect))
    (original,) = c.wait("edge", status="running")
    victim = c.node(original.node_id)
    assert c.node_down(victim.name).status == "disconnected"
    wait_for(lambda: c.alloc(original.id).client_status == "unknown", what="unknown")
    return original, victim


def test_unknown_until_the_client_is_back_then_keep_original_stops_the_replacement() -> None:
    with nl.dev(clients=0, seed=3) as c:
        original, victim = cut_off_the_node_of_the_only_alloc(
            c, 'lost_after = "1h"\n reconcile = "keep_original"')
        assert c.alloc(original.id).client_description == ALLOC_UNKNOWN
        replacement = wait_for(lambda: next((a for a in live(c) if a.id != original.id
                                             and a.client_status == "running"), None),
                               what="a replacement running meanwhile")
        assert replacement.node_id != victim.id
        assert replacement.previous_allocation == original.id
        runner = c.clients[victim.id].runners[original.id]
        assert not runner.done, "the cut-off client keeps its task running"

        c.node_up(victim.name)
        wait_for(lambda: c.alloc(replacement.id).desired_status == "stop",
                 what="the replacement stopped")
        assert c.alloc(replacement.id).desired_description == ALLOC_RECONNECTED
        back = wait_for(lambda: (a := c.alloc(original.id)).client_status == "running"
                        and a.alloc_states[-1].value == "running" and a, what="reconnected")
        assert back.desired_status == "run"
        assert [s.value for s in back.alloc_states] == ["unknown", "running"]
        assert "Reconnected" in [e.type for e in back.task_states["t"].events]
        assert not runner.done


def test_replace_false_places_nothing_while_unknown_and_lost_after_makes_it_lost() -> None:
    with nl.dev(clients=0, seed=3) as c:
        original, victim = cut_off_the_node_of_the_only_alloc(
            c, 'lost_after = "1s"\n replace = false')
        timeout_eval = wait_for(lambda: next((e for e in c.evals("edge")
                                              if e.triggered_by == "max-disconnect-timeout"),
                                             None), what="the disconnect timeout evaluation")
        assert [a.id for a in c.allocs("edge")] == [original.id], \
            "replace = false: no replacement while the alloc is unknown"
        wait_for(lambda: c.eval(timeout_eval.id).status == "complete",
                 what="the timeout evaluation run after lost_after")
        lost = c.alloc(original.id)
        assert (lost.client_status, lost.desired_status) == ("lost", "stop")
        wait_for(lambda: [a for a in live(c) if a.client_status == "running"],
                 what="a replacement once lost")
        assert c.node(victim.id).status == "disconnected"


def test_stop_on_client_after_the_client_stops_it_and_only_then_is_it_replaced() -> None:
    with nl.dev(clients=0, seed=3) as c:
        c.add_node("a", cpu=1000, memory=1024)
        c.add_node("b", cpu=1000, memory=1024)
        c.submit(spec('stop_on_client_after = "500ms"'))
        (original,) = c.wait("edge", status="running")
        victim = c.node(original.node_id)
        assert c.node_down(victim.name).status == "down", "no lost_after: down at once"
        wait_for(lambda: c.alloc(original.id).client_status == "lost", what="lost at once")
        followup = wait_for(lambda: next((e for e in c.evals("edge") if e.wait_until), None),
                            what="the evaluation that waits for the client to stop it")
        runner = c.clients[victim.id].runners[original.id]
        wait_for(lambda: runner.done, what="the cut-off client stopping the allocation")
        killing = [e for e in runner.runners["t"].state.events if e.type == "Killing"]
        assert "stop_on_client_after" in killing[0].kill_reason
        (replacement,) = wait_for(lambda: [a for a in live(c) if a.client_status == "running"],
                                  what="the replacement", timeout=30)
        assert replacement.eval_id == followup.id, "placed by the follow-up, not before"
        assert replacement.node_id != victim.id


def test_missed_heartbeats_make_the_node_disconnected_and_its_return_makes_it_ready() -> None:
    with nl.dev(clients=0, seed=3) as c:
        c.server.heartbeat_ttl = 0.5
        c.add_node("a", cpu=1000, memory=1024)
        c.submit(spec('lost_after = "1h"\n replace = false'))
        (alloc,) = c.wait("edge", status="running")
        client = c.clients[alloc.node_id]
        client.cut_off()
        wait_for(lambda: c.node(alloc.node_id).status == "disconnected",
                 what="the heartbeat TTL running out")
        wait_for(lambda: c.alloc(alloc.id).client_status == "unknown", what="unknown")
        client.reconnect()
        wait_for(lambda: c.node(alloc.node_id).status == "ready", what="ready again")
        back = wait_for(lambda: (a := c.alloc(alloc.id)).alloc_states
                        and a.alloc_states[-1].value == "running" and a, what="reconnected")
        assert back.client_status == "running" and back.desired_status == "run"
        assert [a.id for a in c.allocs("edge")] == [alloc.id]
