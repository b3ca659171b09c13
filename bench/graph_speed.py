"""Build and draw the job graph of a job with 200 allocations on 50 simulated nodes.

Prints seconds for ``job_graph`` and for ``draw`` + PNG render, and their ratio to a
baseline measured in this same run: a bare ``networkx.DiGraph`` with one node per job,
version, evaluation, allocation and node and one edge per link, built without nomadlab.
The issue's target is under one second for build and draw together.

Run: ``python bench/graph_speed.py``.
"""

from __future__ import annotations

import io
import time

import matplotlib

matplotlib.use("Agg")

import networkx as nx  # noqa: E402

import nomadlab as nl  # noqa: E402
from nomadlab import viz  # noqa: E402

JOB = """
job "big" {
  datacenters = ["dc1"]
  group "g" {
    count = 200
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def baseline(n_nodes: int, n_edges: int) -> float:
    def build() -> None:
        g = nx.DiGraph()
        for i in range(n_nodes):
            g.add_node(i, kind="x", label=str(i), status="running", layer=i % 4)
        for i in range(n_edges):
            g.add_edge(i % n_nodes, (i * 7 + 1) % n_nodes, relation="r")
    return best_of(5, build)


def main() -> None:
    c = nl.dev(clients=0, mode="step", seed=1)
    try:
        for i in range(50):
            c.add_node(f"n{i:02d}", cpu=100_000, memory=100_000)
        c.submit(JOB)
        c.run_until_idle(timeout=120)
        allocs, evals = c.allocs("big"), c.evals("big")
        assert len(allocs) == 200, len(allocs)

        build = best_of(5, lambda: viz.job_graph(c, "big"))
        g = viz.job_graph(c, "big")

        def draw() -> None:
            viz.draw(g).savefig(io.BytesIO(), format="png")
        drawn = best_of(3, draw)

        objects = 1 + len(c.server.state.job_versions("default", "big")) + len(evals) + 200 + 50
        links = 1 + len(evals) + 2 * 200
        base = baseline(objects, links)
        total = build + drawn
        print(f"job of 200 allocs on 50 nodes -> graph of {g.number_of_nodes()} nodes, "
              f"{g.number_of_edges()} edges (grouped: {dict(viz.kind_counts(g))})")
        print(f"build  {build:.4f} s   ({build / base:.1f}x bare networkx, {base:.5f} s "
              f"for {objects} nodes / {links} edges)")
        print(f"draw   {drawn:.4f} s   (figure + PNG render)")
        print(f"total  {total:.4f} s   target < 1 s: {'met' if total < 1 else 'MISSED'}")
    finally:
        c.shutdown()


if __name__ == "__main__":
    main()
