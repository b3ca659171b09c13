"""How fast does the HTTP API answer list calls, and how soon does a blocking query wake?

A dev agent in a separate process (this script started again with ``--serve``) holds one
job of 1,000 allocations on 20 simulated nodes.  From this process, over loopback with
keep-alive connections, it measures:

* requests per second for ``GET /v1/jobs`` and ``GET /v1/allocations`` (1,000 stubs,
  about 1 MB of JSON), each next to the baseline ``GET /v1/status/leader`` (a constant
  answer through the same server, router and headers) measured in the same run, with one
  connection and with four in parallel;
* the first ``GET /v1/allocations`` after a write (nothing cached: stubs built and
  encoded), next to a cached one;
* blocking-query wake-up: a ``GET /v1/jobs?index=N&wait=30s`` is waiting; a job is
  registered; the time from the register call's start to the blocked query's answer
  (median and worst of 20).  It includes the register's own work (shown beside it), so
  it is an upper bound of the wake-up itself.

Targets (issue 6): >= 1,000 req/s for the list calls, < 20 ms wake-up.  Information, not
a gate: always exits 0.

Run: ``python bench/http_api.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ALLOCS = 1000
NODES = 20
DURATION = 2.0
WAKEUPS = 20
LIST_TARGET = 1000.0
WAKE_TARGET_MS = 20.0

JOB = """
job "bench" {
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 20
        memory = 10
      }
    }
  }
}
"""

SMALL = """
job "%s" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
"""


def serve() -> None:
    """The agent process: 20 simulated nodes, 1,000 allocations, then serve until stdin
    closes."""
    import nomadlab as nl
    agent = nl.dev(clients=0, http=0)
    for i in range(NODES):
        agent.add_node(f"sim-{i}", cpu=4000, memory=8192)
    agent.submit(JOB % ALLOCS)
    agent.wait("bench", status="running", timeout=300)  # then the agent is quiet
    placed = len([a for a in agent.allocs("bench") if a.desired_status == "run"])
    print(json.dumps({"port": agent.http.port, "allocs": placed}), flush=True)
    sys.stdin.read()
    agent.shutdown()


def _rate(port: int, path: str, connections: int) -> float:
    """Requests per second over ``connections`` keep-alive connections for DURATION s."""
    counts = [0] * connections
    stop = time.monotonic() + DURATION

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def _request(port: int, method: str, path: str, body: object = None) -> tuple[dict, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    started = time.monotonic()
    conn.request(method, path, body=json.dumps(body) if body is not None else None)
    response = conn.getresponse()
    data = response.read()
    took = time.monotonic() - started
    conn.close()
    assert response.status == 200, (response.status, data[:200])
    return json.loads(data), took


def _register(port: int, name: str) -> float:
    import nomadlab as nl
    job = nl.parse_job(SMALL % name).to_api()
    return _request(port, "POST", "/v1/jobs", {"Job": job})[1]


def _quiet(port: int, path: str = "/v1/jobs") -> None:
    """Until ``path`` has not changed for 300 ms (the last job's allocation has settled)."""
    index = int(_get(port, path).getheader("X-Nomad-Index"))
    while True:
        answer = _get(port, f"{path}?index={index}&wait=300ms")
        now = int(answer.getheader("X-Nomad-Index"))
        if now == index:
            return
        index = now


def _get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _wakeup(port: int, n: int) -> tuple[float, float]:
    """(register call started -> blocked query answered, the register's round trip), in
    ms.  The first includes the write itself, so it bounds the wake-up from above."""
    _quiet(port)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/v1/jobs")
    response = conn.getresponse()
    response.read()
    index = int(response.getheader("X-Nomad-Index"))
    returned: list[float] = []

    def blocked() -> None:
        conn.request("GET", f"/v1/jobs?index={index}&wait=30s")
        answer = conn.getresponse()
        answer.read()
        returned.append(time.monotonic())

    waiter = threading.Thread(target=blocked)
    waiter.start()
    time.sleep(0.05)  # let the query reach the server and block
    started = time.monotonic()
    register = _register(port, f"wake-{n}")
    waiter.join()
    conn.close()
    return (returned[0] - started) * 1000, register * 1000


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    here = os.path.abspath(__file__)
    server = subprocess.Popen([sys.executable, here, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        info = json.loads(line)
        port = info["port"]
        print(f"HTTP API: agent in another process (pid {server.pid}), {info['allocs']} "
              f"allocations on {NODES} simulated nodes, loopback, keep-alive")
        size = len(json.dumps(_request(port, "GET", "/v1/allocations")[0]))
        print(f"GET /v1/allocations answer: {size / 1e6:.2f} MB of JSON")
        print(f"\n{'path':<24}{'conns':>6}{'req/s':>10}{'baseline req/s':>16}{'ratio':>8}"
              f"{'target':>10}{'met':>5}")
        for connections in (1, 4):
            baseline = _rate(port, "/v1/status/leader", connections)
            for path in ("/v1/jobs", "/v1/allocations"):
                rate = _rate(port, path, connections)
                print(f"{path:<24}{connections:>6}{rate:>10.0f}{baseline:>16.0f}"
                      f"{rate / baseline:>8.2f}{'>= 1000':>10}"
                      f"{'yes' if rate >= LIST_TARGET else 'no':>5}")

        _register(port, "cold")  # a write: the next list is encoded afresh
        cold = _request(port, "GET", "/v1/allocations")[1] * 1000
        warm = statistics.median(_request(port, "GET", "/v1/allocations")[1] * 1000
                                 for _ in range(5))
        print(f"\nGET /v1/allocations after a write (built and encoded): {cold:.1f} ms; "
              f"cached: {warm:.1f} ms ({cold / warm:.1f}x)")

        wakes, registers = zip(*(_wakeup(port, n) for n in range(WAKEUPS)), strict=True)
        median = statistics.median(wakes)
        print(f"blocking query answered after a register started: median {median:.1f} ms, "
              f"worst {max(wakes):.1f} ms (target < {WAKE_TARGET_MS:.0f} ms: "
              f"{'met' if median < WAKE_TARGET_MS else 'not met'}); the register's own round "
              f"trip: median {statistics.median(registers):.1f} ms")
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
