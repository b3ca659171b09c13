"""``%load_ext nomadlab`` in a real IPython shell and in real kernels: what it starts and
says, the HTTP API it serves, and that a closed kernel leaves no task behind."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from IPython import get_ipython
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

import nomadlab as nl
from nomadlab.notebook import launch, session

from kernels import execute as _execute
from task_procs import task_processes

SLEEP_JOB = '''job "sleepy" {
  group "g" {
    count = 2
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["%s"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
'''


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    shell = start_ipython() or get_ipython()
    yield shell
    if "nomadlab" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "nomadlab")
    session.shutdown()


def test_load_ext_says_what_it_started_and_serves_http(ip, capsys) -> None:
    ip.run_line_magic("load_ext", "nomadlab")  # its speed: bench/notebook_speed.py
    out = capsys.readouterr().out
    c = session.agent()
    (node,) = c.nodes()
    assert "mode auto" in out and "server" in out
    assert f"client     {node.name}" in out
    assert f"{node.node_resources.cpu.cpu_shares} MHz CPU" in out
    assert f"{node.node_resources.memory.memory_mb} MB memory" in out
    docker = node.drivers.get("docker")
    if docker is not None and docker.detected and docker.healthy:
        assert "docker" in out.split("drivers:")[1].splitlines()[0]
        assert "No Docker engine" not in out
    else:
        assert "docker not detected:" in out
        assert out.count("No Docker engine here") == 1, "said once, plainly"
    address = os.environ["NOMAD_ADDR"]
    assert address == c.http_addr and f"HTTP API   {address}" in out
    with urllib.request.urlopen(f"{address}/v1/nodes", timeout=5) as response:
        assert [n["Name"] for n in json.load(response)] == [node.name]
    ip.run_line_magic("unload_ext", "nomadlab")
    assert session.current() is None and "NOMAD_ADDR" not in os.environ


def test_load_ext_takes_a_free_port_when_4646_is_taken(ip, capsys) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        try:
            blocker.bind(("127.0.0.1", 4646))
            blocker.listen()
        except OSError:
            pass  # something else holds 4646 already: the same situation
        ip.run_line_magic("load_ext", "nomadlab")
        address = session.agent().http_addr
    assert address and not address.endswith(":4646")
    assert os.environ["NOMAD_ADDR"] == address and address in capsys.readouterr().out


def test_load_ext_attaches_to_the_agent_in_use(ip, capsys) -> None:
    c = nl.dev(clients=0, mode="step")
    c.add_node(name="sim-a")
    session.use(c)
    ip.run_line_magic("load_ext", "nomadlab")
    out = capsys.readouterr().out
    assert session.agent() is c
    assert "already runs" in out and "mode step" in out and "simulated  1 node(s)" in out
    assert "%nomad step" in out


def test_use_replaces_and_shuts_down_an_agent_started_here(ip) -> None:
    started = session.agent()
    marker = "7781"
    started.submit(SLEEP_JOB % marker)
    started.wait("sleepy", timeout=10)
    assert len(task_processes(f"sleep {marker}")) == 2
    mine = nl.dev(clients=0)
    session.use(mine)  # returns once the old agent has stopped its tasks
    assert not task_processes(f"sleep {marker}")
    assert session.agent() is mine


def _kernel(tmp_path: Path, spec: dict | None = None) -> KernelManager:
    if spec is None:
        return KernelManager(kernel_name="python3")
    kernels = tmp_path / "jupyter"
    launch.write_kernelspec(kernels)
    return KernelManager(kernel_name="python3",
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels / "kernels")]))


def _lab_kernel(tmp_path: Path) -> KernelManager:
    """A kernel as ``nomadlab lab`` starts one: its kernelspec and its environment, with
    a PATH that does not know the virtual environment (``.venv/bin/nomadlab lab`` run
    without activating it)."""
    km = _kernel(tmp_path, spec=launch.kernelspec())
    bare = {k: v for k, v in os.environ.items() if k not in ("NOMAD_ADDR", "VIRTUAL_ENV")}
    bare["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    km.start_kernel(cwd=str(tmp_path), env=launch.lab_environment(tmp_path / "jupyter", bare))
    return km


def test_a_closed_kernel_leaves_no_tasks(tmp_path) -> None:
    marker = "7782"
    km = _kernel(tmp_path)
    km.start_kernel(cwd=str(tmp_path))
    try:
        out, err = _execute(km, "%load_ext nomadlab")
        assert "nomadlab dev agent ready" in out, err
        out, err = _execute(km, "%%nomad job run\n" + SLEEP_JOB % marker)
        assert 'finished with status "complete"' in out, err
        assert len(task_processes(f"sleep {marker}")) == 2
    finally:
        km.shutdown_kernel(now=False)  # returns when the kernel process has exited
    assert not task_processes(f"sleep {marker}"), "the agent shut down with the kernel"


def test_the_lab_kernel_has_the_magics_without_load_ext(tmp_path) -> None:
    km = _lab_kernel(tmp_path)
    try:
        out, err = _execute(km, "%nomad node status")
        assert "nomadlab dev agent ready" in out, "the first magic says what it started"
        assert "client-1" in out and "ready" in out, err
        out, err = _execute(km, "%load_ext nomadlab")
        assert "already runs" in out, (out, err)
    finally:
        km.shutdown_kernel(now=False)


def test_shell_nomadlab_in_a_lab_cell_talks_to_the_kernels_agent(tmp_path) -> None:
    km = _lab_kernel(tmp_path)
    try:
        _execute(km, "%load_ext nomadlab")
        _execute(km, "%%nomad job run\n" + SLEEP_JOB % "7783")
        out, err = _execute(km, "!nomadlab status")
        assert "sleepy" in out and "running" in out, (out, err)
    finally:
        km.shutdown_kernel(now=False)


def test_many_simulated_nodes_show_a_progress_bar_in_a_kernel(tmp_path) -> None:
    km = _kernel(tmp_path)
    km.start_kernel(cwd=str(tmp_path))
    displayed: list[dict] = []
    try:
        _execute(km, "%load_ext nomadlab")
        out, err = _execute(km, "%nomad agent -dev -clients 0 -nodes 40", displayed=displayed)
        assert "simulated  40 node(s)" in out, err
        widgets = [d for d in displayed if "application/vnd.jupyter.widget-view+json" in d]
        assert len(widgets) == 1, "one progress bar was displayed"
    finally:
        km.shutdown_kernel(now=False)


def test_find_labs_and_the_lab_command(tmp_path, monkeypatch) -> None:
    labs = tmp_path / "labs"
    labs.mkdir()
    (labs / "01.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert launch.find_labs() == labs.resolve()
    assert launch.find_labs(str(labs)) == labs.resolve()
    with pytest.raises(FileNotFoundError, match="no such folder"):
        launch.find_labs(str(tmp_path / "nope"))
    command = launch.lab_command(labs, ["--no-browser", "--port", "9"])
    assert command[1:3] == ["-m", "jupyterlab"] and "--no-browser" in command
    assert f"--ServerApp.root_dir={labs}" in command
    assert launch.main(["--labs", str(tmp_path / "nope")]) == 1


def test_the_repository_labs_are_found_from_anywhere(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert launch.find_labs() == (Path(__file__).resolve().parents[2] / "labs")


def test_load_ext_with_a_remote_cluster_in_use(ip, capsys) -> None:
    c = nl.dev(clients=1, http=0)
    remote = nl.connect(c.http_addr)
    try:
        session.use(remote)
        ip.run_line_magic("load_ext", "nomadlab")
        out = capsys.readouterr().out
        assert f"the cluster at {remote.address}" in out and "1 node(s)" in out
        ip.run_line_magic("nomad", "node status")
        assert "client-1" in capsys.readouterr().out
        ip.run_line_magic("unload_ext", "nomadlab")
        assert c.nodes()[0].status == "ready", "a remote cluster is not shut down with the kernel"
        with urllib.request.urlopen(f"{c.http_addr}/v1/nodes", timeout=5) as response:
            assert response.status == 200
    finally:
        remote.close()
        c.shutdown()


def test_interrupting_a_waiting_cell_keeps_the_kernel(tmp_path) -> None:
    """A job run cell waits for the clients; the stop button ends it with a message."""
    km = _kernel(tmp_path)
    km.start_kernel(cwd=str(tmp_path))
    try:
        _execute(km, "%load_ext nomadlab")
        # a client that stopped answering: its allocations stay pending, the cell waits
        _execute(km, "import nomadlab.notebook as nb\nc = nb.agent()\n"
                     "c.stop_client(c.nodes()[0].id)")
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=30)
        running = client.execute("%%nomad job run\n" + SLEEP_JOB % "7784")
        while True:  # the cell has printed its first line: it is running, not queued
            msg = client.get_iopub_msg(timeout=120)
            if msg["msg_type"] == "stream" and msg["parent_header"].get("msg_id") == running:
                break
        km.interrupt_kernel()
        reply = client.get_shell_msg(timeout=30)
        client.stop_channels()
        assert reply["content"]["status"] == "ok", "a message, not a KeyboardInterrupt traceback"
        out, _ = _execute(km, "print(len(c.allocs('sleepy')))")
        assert out.strip() == "2", "the kernel and its agent are still there"
    finally:
        km.shutdown_kernel(now=False)
