"""How fast does the HTTP API answer list calls, and how soon does a blocking query wake?

A dev agent in a separate process (this script started again with ``--serve``) holds one
job of 1,000 allocations on 20 simulated nodes.  From this process, over loopback with
keep-alive connections, it measures:

* requests per second for ``GET /v1/jobs`` and ``GET /v1/allocations`` (1,000 stubs,
  about 1 MB of JSON), each next to the baseline ``GET /v1/status/leader`` (a constant
  answer through the same server, router, origin check and headers) measured in the same
  run, with 1, 4 and 20 connections;
* the first ``GET /v1/allocations`` after a write (the answer joined afresh; only the
  stubs of allocations that changed are built and encoded), next to a cached one;
* blocking-query wake-up: a ``GET /v1/jobs?index=N&wait=30s`` is waiting; a job is
  registered; the time from the register call's start to the blocked query's answer
  (median, p99 and worst of 40).  It includes the register's own work (shown beside it),
  so it is an upper bound of the wake-up itself; how long the answer came after the
  register's own answer is shown too (its p99: the wake-up beyond the write).  Measured
  on a quiet agent (the baseline) and again while 20 keep-alive clients in a third
  process (this script with ``--load``) hammer ``GET /v1/jobs`` and ``GET /v1/allocations``.

Targets (issues 6 and 12): >= 1,000 req/s for the list calls with 20 clients; wake-up
p99 < 50 ms under that load.  Information, not a gate: always exits 0.

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
WAKEUPS = 40
LOAD_CLIENTS = 20
LIST_TARGET = 1000.0
WAKE_TARGET_MS = 50.0
LISTS = ("/v1/jobs", "/v1/allocations")

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
  type = "batch"
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


def load(port: int) -> None:
    """The load process: LOAD_CLIENTS keep-alive clients take turns on the list calls
    until stdin closes, then say how many answers they got."""
    stop = threading.Event()
    counts = [0] * LOAD_CLIENTS

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        n = i
        while not stop.is_set():
            conn.request("GET", LISTS[n % len(LISTS)])
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            counts[i] += 1
            n += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(LOAD_CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    print("loading", flush=True)
    sys.stdin.read()
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({"rate": sum(counts) / (time.monotonic() - started)}), flush=True)


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


def _wakeup(port: int, name: str) -> tuple[float, float, float]:
    """(register call started -> blocked query answered, the register's round trip,
    register answered -> blocked query answered or 0 if it came first), in ms.  The first
    includes the write itself, so it bounds the wake-up from above; the last is what the
    wake-up took beyond the write's own acknowledgement."""
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
    register = _register(port, f"wake-{name}")
    answered = time.monotonic()
    waiter.join()
    conn.close()
    return ((returned[0] - started) * 1000, register * 1000,
            max(0.0, returned[0] - answered) * 1000)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _wakeups(port: int, label: str) -> tuple[list[float], list[float], list[float]]:
    wakes, registers, beyond = zip(*(_wakeup(port, f"{label}-{n}") for n in range(WAKEUPS)),
                                   strict=True)
    return list(wakes), list(registers), list(beyond)


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    if "--load" in sys.argv:
        load(int(sys.argv[sys.argv.index("--load") + 1]))
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
        for connections in (1, 4, LOAD_CLIENTS):
            baseline = _rate(port, "/v1/status/leader", connections)
            for path in LISTS:
                rate = _rate(port, path, connections)
                target = connections == LOAD_CLIENTS
                print(f"{path:<24}{connections:>6}{rate:>10.0f}{baseline:>16.0f}"
                      f"{rate / baseline:>8.2f}{'>= 1000' if target else '-':>10}"
                      f"{('yes' if rate >= LIST_TARGET else 'no') if target else '-':>5}")

        _register(port, "cold")  # a write: the next list is encoded afresh
        cold = _request(port, "GET", "/v1/allocations")[1] * 1000
        warm = statistics.median(_request(port, "GET", "/v1/allocations")[1] * 1000
                                 for _ in range(5))
        print(f"\nGET /v1/allocations after a write (answer joined afresh): {cold:.1f} ms; "
              f"cached: {warm:.1f} ms ({cold / warm:.1f}x)")

        quiet, quiet_registers, quiet_beyond = _wakeups(port, "quiet")
        loader = subprocess.Popen([sys.executable, here, "--load", str(port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert loader.stdout and loader.stdout.readline().strip() == "loading"
            loaded, loaded_registers, loaded_beyond = _wakeups(port, "loaded")
        finally:
            if loader.stdin:
                loader.stdin.close()
            load_rate = json.loads(loader.stdout.readline())["rate"] if loader.stdout else 0.0
            loader.wait(timeout=30)
        print(f"\nblocking query answered after a register started, {WAKEUPS} each (ms; "
              f"then the register's own round trip, and the p99 of how long the answer came "
              f"after the register's):")
        print(f"{'':<34}{'median':>8}{'p99':>8}{'worst':>8}{'register':>10}"
              f"{'p99 after':>11}")
        for name, wakes, registers, beyond in (
                ("quiet agent (baseline)", quiet, quiet_registers, quiet_beyond),
                (f"{LOAD_CLIENTS} clients listing ({load_rate:.0f} req/s)", loaded,
                 loaded_registers, loaded_beyond)):
            print(f"{name:<34}{statistics.median(wakes):>8.1f}{_p99(wakes):>8.1f}"
                  f"{max(wakes):>8.1f}{statistics.median(registers):>10.1f}"
                  f"{_p99(beyond):>11.1f}")
        p99 = _p99(loaded)
        print(f"p99 under load / baseline p99: {p99 / _p99(quiet):.2f}; target p99 < "
              f"{WAKE_TARGET_MS:.0f} ms under load: {'met' if p99 < WAKE_TARGET_MS else 'not met'}")
    finally:
        if server.stdin:
            server.stdin.close()
        started = time.monotonic()
        try:
            server.wait(timeout=120)
            print(f"agent shutdown with {ALLOCS} allocations: "
                  f"{time.monotonic() - started:.1f} s")
        except subprocess.TimeoutExpired:
            server.kill()
            print(f"agent shutdown with {ALLOCS} allocations: over 120 s; killed")


if __name__ == "__main__":
    main()
