"""Placement throughput of the scheduler, with the trace on, on simulated nodes.

For a service job of N allocations on M nodes, times one evaluation of the pure
scheduler (reconcile + one stack selection per placement + trace + metrics) against a
snapshot, and reports placements per second and peak memory (tracemalloc).  The growth
ratios are against the smallest case measured in this same run: Nomad scores only a
handful of nodes per placement, so cost should grow far below linearly with nodes.

Run: ``python bench/placements.py`` (``--quick`` for the smaller cases only).
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

from nomadlab.agent import simulated_node
from nomadlab.scheduler.generic import schedule
from nomadlab.server.state import StateStore
from nomadlab.jobspec import parse_job
from nomadlab.structs import Evaluation

JOB = '''job "bench" {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}'''


def measure(nodes: int, allocs: int) -> tuple[float, float, int, float]:
    store = StateStore()
    for i in range(nodes):
        store.upsert_node(simulated_node(f"n{i}", cpu=64000, memory=65536, seed=1))
    job = store.upsert_job(parse_job(JOB % allocs))
    ev = Evaluation(id="bench-eval", namespace="default", priority=50, type="service",
                    triggered_by="job-register", job_id=job.id,
                    job_modify_index=job.job_modify_index)
    snapshot = store.snapshot()

    def run() -> int:
        counter = iter(range(10**9))
        result = schedule(ev, snapshot, seed=1, new_id=lambda: f"id-{next(counter)}", now=0)
        return sum(len(v) for v in result.plan.node_allocation.values())

    start = time.perf_counter()
    placed = run()
    elapsed = time.perf_counter() - start
    assert placed == allocs, (placed, allocs)
    # The same run with the state's long-lived objects moved out of the collector's way
    # (gc.freeze): the difference is what Python's cyclic GC costs at this state size.
    gc.freeze()
    start = time.perf_counter()
    run()
    frozen = time.perf_counter() - start
    gc.unfreeze()
    tracemalloc.start()  # a second run for memory: tracing slows Python down several-fold
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return allocs / elapsed, elapsed, peak, allocs / frozen


def main() -> int:
    quick = "--quick" in sys.argv
    cases = [(100, 1000), (1000, 1000), (5000, 1000)]
    if not quick:
        cases += [(100, 10000), (1000, 10000), (5000, 10000)]
    print(f"{'nodes':>6} {'allocs':>7} {'placements/s':>13} {'seconds':>8} {'peak MB':>8}"
          f" {'cost/placement vs 100 nodes':>28} {'placements/s, gc frozen':>24}")
    base: dict[int, float] = {}
    for nodes, allocs in cases:
        rate, elapsed, peak, frozen = measure(nodes, allocs)
        base.setdefault(allocs, rate)
        print(f"{nodes:>6} {allocs:>7} {rate:>13,.0f} {elapsed:>8.2f} {peak / 2**20:>8.1f}"
              f" {base[allocs] / rate:>27.2f}x {frozen:>24,.0f}")
    print("target: 5,000 placements/s on 1,000 nodes with the trace on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
