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
import hashlib
import sys
import time
import uuid
from typing import Iterable, Optional
import tracemalloc

from nomadlab.scheduler.generic import schedule
from nomadlab.server.state import StateStore
from nomadlab.jobspec import parse_job
from nomadlab.structs import (DriverInfo, Evaluation, NetworkResource, Node, NodeCpuResources,
                              NodeDiskResources, NodeMemoryResources, NodeResources)

def simulated_node(name: str, *, datacenter: str = "dc1", node_class: str = "",
                   node_pool: str = "default", cpu: int = 4000, memory: int = 8192,
                   disk: int = 50_000, meta: Optional[dict[str, str]] = None,
                   attributes: Optional[dict[str, str]] = None,
                   drivers: Iterable[str] = ("exec", "raw_exec", "docker"),
                   seed: int = 0) -> Node:
    """A node struct with Nomad's attribute names, registered straight into a state store:
    the benchmark measures the scheduler alone, without client threads."""
    node_id = str(uuid.UUID(bytes=hashlib.sha256(f"{seed}:{name}".encode()).digest()[:16],
                            version=4))
    drivers = tuple(drivers)
    attrs = {
        "kernel.name": "linux", "os.name": "debian", "cpu.arch": "amd64",
        "cpu.numcores": str(max(1, cpu // 1000)), "cpu.totalcompute": str(cpu),
        "memory.totalbytes": str(memory * 1024 * 1024), "nomad.version": "1.9.0",
        "unique.hostname": name, "unique.network.ip-address": "127.0.0.1",
        "nomadlab.simulated": "true",
        **{f"driver.{d}": "1" for d in drivers},
    }
    attrs.update(attributes or {})
    return Node(
        id=node_id, secret_id=str(uuid.uuid5(uuid.NAMESPACE_OID, node_id)), name=name,
        datacenter=datacenter, node_class=node_class, node_pool=node_pool, attributes=attrs,
        meta=dict(meta or {}),
        drivers={d: DriverInfo(detected=True, healthy=True, health_description="Healthy",
                               attributes={f"driver.{d}.simulated": "true"}) for d in drivers},
        node_resources=NodeResources(
            cpu=NodeCpuResources(cpu_shares=cpu, total_cpu_cores=max(1, cpu // 1000)),
            memory=NodeMemoryResources(memory_mb=memory), disk=NodeDiskResources(disk_mb=disk),
            networks=[NetworkResource(mode="host", device="lo", ip="127.0.0.1",
                                      cidr="127.0.0.1/32")]),
        status="ready", scheduling_eligibility="eligible")


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
