"""Write one PNG of every picture for a scripted scenario, to look at them all at once.

Run: ``python bench/gallery.py [out dir]`` (default ``bench/out/``).  The scenario: four
simulated nodes (one Windows, one with little memory), a job constrained to Linux that
one node cannot fit, an update, and a node going down.
"""

from __future__ import annotations

import os
import sys

import nomadlab as nl

JOB = '''job "web" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "api" {
    count = %d
    task "srv" {
      driver = "exec"
      config { command = "sleep" }
      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}'''


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
    os.makedirs(out, exist_ok=True)
    with nl.dev(clients=0, mode="step", seed=1) as c:
        c.add_node("win", attributes={"kernel.name": "windows"})
        c.add_node("tiny", memory=256)
        c.add_node("n1", memory=4096)
        c.add_node("n2", memory=4096)
        start = c.index
        ev = c.submit(JOB % 3)
        c.run_until_idle()
        c.submit(JOB % 4)
        c.run_until_idle()
        c.node_down("n1")
        c.run_until_idle()
        viz = nl.viz
        pictures = {
            "job-graph": viz.draw(viz.job_graph(c, "web")),
            "job-graph-at-start": viz.draw(viz.job_graph(c, "web", index=start + 2)),
            "topology": viz.draw_topology(c),
            "diff": viz.draw_diff(viz.diff(c, start, c.index)),
            "placement-funnel": viz.draw_funnel(c, ev.id),
            "why-not": viz.draw_why_not(c.explain(ev.id)),
            "timeline": viz.draw_timeline(c, "web"),
        }
        for name, figure in pictures.items():
            path = os.path.join(out, f"{name}.png")
            figure.savefig(path, dpi=100)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
