"""How soon is an allocation reported healthy once its tasks have run min_healthy_time?

A service job of ``count = N`` (N = 10, 100, 300) runs on three simulated nodes with
``migrate { min_healthy_time = "1s" }`` and ``health_check = "task_states"``, so every
allocation's health is decided by the client's health tracker (one timer thread per
node, no thread per allocation).  From the state store's change feed, per allocation:
the moment the server saw it running, and the moment it saw its DeploymentStatus.Healthy.

Prints, per N, the median and worst ``(healthy - running) / min_healthy_time``: the wait
the update block dictates is the baseline (1.0), measured in the same run.  Target: the
worst within 1.2x.  A first, unreported run warms the process up.  Information, not a
gate: always exits 0.

Run: ``python bench/alloc_health.py``.
"""

from __future__ import annotations

import statistics
import threading
import time

import nomadlab as nl

MIN_HEALTHY = 1.0
SIZES = (10, 100, 300)
TARGET = 1.2

JOB = '''job "health-%(n)d" {
  group "g" {
    count = %(n)d
    migrate {
      min_healthy_time = "1s"
      healthy_deadline = "5m"
      health_check     = "task_states"
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}'''


def measure(n: int) -> list[float]:
    running: dict[str, float] = {}
    healthy: dict[str, float] = {}
    done = threading.Event()

    def seen(events: list) -> None:
        now = time.monotonic()
        for ev in events:
            alloc = ev.payload
            if ev.topic != "Allocation" or alloc is None:
                continue
            if alloc.client_status == "running":
                running.setdefault(alloc.id, now)
            status = alloc.deployment_status
            if status is not None and status.healthy:
                healthy.setdefault(alloc.id, now)
        if len(healthy) >= n:
            done.set()

    with nl.dev(clients=0, seed=1) as c:
        for i in range(3):
            c.add_node(f"sim-{i}", cpu=100_000, memory=100_000)
        c.subscribe(seen)
        c.submit(JOB % {"n": n})
        if not done.wait(60):
            raise SystemExit(f"only {len(healthy)} of {n} allocations healthy after 60 s")
        return [(healthy[a] - running[a]) / MIN_HEALTHY for a in healthy]


def main() -> None:
    print(f"allocation health on simulated nodes, min_healthy_time = {MIN_HEALTHY:.0f}s "
          "(ratio 1.0 = exactly the wait the update block dictates)")
    measure(SIZES[0])  # warm-up: the first agent of a process pays for imports
    for n in SIZES:
        ratios = measure(n)
        worst = max(ratios)
        verdict = "ok" if worst <= TARGET else f"above the {TARGET}x target"
        print(f"  {n:4d} allocations: median {statistics.median(ratios):.3f}x, "
              f"worst {worst:.3f}x ({verdict})")


if __name__ == "__main__":
    main()
