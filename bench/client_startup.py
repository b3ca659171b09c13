"""How long from submit to all allocations running, next to the raw cost of the same work?

For a service job of one group with ``count = 3`` on one real client
(``nl.dev(clients=1, mode="auto", seed=1, client_cpu=4000, client_memory=4096)``), prints
the time from ``submit()`` until ``wait(job_id, status="running")`` returns, for:

* exec   - task driver "exec" running ``/bin/sleep 300``; the raw cost is three
           ``subprocess.Popen(["/bin/sleep", "300"])`` calls (until the third returned);
* docker - task driver "docker" running ``/bin/sleep 300`` in nomadlab/busybox:latest; the
           raw cost is three ``containers.run(..., detach=True)`` calls through the docker
           SDK.  Skipped, with the reason, when no Docker engine answers.

Each figure is the median of 3 runs; raw and nomadlab are measured in the same run, so
machines of different speeds agree on the ratio.  Targets: docker within 1.5x of raw;
exec within 100 ms above raw.  Information, not a gate: always exits 0.

Alongside, where the nomadlab time goes (from the state store's change feed): submit until
the allocations are placed, placed until the client reported all of them running, and
that report until ``wait()`` returned (``wait`` polls every 50 ms).

Run: ``python bench/client_startup.py``.  Everything started is stopped again; the end
of the output checks that no nomadlab-managed container and no ``sleep 300`` is left.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Optional

import nomadlab as nl

REPEAT = 3
COUNT = 3
IMAGE = "nomadlab/busybox:latest"
BENCH_LABEL = "nomadlab.bench"
DOCKER_RATIO_TARGET = 1.5
EXEC_DIFF_TARGET_MS = 100.0

EXEC_TASK = """
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }"""

DOCKER_TASK = f"""
      driver = "docker"
      config {{
        image   = "{IMAGE}"
        command = "/bin/sleep"
        args    = ["300"]
      }}"""


def job_spec(job_id: str, task_body: str) -> str:
    return f"""
job "{job_id}" {{
  datacenters = ["dc1"]
  type        = "service"
  group "sleepers" {{
    count = {COUNT}
    task "sleep" {{{task_body}
      resources {{
        cpu    = 100
        memory = 32
      }}
    }}
  }}
}}
"""


# -- nomadlab ---------------------------------------------------------------------------


class Phases:
    """Times (perf_counter) seen on the state store's change feed for one job."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.placed: Optional[float] = None
        self.running: dict[str, float] = {}

    def __call__(self, events: list) -> None:   # runs under the store's write lock: be quick
        now = time.perf_counter()
        for ev in events:
            if ev.topic != "Allocation":
                continue
            alloc = ev.payload
            if getattr(alloc, "job_id", None) != self.job_id:
                continue
            if self.placed is None:
                self.placed = now
            if alloc.client_status == "running" and alloc.id not in self.running:
                self.running[alloc.id] = now


