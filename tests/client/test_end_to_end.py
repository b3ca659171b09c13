"""End to end with real drivers: jobs submitted to nl.dev() run as real processes and
containers, and everything they started is gone after shutdown."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest

import nomadlab as nl

IMAGE = "nomadlab/busybox:latest"


def job(job_id: str, driver: str, config: str, *, count: int = 1, type_: str = "service",
        group: str = "", memory: int = 64) -> str:
    return f'''job "{job_id}" {{
  type = "{type_}"
  group "g" {{
    count = {count}
    {group}
    task "t" {{
      driver = "{driver}"
      config {{
        {config}
      }}
      resources {{
        cpu    = 100
        memory = {memory}
      }}
    }}
  }}
}}'''


def running_pids(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture
def c():
    agent = nl.dev(clients=2, mode="auto", seed=11, client_cpu=2000, client_memory=2048)
    yield agent
    agent.shutdown()


def test_exec_task_sees_its_nomad_variables(c) -> None:
    c.submit(job("env", "exec", 'command = "/bin/sh"\n args = ["-c", "env | grep ^NOMAD_ | '
                 'sort"]', type_="batch"))
    (alloc,) = c.wait("env", status="complete", timeout=30)
    out = c.logs(alloc.id, "t")
    assert f"NOMAD_ALLOC_ID={alloc.id}" in out
    assert "NOMAD_ALLOC_NAME=env.g[0]" in out and "NOMAD_JOB_NAME=env" in out
    assert "NOMAD_MEMORY_LIMIT=64" in out and "NOMAD_CPU_LIMIT=100" in out
    task_dir = next(line.split("=", 1)[1] for line in out.splitlines()
                    if line.startswith("NOMAD_TASK_DIR="))
    assert task_dir.endswith(f"{alloc.id}/t/local")
    events = [e.type for e in alloc.task_states["t"].events]
    assert events == ["Received", "Task Setup", "Driver", "Started", "Terminated"]
    driver = alloc.task_states["t"].events[2].display_message
    assert driver.startswith("running as "), driver


def test_failing_task_restarts_then_fails_then_is_rescheduled(c) -> None:
    spec = job("crash", "exec", 'command = "/bin/sh"\n args = ["-c", "exit 1"]',
               group='restart {\n attempts = 1\n delay = "100ms"\n interval = "1m"\n'
                     ' mode = "fail"\n }\n reschedule {\n delay = "1s"\n'
                     ' delay_function = "constant"\n unlimited = true\n }')
    c.submit(spec)
    first = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        allocs = c.allocs("crash")
        failed = [a for a in allocs if a.client_status == "failed"]
        if failed and any(a.previous_allocation == failed[0].id for a in allocs):
            first = failed[0]
            break
        time.sleep(0.1)
    assert first is not None, "the failed allocation was never replaced"
    events = [e.type for e in first.task_states["t"].events]
    assert events.count("Started") == 2 and "Restarting" in events
    # the deployment's health verdict ("Alloc Unhealthy") may come after the restart policy's
    assert [e for e in events if e != "Alloc Unhealthy"][-1] == "Not Restarting"
    restarting = next(e for e in first.task_states["t"].events if e.type == "Restarting")
    assert restarting.start_delay >= 100_000_000
    assert first.task_states["t"].failed


def test_memory_hog_is_killed_for_memory(c) -> None:
    spec = job("hog", "exec", 'command = "/bin/sh"\n args = ["-c", "head -c 300m /dev/zero | '
               'tail"]', type_="batch", memory=20,
               group='restart {\n attempts = 0\n mode = "fail"\n }')
    c.submit(spec)
    (alloc,) = c.wait("hog", status="failed", timeout=30)
    terminated = next(e for e in alloc.task_states["t"].events if e.type == "Terminated")
    isolation = c.node(alloc.node_id).attributes.get("driver.exec.isolation", "")
    if isolation.startswith("cgroups"):
        assert "OOM Killed" in terminated.display_message
    else:
        assert terminated.exit_code != 0


def test_stopped_client_means_node_down_lost_and_replaced(c) -> None:
    spec = job("svc", "exec", 'command = "/bin/sleep"\n args = ["300"]')
    c.submit(spec)
    (alloc,) = c.wait("svc", status="running", timeout=30)
    c.stop_client(alloc.node_id, kill_tasks=True)
    deadline = time.monotonic() + 30
    replacement = None
    while time.monotonic() < deadline:
        lost = c.alloc(alloc.id)
        others = [a for a in c.allocs("svc") if a.id != alloc.id and a.client_status == "running"]
        if lost.client_status == "lost" and others:
            replacement = others[0]
            break
        time.sleep(0.1)
    assert replacement is not None, "the allocation was not replaced after its node went down"
    assert c.node(alloc.node_id).status == "down"
    assert replacement.node_id != alloc.node_id and replacement.previous_allocation == alloc.id


def test_raw_exec_is_refused_until_enabled() -> None:
    spec = job("raw", "raw_exec", 'command = "/bin/true"', type_="batch")
    with nl.dev(clients=1, mode="auto", seed=3) as c:
        ev = c.submit(spec)
        c.run_until_idle(timeout=10)
        metric = c.eval(ev.id).failed_tg_allocs["g"]
        assert metric.constraint_filtered == {"missing drivers": 1}
        assert "raw_exec is disabled" in c.nodes()[0].drivers["raw_exec"].health_description
    with nl.dev(clients=1, mode="auto", seed=3, raw_exec=True) as c:
        c.submit(spec)
        assert c.wait("raw", status="complete", timeout=30)


def test_stop_and_shutdown_leave_no_process_behind() -> None:
    marker = "417.5"  # an unusual sleep argument to find our processes by
    spec = job("sleeper", "exec", f'command = "/bin/sleep"\n args = ["{marker}"]', count=2)
    c = nl.dev(clients=1, mode="auto", seed=5)
    try:
        c.submit(spec)
        c.wait("sleeper", status="running", timeout=30)
        assert len(running_pids(f"sleep {marker}")) == 2
        c.stop("sleeper")
        deadline = time.monotonic() + 20
        while running_pids(f"sleep {marker}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running_pids(f"sleep {marker}") == []
        while not all(a.client_status == "complete" for a in c.allocs("sleeper")) \
                and time.monotonic() < deadline:  # the client reports it asynchronously
            time.sleep(0.05)
        assert all(a.client_status == "complete" for a in c.allocs("sleeper"))
        c.submit(job("again", "exec", f'command = "/bin/sleep"\n args = ["{marker}"]'))
        c.wait("again", status="running", timeout=30)
    finally:
        c.shutdown()
    assert running_pids(f"sleep {marker}") == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docker_job_serves_http_on_its_mapped_port(engine) -> None:
    from nomadlab.drivers.docker import DockerDriver
    spec = f'''job "web" {{
  group "g" {{
    network {{
      port "http" {{ to = 8080 }}
    }}
    task "srv" {{
      driver = "docker"
      config {{
        image = "{IMAGE}"
        command = "/bin/sh"
        args = ["-c", "echo hello from $NOMAD_ALLOC_NAME > /local/index.html; httpd -f -p 8080 -h /local"]
        ports = ["http"]
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''
    c = nl.dev(clients=1, mode="auto", seed=9)
    try:
        c.submit(spec)
        (alloc,) = c.wait("web", status="running", timeout=60)
        port = next(p for p in alloc.allocated_resources.shared.ports if p.label == "http")
        assert port.to == 8080 and port.value >= 20000
        body = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port.value}/index.html",
                                              timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert body.strip() == "hello from web.g[0]"
        assert DockerDriver.find_managed(alloc.id)
    finally:
        c.shutdown()
    assert DockerDriver.find_managed(alloc.id) == []


def test_lifecycle_prestart_runs_first_and_a_failed_sibling_stops_the_group(c) -> None:
    spec = '''job "life" {
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode = "fail"
    }
    task "init" {
      driver = "exec"
      lifecycle { hook = "prestart" }
      config {
        command = "/bin/sh"
        args = ["-c", "date +%s%N > ${NOMAD_ALLOC_DIR}/init-done"]
      }
    }
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args = ["-c", "cat ${NOMAD_ALLOC_DIR}/init-done && sleep 0.2 && exit 3"]
      }
    }
    task "helper" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args = ["60"]
      }
    }
  }
}'''
    c.submit(spec)
    (alloc,) = c.wait("life", status="failed", timeout=30)
    deadline = time.monotonic() + 20
    while c.alloc(alloc.id).task_states["helper"].state != "dead" and time.monotonic() < deadline:
        time.sleep(0.1)
    alloc = c.alloc(alloc.id)
    assert c.logs(alloc.id, "main").strip().isdigit(), "main saw the file init wrote first"
    states = alloc.task_states
    assert not states["init"].failed and states["init"].state == "dead"
    assert states["main"].failed
    helper_events = [e.type for e in states["helper"].events]
    assert "Sibling Task Failed" in helper_events and helper_events[-1] == "Killed"


def test_a_restarted_client_reattaches_to_its_running_tasks(c) -> None:
    marker = "613.25"
    c.submit(job("keep", "exec", f'command = "/bin/sleep"\n args = ["{marker}"]'))
    (alloc,) = c.wait("keep", status="running", timeout=30)
    (pid,) = running_pids(f"sleep {marker}")
    c.restart_client(alloc.node_id)
    time.sleep(1.0)
    assert running_pids(f"sleep {marker}") == [pid], "the task kept running, same process"
    now = c.alloc(alloc.id)
    assert now.client_status == "running"
    assert [e.type for e in now.task_states["t"].events].count("Started") == 1
    c.stop("keep")
    deadline = time.monotonic() + 20
    while running_pids(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running_pids(f"sleep {marker}") == [], "the new client stopped the recovered task"
    c.wait(alloc.id, status="complete", timeout=10)  # the client reports it (asynchronously)


def test_task_logs_rotate_by_size_and_alloc_logs_reads_them_in_order(c) -> None:
    spec = job("chatty", "exec", 'command = "/bin/sh"\n args = ["-c", "head -c 3000000 '
               '/dev/zero | tr \\"\\\\\\\\000\\" x; echo END"]', type_="batch")
    spec = spec.replace('resources {', 'logs {\n max_files = 2\n max_file_size = 1\n }\n'
                        '      resources {', 1)
    c.submit(spec)
    (alloc,) = c.wait("chatty", status="complete", timeout=30)
    logs_dir = c.clients[alloc.node_id].runners[alloc.id].dir.logs
    names = sorted(n for n in os.listdir(logs_dir) if n.startswith("t.stdout."))
    assert names == ["t.stdout.1", "t.stdout.2"]
    out = c.logs(alloc.id, "t")
    assert out.endswith("END\n") and len(out) < 3_000_000


def test_an_image_pull_shows_as_task_events(engine) -> None:
    """No registry answers here, so the pull fails fast; the task still tells the story."""
    spec = '''job "pull" {
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode = "fail"
    }
    task "t" {
      driver = "docker"
      config {
        image = "127.0.0.1:1/nomadlab/not-here:1"
      }
    }
  }
}'''
    with nl.dev(clients=1, mode="auto", seed=4) as c:
        c.submit(spec)
        (alloc,) = c.wait("pull", status="failed", timeout=60)
        events = alloc.task_states["t"].events
        kinds = [e.type for e in events]
        assert "Driver" in kinds and "Driver Failure" in kinds
        driver = next(e for e in events if e.type == "Driver")
        assert driver.display_message == 'Downloading image "127.0.0.1:1/nomadlab/not-here:1"'
        failure = next(e for e in events if e.type == "Driver Failure")
        assert "could not be pulled" in failure.display_message


def test_a_restarted_client_finds_its_containers_again(engine) -> None:
    from nomadlab.drivers.docker import DockerDriver
    spec = f'''job "box" {{
  group "g" {{
    task "t" {{
      driver = "docker"
      kill_timeout = "1s"
      config {{
        image = "{IMAGE}"
        command = "/bin/sleep"
        args = ["300"]
      }}
      resources {{
        cpu    = 100
        memory = 32
      }}
    }}
  }}
}}'''
    with nl.dev(clients=1, mode="auto", seed=6) as c:
        c.submit(spec)
        (alloc,) = c.wait("box", status="running", timeout=60)
        (before,) = DockerDriver.find_managed(alloc.id)
        c.restart_client(alloc.node_id)
        time.sleep(1.0)
        (after,) = DockerDriver.find_managed(alloc.id)
        assert after.id == before.id and c.alloc(alloc.id).client_status == "running"
        c.stop("box")
        c.wait(alloc.id, status="complete", timeout=30)
        deadline = time.monotonic() + 20
        while DockerDriver.find_managed(alloc.id) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert DockerDriver.find_managed(alloc.id) == []
