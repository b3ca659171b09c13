"""``c.node_down`` / ``c.node_up``: a node cut off from the server and back."""

from __future__ import annotations

import time

import nomadlab as nl

JOB = """
job "web" {
  group "g" {
    count = 2
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""


def wait_for(check, timeout: float = 10.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def test_a_node_cut_off_stays_down_and_stops_what_was_replaced_when_back() -> None:
    with nl.dev(clients=0, seed=3) as c:
        c.server.heartbeat_ttl = 0.5
        c.add_node("a", cpu=1000, memory=1024)
        c.add_node("b", cpu=1000, memory=1024)
        c.submit(JOB)
        c.wait("web", status="running")
        victim = c.node(c.allocs("web")[0].node_id)
        on_victim = [a.id for a in c.allocs("web") if a.node_id == victim.id]

        c.node_down(victim.name)
        time.sleep(1.5)                        # three heartbeat TTLs
        assert c.node(victim.id).status == "down", "a cut-off client does not heartbeat"
        wait_for(lambda: all(c.alloc(i).client_status == "lost" for i in on_victim),
                 what="allocations on the down node lost")
        live = wait_for(lambda: [a for a in c.allocs("web") if a.desired_status == "run"
                                 and a.client_status == "running"] if len(
            [a for a in c.allocs("web") if a.desired_status == "run"
             and a.client_status == "running"]) == 2 else None, what="replacements running")
        assert all(a.node_id != victim.id for a in live)
        runners = c.clients[victim.id].runners
        assert all(not runners[i].done for i in on_victim), "tasks run on while cut off"

        c.node_up(victim.name)
        assert c.node(victim.id).status == "ready"
        wait_for(lambda: all(runners[i].done for i in on_victim),
                 what="the reconnected client stopping the replaced allocations")
        time.sleep(1.0)
        assert c.node(victim.id).status == "ready", "heartbeats resumed"