def wait_stopped(c: "nl.Agent", job_id: str, timeout: float = 60.0) -> None:
    """Until every allocation of the job has finished on the client."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        allocs = c.allocs(job_id)
        if all(a.client_status in ("complete", "failed", "lost") for a in allocs):
            return
        time.sleep(0.05)
    left = ", ".join(f"{a.name} {a.client_status}" for a in c.allocs(job_id))
    print(f"  warning: {job_id} not stopped after {timeout:.0f} s: {left}")


def nomadlab_runs(driver: str, task_body: str) -> tuple[list[float], list[tuple[float, float, float]]]:
    """Submit -> all running, REPEAT times, on one agent; also the per-phase split."""
    totals: list[float] = []
    phases: list[tuple[float, float, float]] = []
    c = nl.dev(clients=1, mode="auto", seed=1, client_cpu=4000, client_memory=4096)
    try:
        for i in range(REPEAT):
            job_id = f"bench-{driver}-{i + 1}"
            spec = job_spec(job_id, task_body)
            feed = Phases(job_id)
            unsubscribe = c.server.state.subscribe(feed)
            try:
                start = time.perf_counter()
                c.submit(spec)
                c.wait(job_id, status="running", timeout=60)
                end = time.perf_counter()
            finally:
                unsubscribe()
            totals.append(end - start)
            if feed.placed is not None and len(feed.running) == COUNT:
                all_running = max(feed.running.values())
                phases.append((feed.placed - start, all_running - feed.placed, end - all_running))
            c.stop(job_id)
            wait_stopped(c, job_id)
    finally:
        c.shutdown()
    return totals, phases


# -- raw ----------------------------------------------------------------------------------


def raw_exec_runs() -> list[float]:
    times = []
    for _ in range(REPEAT):
        procs: list[subprocess.Popen] = []
        try:
            start = time.perf_counter()
            for _ in range(COUNT):
                procs.append(subprocess.Popen(["/bin/sleep", "300"]))
            times.append(time.perf_counter() - start)
        finally:
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.wait()
    return times


def raw_docker_runs(client) -> list[float]:
    times = []
    for _ in range(REPEAT):
        containers = []
        try:
            start = time.perf_counter()
            for _ in range(COUNT):
                containers.append(client.containers.run(IMAGE, ["/bin/sleep", "300"], detach=True,
                                                        labels={BENCH_LABEL: "client_startup"}))
            times.append(time.perf_counter() - start)
        finally:
            for container in containers:
                try:
                    container.remove(force=True)
                except Exception as err:  # noqa: BLE001 - report, keep cleaning up
                    print(f"  warning: could not remove container {container.id[:12]}: {err}")
    return times


def docker_client():
    """(client, None) when an engine answers and has the image, else (None, reason)."""
    try:
        import docker
    except ImportError as err:
        return None, f"the docker SDK is not installed ({err})"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as err:  # noqa: BLE001 - any failure means: no engine here
        return None, f"no Docker engine answers ({type(err).__name__}: {err})"
    try:
        client.images.get(IMAGE)
    except Exception as err:  # noqa: BLE001
        return None, f"image {IMAGE} is not there (run drivers/build-images.sh): {err}"
    return client, None


# -- leftovers ----------------------------------------------------------------------------


def sleep_300_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        argv = [a for a in argv if a]
        if len(argv) >= 2 and os.path.basename(argv[-2]) == b"sleep" and argv[-1] == b"300":
            pids.append(int(entry))
    return pids


def check_leftovers(client) -> None:
    print()
    if client is not None:
        managed = client.containers.list(all=True, filters={"label": "nomadlab.managed=true"})
        ours = [c for c in managed
                if c.labels.get("com.hashicorp.nomad.job_id", "").startswith("bench-docker-")]
        others = [c for c in managed if c not in ours]
        print(f"nomadlab-managed containers (label nomadlab.managed=true) left by this "
              f"benchmark: {', '.join(c.name for c in ours) or 'none'}")
        if others:
            print(f"  (also running, from other jobs, not this benchmark's: "
                  f"{', '.join(c.name for c in others)})")
        raw = client.containers.list(all=True, filters={"label": f"{BENCH_LABEL}=client_startup"})
        print(f"raw baseline containers left: {', '.join(c.name for c in raw) or 'none'}")
    # processes die asynchronously after a kill: give them a moment before judging
    deadline = time.monotonic() + 3.0
    pids = sleep_300_pids()
    while pids and time.monotonic() < deadline:
        time.sleep(0.1)
        pids = sleep_300_pids()
    print(f"sleep 300 processes left: {', '.join(map(str, pids)) or 'none'}")


# -- report -------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1e3


def median_ms(values: list[float]) -> float:
    return ms(statistics.median(values))


def main() -> int:
    rows: list[tuple[str, float, float]] = []
    runs: list[tuple[str, list[float], list[float]]] = []
    splits: list[tuple[str, list[tuple[float, float, float]]]] = []
    skipped: list[str] = []

    raw = raw_exec_runs()
    ours, phases = nomadlab_runs("exec", EXEC_TASK)
    rows.append(("exec", median_ms(raw), median_ms(ours)))
    runs.append(("exec", raw, ours))
    splits.append(("exec", phases))

    client, reason = docker_client()
    if client is None:
        skipped.append(f"docker: skipped, {reason}")
    else:
        raw = raw_docker_runs(client)
        ours, phases = nomadlab_runs("docker", DOCKER_TASK)
        rows.append(("docker", median_ms(raw), median_ms(ours)))
        runs.append(("docker", raw, ours))
        splits.append(("docker", phases))

    print(f"submit -> {COUNT} allocations running, median of {REPEAT} "
          f"(1 client, count = {COUNT}, /bin/sleep 300)")
    print(f"{'case':<8} {'raw ms':>9} {'nomadlab ms':>12} {'ratio':>7} {'difference ms':>14}")
    for case, raw_ms, our_ms in rows:
        ratio = our_ms / raw_ms if raw_ms else float("inf")
        print(f"{case:<8} {raw_ms:9.1f} {our_ms:12.1f} {ratio:6.1f}x {our_ms - raw_ms:14.1f}")
    for line in skipped:
        print(line)
    for case, raw, ours in runs:
        print(f"  {case} runs, ms: raw {', '.join(f'{ms(t):.1f}' for t in raw)}; "
              f"nomadlab {', '.join(f'{ms(t):.1f}' for t in ours)}")
    print("  (raw starts the 3 one after another, as a script would; nomadlab's client starts "
          "its 3 allocations in parallel)")
    print(f"targets: docker within {DOCKER_RATIO_TARGET}x of raw; "
          f"exec within {EXEC_DIFF_TARGET_MS:.0f} ms above raw")
    for case, raw_ms, our_ms in rows:
        if case == "docker":
            met = our_ms <= DOCKER_RATIO_TARGET * raw_ms
        else:
            met = our_ms - raw_ms <= EXEC_DIFF_TARGET_MS
        print(f"  {case}: {'met' if met else 'NOT met'}")

    print()
    print("where nomadlab's time goes (median ms): submit -> placed, placed -> client "
          "reported all running, reported -> wait() returned")
    for case, split in splits:
        if not split:
            print(f"  {case}: no split (the change feed missed an event)")
            continue
        a, b, c = (median_ms([s[i] for s in split]) for i in range(3))
        print(f"  {case:<8} {a:8.1f} {b:8.1f} {c:8.1f}")

    check_leftovers(client)
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # noqa: BLE001 - information, not a gate
        import traceback
        traceback.print_exc()
        print(f"client_startup benchmark did not finish: {err}")
    sys.exit(0)
