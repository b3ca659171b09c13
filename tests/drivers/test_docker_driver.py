"""The docker driver against a real Docker engine and the locally built nomadlab/busybox.

Nothing here pulls from a registry: the image is built by drivers/images/busybox/build.sh
(the fixture runs it when the image is missing), and the one pull the driver attempts is
from a registry address that refuses connections at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import docker
import pytest

from nomadlab.drivers.base import DriverError, Resources, TaskConfig, TaskHandle
from nomadlab.drivers.docker import (
    AGENT_LABEL,
    ALLOC_ID_LABEL,
    JOB_ID_LABEL,
    MANAGED_LABEL,
    TASK_NAME_LABEL,
    DockerDriver,
)

REPO = Path(__file__).resolve().parents[2]
IMAGE = "nomadlab/busybox:latest"


def _no_engine(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs a Docker engine and none answers: {reason}")
    pytest.skip(f"no Docker engine: run drivers/start-docker.sh ({reason})")


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        _no_engine(str(exc))
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        build = subprocess.run(["bash", str(REPO / "drivers/images/busybox/build.sh")],
                               check=False, capture_output=True, text=True, timeout=300)
        if build.returncode != 0:
            pytest.fail(f"building {IMAGE} failed:\n{build.stdout}\n{build.stderr}")
    return client


@pytest.fixture
def driver(engine: docker.DockerClient):
    driver = DockerDriver()
    yield driver
    driver.close()


@pytest.fixture
def make_task(tmp_path: Path, engine: docker.DockerClient):
    """Builds TaskConfigs with fresh alloc ids; removes their containers afterwards."""
    alloc_ids: list[str] = []

    def make(config: dict, name: str = "web", env: dict | None = None, memory_mb: int = 64,
             ports: dict | None = None) -> TaskConfig:
        alloc_id = str(uuid.uuid4())
        alloc_ids.append(alloc_id)
        alloc_root = tmp_path / alloc_id
        (alloc_root / "alloc" / "logs").mkdir(parents=True)
        task_dir = alloc_root / name
        (task_dir / "local").mkdir(parents=True)
        (task_dir / "secrets").mkdir()
        return TaskConfig(
            id=f"{alloc_id}/{name}", alloc_id=alloc_id, task_name=name, job_id="example",
            config={"image": IMAGE, **config}, env=dict(env or {}), task_dir=str(task_dir),
            alloc_dir=str(alloc_root / "alloc"),
            stdout_path=str(alloc_root / "alloc" / "logs" / f"{name}.stdout.0"),
            stderr_path=str(alloc_root / "alloc" / "logs" / f"{name}.stderr.0"),
            resources=Resources(cpu=100, memory_mb=memory_mb), ports=dict(ports or {}))

    yield make
    for alloc_id in alloc_ids:
        for container in DockerDriver.find_managed(alloc_id, client=engine):
            container.remove(force=True)


def _sh(script: str) -> dict:
    return {"command": "sh", "args": ["-c", script]}


def _wait_for_output(handle: TaskHandle, text: str, timeout: float = 60.0) -> None:
    """Until the task has written ``text`` to stdout (the timeout only bounds a failure)."""
    stdout = Path(handle.config.stdout_path)  # created by the log copy, once it starts
    deadline = time.monotonic() + timeout
    while not (stdout.exists() and text in stdout.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"task never printed {text!r}"
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fingerprint_with_engine(driver: DockerDriver, engine: docker.DockerClient) -> None:
    fp = driver.fingerprint()
    assert fp.detected and fp.healthy, fp.health_description
    assert fp.attributes["driver.docker"] == "1"
    assert fp.attributes["driver.docker.version"] == engine.version()["Version"]
    assert fp.attributes["driver.docker.os_type"] == "linux"
    assert "runc" in fp.attributes["driver.docker.runtimes"].split(",")


def test_fingerprint_without_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    started = time.monotonic()
    fp = DockerDriver(timeout=2).fingerprint()
    assert time.monotonic() - started < 5
    assert not fp.detected and not fp.healthy
    assert fp.health_description.startswith("Docker engine not reachable: ")
    assert fp.attributes == {}


def test_env_and_task_dirs_reach_the_container(driver: DockerDriver, make_task) -> None:
    task = make_task(_sh('echo "$GREETING"; ls /local; echo "$NOMAD_TASK_DIR $NOMAD_ALLOC_DIR";'
                         ' echo oops >&2'), env={"GREETING": "hello from nomadlab"})
    Path(task.task_dir, "local", "template.conf").write_text("x")
    handle = driver.start(task)
    result = driver.wait(handle, timeout=20)
    assert result is not None and result.successful, result
    stdout = Path(task.stdout_path).read_text().splitlines()
    assert stdout == ["hello from nomadlab", "template.conf", "/local /alloc"]
    assert Path(task.stderr_path).read_text() == "oops\n"
    driver.destroy(handle)


def test_exit_code_is_propagated(driver: DockerDriver, make_task) -> None:
    handle = driver.start(make_task(_sh("exit 3")))
    result = driver.wait(handle, timeout=20)
    assert result is not None
    assert (result.exit_code, result.oom_killed, result.err, result.successful) == (3, False, None, False)
    driver.destroy(handle)


def test_wait_times_out_while_running(driver: DockerDriver, make_task) -> None:
    handle = driver.start(make_task(_sh("sleep 30")))
    assert driver.wait(handle, timeout=0.5) is None
    driver.stop(handle, "SIGKILL", timeout=1)
    assert driver.wait(handle, timeout=10).exit_code == 137
    driver.destroy(handle)


def test_httpd_on_a_mapped_host_port(driver: DockerDriver, make_task) -> None:
    port = _free_port()
    task = make_task({"command": "httpd", "args": ["-f", "-p", "8080", "-h", "/www"],
                      "ports": ["http"]}, ports={"http": ("127.0.0.1", port, 8080)})
    handle = driver.start(task)
    body, deadline = None, time.monotonic() + 10
    while body is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                body = response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert "Hello from nomadlab/busybox" in body
    stats = driver.stats(handle)
    assert stats.memory_rss_bytes > 0 and stats.cpu_percent >= 0 and stats.timestamp > 0
    driver.stop(handle, "SIGKILL", timeout=1)
    driver.destroy(handle)


def test_memory_limit_kills_a_hog(driver: DockerDriver, make_task) -> None:
    task = make_task(_sh('x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived'),
                     memory_mb=16)
    handle = driver.start(task)
    result = driver.wait(handle, timeout=30)
    assert result is not None and result.oom_killed, result
    assert not result.successful
    assert "survived" not in Path(task.stdout_path).read_text()
    driver.destroy(handle)


def test_stop_kills_a_task_that_ignores_the_signal(driver: DockerDriver, make_task) -> None:
    handle = driver.start(make_task(_sh('trap "" INT TERM; echo ready; sleep 30 & wait')))
    _wait_for_output(handle, "ready")  # the trap is set
    started = time.monotonic()
    driver.stop(handle, "SIGINT", timeout=1)
    elapsed = time.monotonic() - started
    result = driver.wait(handle, timeout=10)
    assert elapsed >= 0.9, "the kill waited for the timeout"
    assert result is not None and result.exit_code == 137
    driver.stop(handle, "SIGINT", timeout=1)  # already stopped: tolerated
    driver.destroy(handle)


def test_stop_with_sigterm_lets_the_task_exit(driver: DockerDriver, make_task) -> None:
    handle = driver.start(make_task(_sh('trap "echo bye; exit 0" TERM; echo ready; '
                                        'while :; do sleep 0.1; done')))
    _wait_for_output(handle, "ready")  # the trap is set
    driver.stop(handle, "SIGTERM", timeout=30)
    result = driver.wait(handle, timeout=10)
    assert result is not None and result.exit_code == 0, "it exited on SIGTERM, not SIGKILL"
    assert Path(handle.config.stdout_path).read_text() == "ready\nbye\n"
    driver.destroy(handle)


def test_labels_name_and_limits(driver: DockerDriver, make_task,
                                engine: docker.DockerClient) -> None:
    task = make_task({**_sh("sleep 30"), "labels": {"team": "lab"}}, name="api", memory_mb=32)
    handle = driver.start(task)
    container = engine.containers.get(handle.state["container_id"])
    assert container.name == f"api-{task.alloc_id}-{driver.agent_id}"
    assert {ALLOC_ID_LABEL: task.alloc_id, TASK_NAME_LABEL: "api", JOB_ID_LABEL: "example",
            MANAGED_LABEL: "true", AGENT_LABEL: driver.agent_id,
            "team": "lab"}.items() <= container.labels.items()
    host = container.attrs["HostConfig"]
    assert host["Memory"] == host["MemorySwap"] == 32 * 1024 * 1024
    assert host["CpuShares"] == 100
    assert {m["Destination"] for m in container.attrs["Mounts"]} >= {"/alloc", "/local", "/secrets"}
    driver.stop(handle, "SIGKILL", timeout=1)
    driver.destroy(handle)


def test_recover_from_a_fresh_driver(driver: DockerDriver, make_task) -> None:
    task = make_task(_sh('trap "echo after; exit 0" TERM; echo before; sleep 1; echo during; '
                         'while :; do sleep 0.1; done'))
    handle = driver.start(task)
    time.sleep(0.3)
    driver.close()  # the old client goes away; its container keeps running
    time.sleep(1.2)  # "during" is written while nobody copies the logs

    restarted = DockerDriver(agent_id=driver.agent_id)  # the same agent, restarted
    by_id = TaskHandle(driver="docker", config=task,
                       state={"container_id": handle.state["container_id"]})
    assert restarted.recover(by_id)
    by_labels = TaskHandle(driver="docker", config=task, state={})
    assert restarted.recover(by_labels)
    assert by_labels.state["container_id"] == handle.state["container_id"]

    restarted.stop(by_id, "SIGTERM", timeout=5)
    result = restarted.wait(by_id, timeout=10)
    assert result is not None and result.exit_code == 0
    assert Path(task.stdout_path).read_text() == "before\nduring\nafter\n"
    restarted.destroy(by_id)
    restarted.close()
    assert not restarted.recover(by_id)
    restarted.close()


def test_destroy_leaves_no_managed_container(driver: DockerDriver, make_task,
                                             engine: docker.DockerClient) -> None:
    task = make_task(_sh("sleep 30"))
    handle = driver.start(task)
    assert [c.id for c in DockerDriver.find_managed(task.alloc_id, client=engine)] == [
        handle.state["container_id"]]
    driver.destroy(handle)  # a running container is removed by force
    assert DockerDriver.find_managed(task.alloc_id, client=engine) == []
    driver.destroy(handle)  # twice is harmless


def test_restarting_a_task_replaces_its_old_container(driver: DockerDriver, make_task) -> None:
    task = make_task(_sh("exit 0"))
    first = driver.start(task)
    driver.wait(first, timeout=10)
    second = driver.start(task)
    assert second.state["container_id"] != first.state["container_id"]
    assert driver.wait(second, timeout=10).exit_code == 0
    driver.destroy(second)


def test_missing_image_fails_fast(make_task, engine: docker.DockerClient) -> None:
    lines: list[str] = []
    driver = DockerDriver(progress=lines.append)
    image = "127.0.0.1:1/nomadlab/missing:never"  # a registry address that refuses at once
    task = make_task({"image": image})
    started = time.monotonic()
    with pytest.raises(DriverError, match=f'image "{image}" is not present locally and '
                                          f'could not be pulled: '):
        driver.start(task)
    assert time.monotonic() - started < 10
    assert lines and lines[0] == f'Downloading image "{image}"'
    assert DockerDriver.find_managed(task.alloc_id, client=engine) == []


@pytest.mark.parametrize("config, message", [
    ({"image": ""}, 'missing required key "image"'),
    ({"ports": ["http"]}, 'Port "http" not found'),
    ({"imgae": "x"}, "unsupported key"),
    ({"command": "no-such-binary"}, "failed to start container"),
])
def test_bad_config_is_a_driver_error(driver: DockerDriver, make_task, config: dict,
                                      message: str, engine: docker.DockerClient) -> None:
    task = make_task(config)
    with pytest.raises(DriverError, match=message):
        driver.start(task)
    assert DockerDriver.find_managed(task.alloc_id, client=engine) == []


#: Starts a container for each task given (JSON), the first with a driver whose containers
#: may not outlive it, the second with one whose may; prints their ids, then waits.
START_CONTAINERS = """
import json, sys
from nomadlab.drivers.base import Resources, TaskConfig
from nomadlab.drivers.docker import DockerDriver
ids = []
for fields, outlive in zip(json.loads(sys.argv[1]), (False, True)):
    driver = DockerDriver()
    driver.tasks_outlive_agent = outlive
    task = TaskConfig(**{**fields, "resources": Resources(**fields["resources"])})
    ids.append(driver.start(task).state["container_id"])
