"""``nl.connect``: a cluster read through Nomad's HTTP API only.

A second agent started in another process (``python -m nomadlab agent -dev``) stands in
for a real cluster: nothing of it is reachable but its HTTP API.  With the same seed, the
same job gives the same IDs there as in an agent in this process, so the job graph read
remotely must equal the one built in-process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Iterator

import pytest

import nomadlab as nl
from nomadlab.api.client import APIError, Client, ConnectionFailed
from nomadlab.api.remote import Remote

SPEC = """
job "web" {
  datacenters = ["dc1"]
  group "cache" {
    count = 2
    task "redis" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo ready; sleep 60"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{what} not reached in {timeout} s")


@pytest.fixture(scope="module")
def other_process() -> Iterator[str]:
    """``nomadlab agent -dev`` in its own process; its address."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nomadlab", "agent", "-dev", "-http-port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    address = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"agent exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                Client(address).get("/v1/status/leader")
                return True
            except ConnectionFailed:
                return False
        wait_until(up, what="agent answering")
        yield address
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "==> Nomad agent started! Log data will stream in below:" in out
        assert "==> Caught signal: terminated" in out


def running(c: object, job_id: str, n: int) -> bool:
    allocs = c.allocs(job_id)  # type: ignore[attr-defined]
    return len(allocs) == n and all(a.client_status == "running" for a in allocs)


def test_remote_job_graph_equals_the_in_process_one(other_process: str) -> None:
    # One after the other: with one seed both agents make the same allocation IDs, and
    # tasks of two agents with the same IDs must not run at once on one host (the exec
    # driver names cgroups by allocation ID).
    with nl.dev() as local:
        local.submit(SPEC)
        wait_until(lambda: running(local, "web", 2), what="local allocations running")
        g_local = nl.viz.job_graph(local, "web")
    remote = nl.connect(other_process)
    ev = remote.submit(SPEC)
    assert ev is not None and ev.job_id == "web"
    wait_until(lambda: running(remote, "web", 2), what="remote allocations running")
    g_remote = nl.viz.job_graph(remote, "web")
    assert set(g_remote.nodes) == set(g_local.nodes)
    assert set(g_remote.edges) == set(g_local.edges)
    assert {k: g_remote.nodes[k]["label"] for k in g_remote} == \
        {k: g_local.nodes[k]["label"] for k in g_local}
    assert g_remote.graph["index"] == remote.index > 0


def test_remote_reads_return_the_agents_structs(other_process: str) -> None:
    remote = nl.connect(other_process)
    job = remote.job("web")
    assert isinstance(job, nl.Job) and job.task_groups[0].name == "cache"
    assert [v.version for v in remote.job_versions("web")] == [0]
    wait_until(lambda: running(remote, "web", 2), what="remote allocations running")
    alloc = remote.allocs("web")[0]
    assert isinstance(alloc, nl.Allocation) and alloc.job is not None and alloc.metrics is not None
    assert remote.alloc(alloc.id[:6]) == alloc  # Nomad's ?prefix=
    ev = remote.eval(alloc.eval_id[:5])
    assert ev.id == alloc.eval_id and ev.trace is None  # traces exist only in-process
    node = remote.node(alloc.node_id[:4])
    assert node == remote.node(node.name) and node.attributes["kernel.name"] == "linux"
    assert [n.id for n in remote.nodes()] == [node.id]
    wait_until(lambda: "ready" in remote.logs(alloc.id), what="task output")
    assert remote.logs(alloc.id, "redis", "stderr") == ""
    plan = remote.plan(SPEC.replace("count = 2", "count = 3"))
    assert plan["Annotations"]["DesiredTGUpdates"]["cache"]["Place"] == 1
    with pytest.raises(KeyError, match='job "nope" not found'):
        remote.job("nope")
    with pytest.raises(KeyError, match=r"No allocation\(s\) with prefix or id"):
        remote.alloc("zzzz")


def test_the_job_list_is_read_from_stubs_in_one_request(other_process: str) -> None:
    """``nomad job status`` against a remote: the list's stubs as Jobs (the Cluster's
    ``jobs``), the same rows as the jobs read in full."""
    from nomadlab.commands.cluster import job_list
    remote = nl.connect(other_process)
    stubs, full = remote.jobs(full=False), remote.jobs()
    assert [(j.id, j.type, j.priority, j.status, j.submit_time) for j in stubs] == \
        [(j.id, j.type, j.priority, j.status, j.submit_time) for j in full]
    assert stubs[0].task_groups == [] and full[0].task_groups   # a stub, not the job
    assert [(j["ID"], j["Status"]) for j in job_list(remote)] == [(j.id, j.status) for j in full]


def test_viz_falls_back_to_alloc_metric_against_a_remote(other_process: str) -> None:
    remote = nl.connect(other_process)
    wait_until(lambda: running(remote, "web", 2), what="remote allocations running")
    ev = remote.evals("web")[-1]
    funnel = nl.viz.placement_funnel(remote, ev.id)
    assert funnel.graph["source"] == "metric"
    assert "AllocMetric" in str(nl.viz.why_not_table(remote, ev.id))
    topology = nl.viz.topology(remote)
    assert len(topology) == 1 and topology[0]["name"] == "client-1"
    timeline = nl.viz.timeline(remote, "web")
    assert len(timeline.segments) == 2 and "task event times" in timeline.note
    with pytest.raises(ValueError, match="read as it is now"):
        nl.viz.job_graph(remote, "web", index=3)


def test_errors_print_as_nomads(other_process: str) -> None:
    with pytest.raises(APIError) as err:
        Client(other_process).get("/v1/job/nope")
    assert err.value.status == 404 and str(err.value) == "Unexpected response code: 404 (job not found)"
    port = free_port()
    with pytest.raises(ConnectionFailed) as refused:
        nl.connect(f"http://127.0.0.1:{port}").jobs()
    assert str(refused.value) == (f'Get "http://127.0.0.1:{port}/v1/jobs": dial tcp '
                                  f"127.0.0.1:{port}: connect: connection refused")


def test_environment_is_honoured(other_process: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_ADDR", other_process)
    monkeypatch.setenv("NOMAD_NAMESPACE", "elsewhere")
    monkeypatch.setenv("NOMAD_TOKEN", "s3cret")
    monkeypatch.setenv("NOMAD_REGION", "global")
    remote = nl.connect()
    assert isinstance(remote, Remote) and remote.address == other_process
    assert remote.client.token == "s3cret" and remote.client.region == "global"
    assert remote.jobs() == []  # another namespace holds no jobs
    monkeypatch.delenv("NOMAD_NAMESPACE")
    assert [j.id for j in nl.connect().jobs()] == ["web"]
    monkeypatch.setenv("NOMAD_REGION", "mars")
    with pytest.raises(APIError, match="No path to region"):
        nl.connect().jobs()
    assert os.environ["NOMAD_TOKEN"] == "s3cret"
