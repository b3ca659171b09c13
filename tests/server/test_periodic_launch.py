"""The periodic dispatcher: a periodic job launches a child at each cron time."""

from __future__ import annotations

import datetime

import nomadlab as nl
from nomadlab.server.server import Server

SPEC = """
job "nightly" {
  type = "batch"
  periodic {
    cron             = "*/5 * * * *"
    prohibit_overlap = %s
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""

START = int(datetime.datetime(2026, 11, 29, 12, 1, tzinfo=datetime.timezone.utc).timestamp())


def _server(overlap: str) -> tuple[Server, list[int]]:
    now = [START * 10**9]
    server = Server(seed=1, clock=lambda: now[0])
    server.register_job(nl.parse_job(SPEC % overlap))
    return server, now


def children(server: Server) -> list[str]:
    return sorted(j.id for j in server.state.jobs() if j.parent_id == "nightly")


def test_a_periodic_job_launches_at_its_cron_times() -> None:
    server, now = _server("false")
    expected = (START // 300 + 1) * 300                       # 12:05
    assert server.next_periodic_launch("default", "nightly") == expected * 10**9
    server.step()
    assert children(server) == []                             # not yet
    now[0] = (expected + 1) * 10**9
    server.step()
    assert children(server) == [f"nightly/periodic-{expected}"]
    child = server.state.job("default", f"nightly/periodic-{expected}")
    assert child.periodic is None and child.type == "batch"
    assert server.next_periodic_launch("default", "nightly") == (expected + 300) * 10**9
    now[0] = (expected + 301) * 10**9
    server.step()
    assert len(children(server)) == 2


def test_prohibit_overlap_skips_a_launch_while_a_child_runs() -> None:
    server, now = _server("true")
    first = (START // 300 + 1) * 300
    now[0] = (first + 1) * 10**9
    server.step()
    assert len(children(server)) == 1                          # pending: nothing ran it
    now[0] = (first + 301) * 10**9
    server.step()
    assert len(children(server)) == 1, "the first child has not finished"


def test_stopping_the_parent_ends_its_launches() -> None:
    server, now = _server("false")
    server.deregister_job("default", "nightly")
    now[0] = (START + 3600) * 10**9
    server.step()
    assert children(server) == []
    assert server.next_periodic_launch("default", "nightly") is None
