"""The ``nomadlab`` CLI end to end, as a user runs it: ``nomadlab agent -dev`` in one
process, the commands in others, talking HTTP to NOMAD_ADDR."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"

SPEC = """
job "hello" {
  datacenters = ["dc1"]
  group "greet" {
    count = %(count)d
    task "say" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from $NOMAD_ALLOC_INDEX; echo to stderr >&2; sleep 60"]
      }
      resources {
        cpu    = 50
        memory = %(memory)d
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nomadlab", "agent", "-dev", "-clients", "2",
                             "-http-port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    addr = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while nomad(addr, "node", "status").returncode != 0:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "agent did not answer"
            time.sleep(0.2)
        yield addr
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "Client: true (2 nodes: client-1, client-2)" in out
        assert "==> Caught signal: interrupt" in out


def nomad(addr: str, *args: str, cwd: Path | None = None, stdin: str | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "NOMAD_ADDR": addr, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nomadlab", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120, env=environ)


def test_run_watch_status_logs_and_stop(address: str, tmp_path: Path) -> None:
    job_file = tmp_path / "hello.nomad.hcl"
    job_file.write_text(SPEC % {"count": 2, "memory": 32})

    plan = nomad(address, "job", "plan", "hello.nomad.hcl", cwd=tmp_path)
    assert plan.returncode == 1, plan.stderr
    assert plan.stdout.startswith('+ Job: "hello"\n+ Task Group: "greet" (2 create)\n')
    assert "nomad job run -check-index 0 hello.nomad.hcl" in plan.stdout

    run = nomad(address, "job", "run", "hello.nomad.hcl", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(rf'==> {TS}: Monitoring evaluation "[0-9a-f]{{8}}"', lines[0])
    assert re.fullmatch(rf'    {TS}: Evaluation triggered by job "hello"', lines[1])
    created = [line for line in lines if re.fullmatch(
        rf'    {TS}: Allocation "[0-9a-f]{{8}}" created: node "[0-9a-f]{{8}}", group "greet"', line)]
    assert len(created) == 2
    finished = next(i for i, line in enumerate(lines) if "finished with status" in line)
    assert re.fullmatch(rf'==> {TS}: Evaluation "[0-9a-f]{{8}}" finished with status "complete"',
                        lines[finished])
    # then the deployment of version 0, followed over HTTP until it is successful
    assert re.fullmatch(rf'==> {TS}: Monitoring deployment "([0-9a-f]{{8}})"', lines[finished + 1])
    assert re.fullmatch(r'  ✓ Deployment "[0-9a-f]{8}" successful', lines[finished + 2])
    assert lines[-3:-1] == ["    Deployed",
                            "    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline"]
    assert lines[-1].split()[:5] == ["greet", "2", "2", "2", "0"]
    listed = nomad(address, "deployment", "list")
    assert listed.returncode == 0
    assert re.search(r"^[0-9a-f]{8}  hello   0            successful  Deployment completed "
                     r"successfully$", listed.stdout, re.M)

    deadline = time.monotonic() + 30
    while nomad(address, "job", "status", "hello").stdout.count(" running ") < 2:
        assert time.monotonic() < deadline, "allocations did not start"
        time.sleep(0.2)
    status = nomad(address, "status", "hello")
    assert status.returncode == 0
    assert re.search(r"Summary\nTask Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\n"
                     r"greet       0       0         2 ", status.stdout)
    alloc_ids = re.findall(r"^([0-9a-f]{8})  [0-9a-f]{8}  greet ", status.stdout, re.M)
    assert len(alloc_ids) == 2

    verbose = nomad(address, "alloc", "status", "-verbose", alloc_ids[0])
    assert verbose.returncode == 0, verbose.stderr
    assert re.search(r"^ID                  = [0-9a-f-]{36}$", verbose.stdout, re.M)
    assert "Placement Metrics\n" in verbose.stdout
    assert re.search(r"^Node\s+binpack\s+job-anti-affinity\s+.*final score$", verbose.stdout, re.M)
    assert re.search(r'^Task "say" is "running"$', verbose.stdout, re.M)

    deadline = time.monotonic() + 30
    while not nomad(address, "alloc", "logs", alloc_ids[0]).stdout:
        assert time.monotonic() < deadline, "no output"
        time.sleep(0.2)
    logs = nomad(address, "alloc", "logs", alloc_ids[0], "say")
    assert re.fullmatch(r"hello from [01]\n", logs.stdout)
    assert nomad(address, "alloc", "logs", "-stderr", alloc_ids[0]).stdout == "to stderr\n"
    assert nomad(address, "alloc", "logs", "-tail", "-n", "1", alloc_ids[1]).stdout.startswith("hello")

    history = nomad(address, "job", "history", "hello")
    assert history.stdout.startswith("Version     = 0\n")
    inspect = nomad(address, "job", "inspect", "hello")
    assert inspect.stdout.startswith('{\n    "Job": {\n        "ID": "hello",')

    stop = nomad(address, "job", "stop", "hello")
    assert stop.returncode == 0, stop.stderr
    assert re.search(rf'==> {TS}: Evaluation "[0-9a-f]{{8}}" finished with status "complete"', stop.stdout)
    assert "dead (stopped)" in nomad(address, "job", "status", "hello").stdout


def test_placement_failure_exits_2(address: str) -> None:
    spec = (SPEC % {"count": 1, "memory": 10_000_000}).replace('"hello"', '"huge"')
    run = nomad(address, "job", "run", "-", stdin=spec)
    assert run.returncode == 2, run.stdout + run.stderr
    assert 'failed to place all allocations:' in run.stdout
    assert re.search(rf'    {TS}: Task Group "greet" \(failed to place 1 allocation\):\n'
                     r'      \* Resources exhausted on 2 nodes\n'
                     r'      \* Dimension "memory" exhausted on 2 nodes\n'
                     rf'    {TS}: Evaluation "[0-9a-f]{{8}}" waiting for additional capacity', run.stdout)
    blocked = re.search(r'Evaluation "([0-9a-f]{8})" waiting', run.stdout).group(1)
    ev = nomad(address, "eval", "status", blocked)
    assert ev.returncode == 0 and "Status             = blocked" in ev.stdout
    assert nomad(address, "job", "stop", "-purge", "-detach", "huge").returncode == 0


def test_nodes_flags_and_errors(address: str) -> None:
    nodes = nomad(address, "node", "status")
    assert re.match(r"ID\s+Node Pool\s+DC\s+Name\s+Class\s+Drain\s+Eligibility\s+Status\n", nodes.stdout)
    assert nodes.stdout.count(" ready") == 2
    ineligible = nomad(address, "node", "eligibility", "-disable", "client-2")
    assert ineligible.returncode == 0 and "ineligible for scheduling" in ineligible.stdout
    assert "ineligible" in nomad(address, "node", "status", "client-2").stdout
    assert nomad(address, "node", "eligibility", "-enable", "client-2").returncode == 0

    missing = nomad(address, "job", "status", "nope")
    assert missing.returncode == 1
    assert missing.stderr == 'Error querying job: No job(s) with prefix or id "nope" found\n'
    bad_region = nomad(address, "job", "status", "-region=mars")
    assert bad_region.returncode == 1
    assert bad_region.stderr == "Error querying jobs: Unexpected response code: 500 (No path to region)\n"
    port = free_port()
    refused = nomad(address, "status", f"-address=http://127.0.0.1:{port}")
    assert refused.returncode == 1 and "connect: connection refused" in refused.stderr


def test_alloc_logs_follow_streams_until_the_task_ends(address: str) -> None:
    batch = """
job "countdown" {
  type = "batch"
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo one; sleep 1; echo two; sleep 1; echo three"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""
    run = nomad(address, "job", "run", "-", stdin=batch)
    assert run.returncode == 0, run.stderr
    alloc = re.search(r'Allocation "([0-9a-f]{8})" created', run.stdout).group(1)
    follow = nomad(address, "alloc", "logs", "-f", alloc)
    assert follow.returncode == 0, follow.stderr
    assert follow.stdout == "one\ntwo\nthree\n"
    assert "complete" in nomad(address, "alloc", "status", alloc).stdout


def test_usage() -> None:
    assert nomad("http://127.0.0.1:1", "--help").stdout.startswith("Usage: nomadlab ")
    lab = nomad("http://127.0.0.1:1", "lab", "--help")
    assert lab.returncode == 0 and lab.stdout.startswith("usage: nomadlab lab")
    bad = nomad("http://127.0.0.1:1", "alloc", "logs")
    assert bad.returncode == 1 and "usage: nomadlab alloc logs" in bad.stderr
