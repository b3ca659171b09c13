"""How close a rolling update comes to the time its update block dictates.

A 10-allocation service job on simulated nodes, ``update { max_parallel = 1,
min_healthy_time = "1s", health_check = "task_states" }``: each new allocation must run
for 1 s before the next one may replace an old one, so the update block itself dictates
10 x 1 s = 10 s.  Everything else -- the deployment watcher noticing the health report,
the evaluation, the scheduler, the plan, the client starting the task -- is overhead.
Measured in auto mode (the background worker, as a user runs it), from the new version's
registration to its deployment being successful; printed as the ratio to the dictated
time (goal: at most 1.2x).

Run: ``python bench/deployment.py``.
"""

from __future__ import annotations

import sys
import time

import nomadlab as nl
from nomadlab.structs.duration import SECOND

COUNT = 10
MAX_PARALLEL = 1
MIN_HEALTHY = 1 * SECOND
GOAL = 1.2

JOB = """job "bench" {
  datacenters = ["dc1"]
  group "web" {
    count = %(count)d
    update {
      max_parallel      = %(max_parallel)d
      health_check      = "task_states"
      min_healthy_time  = "1s"
      healthy_deadline  = "30s"
      progress_deadline = "2m"
    }
    task "srv" {
      driver = "exec"
      config { command = "sleep" }
      env { RELEASE = "%(release)d" }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}"""


def deploy(c: nl.Agent, release: int, timeout: float = 120.0) -> float:
    """Register a release and wait until its deployment succeeds; seconds taken."""
    start = time.monotonic()
    c.submit(JOB % {"count": COUNT, "max_parallel": MAX_PARALLEL, "release": release})
    version = c.job("bench").version
    index = c.index
    while True:
        found = [d for d in c.deployments("bench") if d.job_version == version]
        if found and found[-1].status == "successful":
            return time.monotonic() - start
        if found and found[-1].status in ("failed", "cancelled"):
            raise RuntimeError(f"deployment {found[-1].status}: {found[-1].status_description}")
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"release {release} did not finish in {timeout} s")
        index = c.wait_for_index(index, timeout=1.0)


def main() -> int:
    with nl.dev(clients=0, seed=1) as c:
        for i in range(4):
            c.add_node(f"sim-{i}", cpu=8000, memory=8192)
        first = deploy(c, 0)
        measured = deploy(c, 1)
    dictated = COUNT / MAX_PARALLEL * MIN_HEALTHY / SECOND
    ratio = measured / dictated
    print(f"deployment: first release of {COUNT} allocs healthy in {first:.2f} s "
          f"(dictated {MIN_HEALTHY / SECOND:.0f} s)")
    print(f"deployment: rolling update of {COUNT} allocs, max_parallel {MAX_PARALLEL}, "
          f"min_healthy_time 1s: {measured:.2f} s, dictated {dictated:.0f} s, "
          f"ratio {ratio:.2f}x (goal <= {GOAL}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
