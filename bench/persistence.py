"""What persisting the state costs, and how fast an agent comes back.

1. Placement throughput with and without a data dir, in the same run: as
   ``bench/placements.py`` measures it (one evaluation of a job on simulated nodes), but
   through the server from registration to the completed evaluation, since the commits
   (job, evaluation, plan, evaluation update: each one log record, fdatasync'd) are where
   persistence costs.  Target: with / without >= 0.8.
2. Restart time: an agent with 1,000 allocations on simulated nodes is killed with
   SIGKILL, then ``nomadlab agent -dev -data-dir`` is started again on its data dir; timed
   until it serves the job over HTTP (target < 2 s).  The same restart in this process
   shows its parts: the state restored with the nodes back, then every task re-attached.

Run: ``python bench/persistence.py`` (``--quick``: fewer repetitions).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from placements import JOB, simulated_node  # noqa: E402

from nomadlab.agent import Agent  # noqa: E402
from nomadlab.jobspec import parse_job  # noqa: E402
from nomadlab.server.server import Server  # noqa: E402

NODES = 100
ALLOCS = 1000


def placements_per_second(data_dir: Optional[str]) -> float:
    """Register a job of ``ALLOCS`` allocations on ``NODES`` nodes and time the server
    until its evaluation is complete: schedule, plan re-check, plan commit, eval update."""
    server = Server(seed=1)
    if data_dir is not None:
        server.restore(data_dir)
    for i in range(NODES):
        server.state.upsert_node(simulated_node(f"n{i}", cpu=64000, memory=65536, seed=1))
    gc.collect()   # the previous run's server is garbage: collect it before the clock starts
    start = time.perf_counter()
    ev = server.register_job(parse_job(JOB % ALLOCS))
    server.run_until_idle(timeout=600)
    elapsed = time.perf_counter() - start
    assert server.state.eval(ev.id).status == "complete"
    assert len(server.state.allocs()) == ALLOCS
    server.state.close_log()
    return ALLOCS / elapsed


def throughput(rounds: int) -> None:
    memory, disk = [], []
    for _ in range(rounds):   # interleaved, so a busy moment hits both alike
        memory.append(placements_per_second(None))
        with tempfile.TemporaryDirectory() as d:
            disk.append(placements_per_second(d))
    m, d = statistics.median(memory), statistics.median(disk)
    print(f"placements/s ({NODES} nodes, {ALLOCS} allocs, register to eval complete, median of "
          f"{rounds}): in memory {m:,.0f}, with data dir {d:,.0f}, ratio {d / m:.2f} "
          f"(target >= 0.8)")


BUILD = """
import sys, nomadlab as nl
c = nl.dev(clients=0, data_dir=sys.argv[1], seed=5)
for i in range(10):
    c.add_node(f"sim-{i}", cpu=64000, memory=65536)
c.submit('''%s''')
c.wait("bench", "running", timeout=300)
print("ready", c.index, flush=True)
sys.stdin.read()
""" % (JOB % ALLOCS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> Optional[object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return None


def restart() -> None:
    with tempfile.TemporaryDirectory() as data:
        builder = subprocess.Popen([sys.executable, "-c", BUILD, data], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        assert builder.stdout is not None
        line = builder.stdout.readline()
        assert line.startswith("ready"), line
        builder.send_signal(signal.SIGKILL)
        builder.wait()

        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import nomadlab.agent, nomadlab.api.http"],
                       check=True)
        imports = time.perf_counter() - start

        port = free_port()
        start = time.perf_counter()
        agent = subprocess.Popen([sys.executable, "-m", "nomadlab", "agent", "-dev", "-clients",
                                  "0", "-data-dir", data, "-http-port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            serving = None
            while serving is None and time.perf_counter() - start < 120:
                jobs = get(port, "/v1/jobs")
                if jobs and any(j["ID"] == "bench" for j in jobs):
                    serving = time.perf_counter() - start
                time.sleep(0.01)
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait(120)
        assert serving is not None, "the restarted agent never served the job"

        # The same restart in this process, to see its parts: the state restored and the
        # nodes registered (the agent object returned), then every task re-attached.
        start = time.perf_counter()
        restored = Agent(clients=0, data_dir=data, seed=5)
        constructed = time.perf_counter() - start
        while _reattached(restored) < ALLOCS:
            time.sleep(0.01)
        reattached = time.perf_counter() - start
        restarts = sum(e.type == "Started" for a in restored.allocs()
                       for e in a.task_states["t"].events)
        restored.shutdown()
        print(f"restart with {ALLOCS} allocs on 10 simulated nodes after SIGKILL: "
              f"`nomadlab agent -dev -data-dir` serves the job {serving:.2f} s after it was "
              f"started (target < 2 s; {imports:.2f} s of it is Python importing nomadlab)")
        print(f"  in process: state restored and nodes back in {constructed:.2f} s, all "
              f"{ALLOCS} tasks re-attached after {reattached:.2f} s ("
              f"{restarts} 'Started' events for {ALLOCS} tasks: none restarted)")


def _reattached(agent: Agent) -> int:
    """How many allocations have a runner again whose every task has started."""
    return sum(1 for client in list(agent.clients.values())
               for runner in list(client.runners.values())
               if runner.runners and all(t.started.is_set() for t in runner.runners.values()))


def main() -> int:
    throughput(3 if "--quick" in sys.argv else 7)
    restart()
    return 0


if __name__ == "__main__":
    sys.exit(main())
