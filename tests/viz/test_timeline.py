"""The timeline replays the state history: each allocation's statuses and task events."""

from __future__ import annotations

import io
import time
import warnings

import nomadlab as nl

SPEC = '''job "w" {
  group "g" {
    count = 2
    task "t" {
      driver = "exec"
      config { command = "x" }
      resources { memory = 64 }
    }
  }
}'''


def test_timeline_segments_follow_each_allocation() -> None:
    with nl.dev(clients=0, mode="step", seed=1) as c:
        c.add_node("a")
        c.submit(SPEC)
        c.run_until_idle()
        c.wait("w", status="running", timeout=10)
        t = nl.viz.timeline(c, "w")
        allocs = {a.id for a in c.allocs("w")}
        assert {s.alloc_id for s in t.segments} == allocs
        for alloc_id in allocs:
            statuses = [s.status for s in t.segments if s.alloc_id == alloc_id]
            assert statuses[0] == "pending" and statuses[-1] == "running"
        assert {(m[2], m[3]) for m in t.markers} == {(a, "Started") for a in allocs}
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nl.viz.draw_timeline(t, "w").savefig(buffer, format="png")
        assert buffer.getvalue().startswith(b"\x89PNG")


def test_timeline_from_api_json_uses_task_event_times() -> None:
    with nl.dev(clients=0, mode="step", seed=1) as c:
        c.add_node("a")
        c.submit(SPEC)
        c.run_until_idle()
        c.wait("w", status="running", timeout=10)
        time.sleep(0.1)
        data = {"Jobs": [j.to_api() for j in c.jobs()],
                "Evaluations": [e.to_api() for e in c.evals()],
                "Allocations": [a.to_api() for a in c.allocs()],
                "Nodes": [n.to_api() for n in c.nodes()]}
    t = nl.viz.timeline(data, "w")
    assert t.note.startswith("no state history") and len(t.segments) == 2
    assert all(kind == "Started" for _x, _n, _a, kind in t.markers)
