"""A real agent killed with SIGKILL and started again on its data dir: its client comes back
as the same node, re-attaches to the exec tasks and Docker containers it left running (same
pid, same container), and stops what the state no longer wants running; simulated nodes
come back with their tasks; a task's output written while no agent ran is served."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from nomadlab.drivers.process import pid_alive
from nomadlab.jobspec import parse_job
from nomadlab.server.server import Server
from nomadlab.server.state import StateStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from agent_process import AgentProcess, api, free_port  # noqa: E402

IMAGE = "nomadlab/busybox:latest"


def exec_job(name: str) -> dict[str, Any]:
    return parse_job(f'''job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "exec"
      kill_timeout = "2s"
      config {{
        command = "/bin/sleep"
        args    = ["3600"]
      }}
      resources {{
        cpu    = 20
        memory = 32
      }}
    }}
  }}
}}''').to_api()


def docker_job(name: str) -> dict[str, Any]:
    return parse_job(f'''job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "docker"
      kill_timeout = "1s"
      config {{
        image   = "{IMAGE}"
        command = "/bin/sleep"
        args    = ["3600"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}''').to_api()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Until ``check()`` gives something true (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def running_alloc(port: int, job_id: str) -> dict[str, Any] | None:
    status, allocs = api(port, "GET", f"/v1/job/{job_id}/allocations")
    live = [a for a in allocs if a["DesiredStatus"] == "run"] if status == 200 else []
    return live[0] if len(live) == 1 and live[0]["ClientStatus"] == "running" else None


def alloc_status(port: int, alloc_id: str) -> dict[str, Any]:
    return api(port, "GET", f"/v1/allocation/{alloc_id}")[1]


def handle(data_dir: Path, alloc_id: str) -> dict[str, Any]:
    path = data_dir / "client" / "client-1" / "alloc" / alloc_id / ".state" / "t.json"
    return json.loads(path.read_text())


@pytest.fixture
def cleanup() -> Iterator[list[AgentProcess]]:
    agents: list[AgentProcess] = []
    yield agents
    for agent in agents:
        agent.stop()


def test_exec_tasks_are_reattached_or_stopped_after_kill_9(tmp_path: Path,
                                                           cleanup: list[AgentProcess]) -> None:
    data = tmp_path / "data"
    port = free_port()
    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    for name in ("kept", "stopped", "forgotten"):
        assert api(port, "PUT", "/v1/jobs", {"Job": exec_job(name)})[0] == 200
    allocs = {name: wait_for(f"{name} running", lambda n=name: running_alloc(port, n))
              for name in ("kept", "stopped", "forgotten")}
    procs = {name: (handle(data, a["ID"])["state"]["pid"],
                    handle(data, a["ID"])["state"]["start_time"]) for name, a in allocs.items()}
    node_id = allocs["kept"]["NodeID"]

    agent.kill()
    assert all(pid_alive(*proc) for proc in procs.values()), "tasks died with the agent"

    # While the agent is down the state changes under it: one job is stopped (its
    # evaluation waits in the log), another's allocation is garbage collected.
    server = Server()
    server.restore(str(data / "server"))
    server.deregister_job("default", "stopped")
    server.state.delete_evals([], [allocs["forgotten"]["ID"]])
    server.state.close_log()

    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    nodes = api(port, "GET", "/v1/nodes")[1]
    assert [n["ID"] for n in nodes] == [node_id]

    kept = wait_for("kept re-attached", lambda: running_alloc(port, "kept"))
    assert kept["ID"] == allocs["kept"]["ID"]
    assert handle(data, kept["ID"])["state"]["pid"] == procs["kept"][0]
    assert pid_alive(*procs["kept"])
    wait_for("the forgotten allocation's task stopped",
             lambda: not pid_alive(*procs["forgotten"]))
    stopped = wait_for("the stopped job's allocation complete", lambda: (
        lambda a: a if a["ClientStatus"] == "complete" else None)(
            alloc_status(port, allocs["stopped"]["ID"])))
    assert not pid_alive(*procs["stopped"])
    assert "Killed" in [e["Type"] for e in stopped["TaskStates"]["t"]["Events"]]
    events = alloc_status(port, kept["ID"])["TaskStates"]["t"]["Events"]
    assert [e["Type"] for e in events].count("Started") == 1    # re-attached, not restarted

    # the re-attached task is watched: stopping its job stops the very process
    assert api(port, "DELETE", "/v1/job/kept")[0] == 200
    wait_for("kept stopped", lambda: not pid_alive(*procs["kept"]), timeout=30)


def counting_job(name: str) -> dict[str, Any]:
    """A task that prints numbered lines until stopped (``seq`` paced by ``sleep``)."""
    return parse_job(f'''job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "exec"
      kill_timeout = "2s"
      config {{
        command = "/bin/sh"
        args    = ["-c", "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.02; done"]
      }}
      resources {{
        cpu    = 20
        memory = 32
      }}
    }}
  }}
}}''').to_api()


def numbered(text: str) -> list[int]:
    """The numbers of the complete lines (a line being written may be cut short)."""
    return [int(line.split()[1]) for line in text.split("\n")[:-1] if line.startswith("line ")]


def logs_api(port: int, alloc_id: str) -> str:
    from urllib.request import urlopen
    url = f"http://127.0.0.1:{port}/v1/client/fs/logs/{alloc_id}?task=t&type=stdout&plain=true"
    with urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_task_output_outlives_a_kill_9_of_the_agent(tmp_path: Path,
                                                   cleanup: list[AgentProcess]) -> None:
    """The task's executor, not the agent, holds its output: with the agent killed the
    task keeps writing into its log files, and the restarted agent serves every line."""
    data = tmp_path / "data"
    port = free_port()
    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    assert api(port, "PUT", "/v1/jobs", {"Job": counting_job("count")})[0] == 200
    alloc = wait_for("count running", lambda: running_alloc(port, "count"))
    wait_for("the first lines served", lambda: len(numbered(logs_api(port, alloc["ID"]))) > 5)
    executor = handle(data, alloc["ID"])["state"]

    agent.kill()
    stdout = data / "client" / "client-1" / "alloc" / alloc["ID"] / "alloc" / "logs" / "t.stdout.0"
    at_kill = len(numbered(stdout.read_text()))
    wait_for("the task writing on with no agent",
             lambda: len(numbered(stdout.read_text())) > at_kill + 20)
    assert pid_alive(executor["pid"], executor["start_time"])

    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    assert wait_for("count re-attached", lambda: running_alloc(port, "count"))["ID"] == alloc["ID"]
    served = numbered(logs_api(port, alloc["ID"]))
    assert served == list(range(len(served))), "a line was lost or repeated"
    assert len(served) > at_kill + 20
    assert handle(data, alloc["ID"])["state"]["pid"] == executor["pid"]

    # still writing, still served; stopping the job ends the task and its executor
    wait_for("new lines served", lambda: len(numbered(logs_api(port, alloc["ID"]))) > len(served))
    assert api(port, "DELETE", "/v1/job/count")[0] == 200
    wait_for("the executor gone", lambda: not pid_alive(executor["pid"], executor["start_time"]))
    events = alloc_status(port, alloc["ID"])["TaskStates"]["t"]["Events"]
    assert [e["Type"] for e in events].count("Started") == 1


def test_sigint_with_a_data_dir_leaves_tasks_for_the_next_agent(
        tmp_path: Path, cleanup: list[AgentProcess]) -> None:
    """As a Nomad client with a data dir: shutting down leaves the tasks running, and
    the next agent on that data dir re-attaches to the very same processes."""
    data = tmp_path / "data"
    port = free_port()
    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    assert api(port, "PUT", "/v1/jobs", {"Job": exec_job("stays")})[0] == 200
    alloc = wait_for("stays running", lambda: running_alloc(port, "stays"))
    proc = handle(data, alloc["ID"])["state"]

    agent.stop()
    assert agent.proc.returncode == 0
    said = "".join(agent.lines)
    assert ("==> Leaving 1 running allocation(s) and their tasks and containers running: "
            f"the next agent started with -data-dir {data} re-attaches to them") in said
    assert pid_alive(proc["pid"], proc["start_time"]), "the task was stopped"

    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    assert wait_for("stays re-attached", lambda: running_alloc(port, "stays"))["ID"] == alloc["ID"]
    assert handle(data, alloc["ID"])["state"]["pid"] == proc["pid"]
    events = alloc_status(port, alloc["ID"])["TaskStates"]["t"]["Events"]
    assert [e["Type"] for e in events].count("Started") == 1
    assert api(port, "DELETE", "/v1/job/stays")[0] == 200
    wait_for("stays stopped", lambda: not pid_alive(proc["pid"], proc["start_time"]))


def test_sigterm_without_a_data_dir_stops_every_task(tmp_path: Path,
                                                    cleanup: list[AgentProcess]) -> None:
    """Nothing to re-attach from: as Nomad's dev mode, shutting down stops the tasks."""
    port = free_port()
    agent = AgentProcess(None, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    job = exec_job("goes")
    job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = ["4711"]
    assert api(port, "PUT", "/v1/jobs", {"Job": job})[0] == 200
    wait_for("goes running", lambda: running_alloc(port, "goes"))
    tasks = wait_for("the task's process", lambda: sleeping("4711"))

    agent.proc.send_signal(signal.SIGTERM)   # SIGTERM as SIGINT
    assert agent.proc.wait(60) == 0
    agent.stop()
    assert "==> Caught signal: terminated" in "".join(agent.lines)
    assert ("==> Stopping 1 running allocation(s) and their tasks and containers: without "
            "-data-dir there is nothing to re-attach from") in "".join(agent.lines)
    assert not any(pid_alive(pid) for pid in tasks), "a task outlived its agent"


def sleeping(marker: str) -> list[int]:
    """PIDs of ``/bin/sleep <marker>`` processes (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:2] == [b"/bin/sleep", marker.encode()]:
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


@pytest.fixture(scope="module")
def docker_engine() -> Any:
    import docker
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.images.get(IMAGE)
    except Exception as err:  # noqa: BLE001 - any failure means no engine or no image
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine with {IMAGE} and found none: {err}")
        pytest.skip(f"no Docker engine with {IMAGE}: run drivers/start-docker.sh ({err})")
    return client


def test_docker_containers_are_reattached_or_stopped_after_kill_9(
        tmp_path: Path, cleanup: list[AgentProcess], docker_engine: Any) -> None:
    data = tmp_path / "data"
    port = free_port()
    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    for name in ("box", "gone"):
        assert api(port, "PUT", "/v1/jobs", {"Job": docker_job(name)})[0] == 200
    allocs = {name: wait_for(f"{name} running", lambda n=name: running_alloc(port, n))
              for name in ("box", "gone")}
    containers = {name: handle(data, a["ID"])["state"]["container_id"]
                  for name, a in allocs.items()}

    agent.kill()
    for container_id in containers.values():
        assert docker_engine.containers.get(container_id).status == "running"
    server = Server()
    server.restore(str(data / "server"))
    server.deregister_job("default", "gone", purge=True)
    server.state.close_log()
    # The purged job's container was killed but not removed, and its handle never saved
    # (the agent died between the two): only its agent label finds it again.
    docker_engine.containers.get(containers["gone"]).kill()
    wait_for("the killed container exited",
             lambda: docker_engine.containers.get(containers["gone"]).status == "exited")
    (data / "client" / "client-1" / "alloc" / allocs["gone"]["ID"] / ".state" / "t.json").unlink()

    assert not removed_container(docker_engine, containers["gone"]), "the engine keeps it"
    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    box = wait_for("box re-attached", lambda: running_alloc(port, "box"))
    assert box["ID"] == allocs["box"]["ID"]
    assert handle(data, box["ID"])["state"]["container_id"] == containers["box"]
    assert docker_engine.containers.get(containers["box"]).status == "running"

    try:
        wait_for("the purged job's container removed",
                 lambda: removed_container(docker_engine, containers["gone"]))
    except AssertionError as err:   # the agent's log says why (a listing that failed?)
        raise AssertionError(f"{err}\n{''.join(agent.lines)}") from None
    assert api(port, "DELETE", "/v1/job/box")[0] == 200
    wait_for("box's container stopped",
             lambda: stopped_container(docker_engine, containers["box"]), timeout=30)


def stopped_container(engine: Any, container_id: str) -> bool:
    import docker.errors
    try:
        return engine.containers.get(container_id).status != "running"
    except docker.errors.NotFound:
        return True


def removed_container(engine: Any, container_id: str) -> bool:
    import docker.errors
    try:
        engine.containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


BUILD_SIMULATED = """
import sys, nomadlab as nl
c = nl.dev(clients=0, data_dir=sys.argv[1], seed=4)
c.add_node("sim-a", cpu=4000, memory=4096, meta={"rack": "r1"})
c.add_node("sim-b", cpu=4000, memory=4096, drivers=("docker",))
c.submit('''job "sim" {
  datacenters = ["dc1"]
  group "g" {
    count = 3
    task "t" {
      driver = "docker"
      config { image = "any" }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}''')
c.wait("sim", "running", timeout=60)
print("ready", flush=True)
sys.stdin.read()
"""


def test_simulated_nodes_and_their_tasks_come_back_after_kill_9(
        tmp_path: Path, cleanup: list[AgentProcess]) -> None:
    data = tmp_path / "data"
    builder = subprocess.Popen([sys.executable, "-c", BUILD_SIMULATED, str(data)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert builder.stdout is not None
    assert builder.stdout.readline().startswith("ready")
    builder.send_signal(signal.SIGKILL)
    builder.wait(30)
    before = StateStore()
    before.open_log(str(data / "server"))
    nodes = {n.id: n for n in before.nodes()}
    allocs = {a.id: a for a in before.allocs()}
    before.close_log()

    port = free_port()
    agent = AgentProcess(data, port, clients=0)
    cleanup.append(agent)
    agent.wait_started()
    listed = api(port, "GET", "/v1/nodes")[1]
    assert {n["ID"]: n["Name"] for n in listed} == {i: n.name for i, n in nodes.items()}
    assert all(n["Status"] == "ready" for n in listed)
    sim_a = next(i for i, n in nodes.items() if n.name == "sim-a")
    node = api(port, "GET", f"/v1/node/{sim_a}")[1]
    assert node["Meta"]["rack"] == "r1" and node["Attributes"]["nomadlab.simulated"] == "true"

    def reattached() -> bool:
        found = api(port, "GET", "/v1/job/sim/allocations")[1]
        return {a["ID"] for a in found} == set(allocs) and all(
            a["ClientStatus"] == "running" for a in found)

    wait_for("the simulated allocations running", reattached)
    # the restored client re-attached: the task is neither failed to restore nor restarted
    for alloc_id in allocs:
        events = [e["Type"] for e in alloc_status(port, alloc_id)["TaskStates"]["t"]["Events"]]
        assert "Failed Restoring Task" not in events and events.count("Started") == 1
    assert api(port, "DELETE", "/v1/job/sim")[0] == 200
    wait_for("the simulated allocations complete", lambda: all(
        alloc_status(port, i)["ClientStatus"] == "complete" for i in allocs))


def test_sigint_with_a_data_dir_leaves_containers_for_the_next_agent(
        tmp_path: Path, cleanup: list[AgentProcess], docker_engine: Any) -> None:
    data = tmp_path / "data"
    port = free_port()
    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    assert api(port, "PUT", "/v1/jobs", {"Job": docker_job("boxed")})[0] == 200
    alloc = wait_for("boxed running", lambda: running_alloc(port, "boxed"))
    container_id = handle(data, alloc["ID"])["state"]["container_id"]

    agent.stop()
    assert "==> Leaving 1 running allocation(s)" in "".join(agent.lines)
    assert docker_engine.containers.get(container_id).status == "running"

    agent = AgentProcess(data, port, clients=1)
    cleanup.append(agent)
    agent.wait_started()
    assert wait_for("boxed re-attached", lambda: running_alloc(port, "boxed"))["ID"] == alloc["ID"]
    assert handle(data, alloc["ID"])["state"]["container_id"] == container_id
    assert api(port, "DELETE", "/v1/job/boxed")[0] == 200
    wait_for("boxed's container stopped", lambda: stopped_container(docker_engine, container_id))