from nomadlab.drivers import container_reaper
reapers = [p.pid for p in container_reaper._started.values()]
print(json.dumps({"ids": ids, "reapers": reapers}), flush=True)
sys.stdin.read()
"""


def _start_containers_and_die(make_task, *, kill_reaper: bool) -> tuple[str, str]:
    """A process (an agent in a kernel) starts a tied and a kept container, then is
    SIGKILLed (its reaper too, with ``kill_reaper``); the two container IDs."""
    import dataclasses
    import json
    import signal
    import sys
    tasks = [make_task(_sh("sleep 3600"), name=name) for name in ("tied", "kept")]
    fields = [{f.name: getattr(t, f.name) for f in dataclasses.fields(t) if f.name != "events"}
              for t in tasks]
    for entry, task in zip(fields, tasks):
        entry["resources"] = dataclasses.asdict(task.resources)
    starter = subprocess.Popen([sys.executable, "-c", START_CONTAINERS, json.dumps(fields)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        started = json.loads(starter.stdout.readline())
        assert len(started["reapers"]) == 1, "one reaper for the process's tied containers"
        if kill_reaper:
            os.kill(started["reapers"][0], signal.SIGKILL)
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait(30)
    tied, kept = started["ids"]
    return tied, kept


def test_the_reaper_removes_the_containers_of_a_sigkilled_owner(
        driver: DockerDriver, make_task, engine: docker.DockerClient) -> None:
    """A kernel SIGKILLed while its container runs: its reaper removes the container as
    the kernel's process exits, with no other agent on the host; a container of an agent
    that lets them outlive it (data dir, re-attach) and one of a live owner stay."""
    live = driver.start(make_task(_sh("sleep 3600"), name="live"))
    tied, kept = _start_containers_and_die(make_task, kill_reaper=False)
    deadline = time.monotonic() + 60   # bounds a failure; the removal is the event
    while True:
        try:
            engine.containers.get(tied)
        except docker.errors.NotFound:
            break
        assert time.monotonic() < deadline, "the reaper did not remove the tied container"
        time.sleep(0.1)
    assert engine.containers.get(kept).status == "running"
    assert engine.containers.get(live.state["container_id"]).status == "running"
    driver.destroy(live)


def test_the_next_driver_removes_the_containers_of_a_sigkilled_owner(
        driver: DockerDriver, make_task, engine: docker.DockerClient) -> None:
    """The backstop when the reaper was killed too: the first fingerprint of the next
    driver on this host removes the containers whose owner process is gone; a container
    of an agent that lets them outlive it and one of a live owner stay."""
    tied, kept = _start_containers_and_die(make_task, kill_reaper=True)
    live = driver.start(make_task(_sh("sleep 3600"), name="live"))
    assert engine.containers.get(tied).status == "running", "nothing in the engine removes it"

    assert DockerDriver().fingerprint().healthy   # the next agent's client starts
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(tied)
    assert engine.containers.get(kept).status == "running"
    assert engine.containers.get(live.state["container_id"]).status == "running"
    driver.destroy(live)


def test_remove_all_removes_running_and_killed_containers_at_once(
        driver: DockerDriver, make_task, engine: docker.DockerClient) -> None:
    """The end of an agent's stop: a container killed but not yet removed goes too."""
    running = driver.start(make_task(_sh("sleep 3600")))
    killed = driver.start(make_task(_sh("sleep 3600")))
    driver.stop(killed, "SIGKILL", timeout=1)
    assert engine.containers.get(killed.state["container_id"]).status == "exited"
    other = DockerDriver()   # another agent on the host keeps its own
    theirs = other.start(make_task(_sh("sleep 3600")))
    try:
        removed = DockerDriver.remove_all(driver.agent_id, client=engine)
        assert len(removed) == 2
        assert DockerDriver.find_managed(agent_id=driver.agent_id, client=engine) == []
        assert engine.containers.get(theirs.state["container_id"]).status == "running"
    finally:
        other.destroy(theirs)
        other.close()
