"""A kernel's agent ends with the kernel: shutdown, restart, SIGTERM and a re-run first cell
leave no task process and no container behind, with Docker and exec tasks running.

Real kernels (jupyter_client's KernelManager with its default 5 s before SIGKILL), a real
Docker engine with the lab image (required when CI=true, skipped with the reason
otherwise).  Each check waits for an event (the kernel process has exited, a cell has
returned), never for a while.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Iterator

import pytest
from jupyter_client.manager import KernelManager

from kernels import execute
from task_procs import IMAGE, require_docker, task_containers, task_processes

#: One exec task and one Docker task, both ``sleep <marker>``.  The container's sleep is
#: PID 1 and ignores SIGINT and SIGTERM, so only the kill after kill_timeout (5 s by
#: default, as long as Jupyter waits in all) stops it: the kernel's exit must cap it.
JOB = '''job "%(job)s" {
  group "procs" {
    task "sleep" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["%(marker)s"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
  group "box" {
    task "sleep" {
      driver = "docker"
      config {
        image   = "''' + IMAGE + '''"
        command = "/bin/sleep"
        args    = ["%(marker)s"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
'''

#: A lab's first cell: an agent made in the notebook, attached for the magics.
FIRST_CELL = """import nomadlab as nl
import nomadlab.notebook
c = nl.dev(clients=1, seed=9)
nomadlab.notebook.use(c)
%load_ext nomadlab"""


@pytest.fixture
def km(tmp_path: Path) -> Iterator[KernelManager]:
    require_docker()
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path))
    yield manager
    if manager.has_kernel:
        manager.shutdown_kernel(now=True)


def _run_job(km: KernelManager, marker: str) -> tuple[list[int], list[str]]:
    """Run the job in a cell; the task processes and containers it started."""
    job = f"lifecycle-{marker}"
    out, err = execute(km, "%%nomad job run\n" + JOB % {"job": job, "marker": marker})
    assert 'finished with status "complete"' in out, (out, err)
    out, err = execute(km, f"print([a.client_status for a in nomadlab.notebook.agent()"
                           f".allocs({job!r})])")
    assert out.strip() == "['running', 'running']", (out, err)
    processes, containers = task_processes(f"sleep {marker}"), task_containers(job)
    assert len(processes) == 2, "the exec task's sleep and the container's"
    assert len(containers) == 1
    return processes, containers


def _nothing_left(marker: str) -> None:
    assert task_processes(f"sleep {marker}") == [], "no task process outlives its kernel"
    assert task_containers(f"lifecycle-{marker}") == [], "no container outlives its kernel"


def test_kernel_shutdown_stops_every_task_and_container(km) -> None:
    execute(km, "import nomadlab.notebook\n%load_ext nomadlab")
    _run_job(km, "7791")
    km.shutdown_kernel(now=False)  # shutdown_request, then SIGTERM and SIGKILL if slow
    _nothing_left("7791")


def test_kernel_restart_stops_every_task_and_container(km) -> None:
    execute(km, "import nomadlab.notebook\n%load_ext nomadlab")
    _run_job(km, "7792")
    km.restart_kernel(now=False)
    _nothing_left("7792")
    out, err = execute(km, "import nomadlab.notebook\n%load_ext nomadlab")
    assert "nomadlab dev agent ready" in out, ("the restarted kernel starts afresh", err)


def test_a_sigtermed_kernel_stops_every_task_and_container(km) -> None:
    execute(km, "import nomadlab.notebook\n%load_ext nomadlab")
    _run_job(km, "7793")
    km.signal_kernel(signal.SIGTERM)
    assert km.provisioner is not None
    km.provisioner.process.wait(timeout=60)
    _nothing_left("7793")


def test_rerunning_the_first_cell_replaces_the_agent_and_its_tasks(km) -> None:
    out, err = execute(km, FIRST_CELL)
    assert "nomadlab dev agent ready" in out, err
    old_processes, old_containers = _run_job(km, "7794")
    out, err = execute(km, FIRST_CELL)
    assert "already" in out, (out, err)
    assert not set(task_processes("sleep 7794")) & set(old_processes), "the old agent's tasks"
    assert task_containers("lifecycle-7794") == [], "and its containers are gone"
    new_processes, new_containers = _run_job(km, "7794")
    assert not set(new_containers) & set(old_containers)
    km.shutdown_kernel(now=False)
    _nothing_left("7794")


def test_a_kernel_with_a_data_dir_leaves_nothing_behind_either(km, tmp_path: Path) -> None:
    """A data dir keeps the state, not the processes: a kernel is not a client that comes
    back to re-attach, so its restart stops every task (see nomadlab.notebook.kernel_exit);
    the agent of the restarted kernel starts the job's tasks afresh from the state."""
    first_cell = FIRST_CELL.replace("seed=9", f"seed=9, data_dir={str(tmp_path / 'data')!r}")
    out, err = execute(km, first_cell)
    assert "nomadlab dev agent ready" in out, err
    _run_job(km, "7795")
    km.restart_kernel(now=False)
    _nothing_left("7795")
    try:
        out, err = execute(km, first_cell)
        assert "nomadlab dev agent ready" in out, err
        out, err = execute(km, "print(sorted(a.client_status for a in c.allocs('lifecycle-7795')))")
        assert "'running', 'running'" in out, ("the state came back", out, err)
        deadline = time.monotonic() + 60   # a bound for a failure: the tasks start afresh
        while len(task_processes("sleep 7795")) < 2:
            assert time.monotonic() < deadline, "the restored job's tasks never started again"
            time.sleep(0.1)
    finally:  # a failure must not leave the restored tasks to the fixture's SIGKILL
        km.shutdown_kernel(now=False)
    _nothing_left("7795")


#: An exec, a raw_exec and a Docker task, each ``sleep <marker>``; the exec task's sleep
#: has a child of its own (``sh`` waits on it), so the whole tree must go.
KILLED_JOB = JOB.replace('''  group "box" {''', '''  group "raw" {
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "/bin/sleep %(marker)s & wait"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
  group "box" {''')


def _container_pids(container_ids: list[str]) -> set[int]:
    import docker
    client = docker.from_env(timeout=30)
    try:
        return {client.containers.get(c).attrs["State"]["Pid"] for c in container_ids}
    finally:
        client.close()


def _until(what: str, check, timeout: float = 60):
    """Until ``check()`` is true (the timeout bounds a failure, it is not the event)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def test_a_sigkilled_kernel_leaves_no_process_and_no_container(km) -> None:
    """The kernel SIGKILLed while its exec, raw_exec and Docker tasks run (as Jupyter does
    to a kernel still stopping after 5 s): nothing in it runs at exit.  Every task process
    dies all the same (each executor watched the kernel's pid and kills its task); the
    container, which the engine runs, is removed by the kernel's container reaper as the
    kernel's process exits.  Nothing here depends on timing."""
    marker = "7796"
    job = f"lifecycle-{marker}"
    out, err = execute(km, FIRST_CELL.replace("seed=9", "seed=9, raw_exec=True"))
    assert "nomadlab dev agent ready" in out, err
    out, err = execute(km, "%%nomad job run\n" + KILLED_JOB % {"job": job, "marker": marker})
    assert 'finished with status "complete"' in out, (out, err)
    out, err = execute(km, f"print(sorted(a.client_status for a in c.allocs({job!r})))")
    assert out.strip() == "['running', 'running', 'running']", (out, err)
    containers = task_containers(job)
    assert len(containers) == 1
    in_container = _container_pids(containers)
    processes = _until("the tasks' processes",
                       lambda: set(task_processes(f"sleep {marker}")) - in_container
                       if len(set(task_processes(f"sleep {marker}")) - in_container) >= 3
                       else None)   # exec's sleep, raw_exec's sh and its sleep

    km.signal_kernel(signal.SIGKILL)
    assert km.provisioner is not None
    km.provisioner.process.wait(timeout=60)
    _until("every task process to die with its kernel",
           lambda: not set(task_processes(f"sleep {marker}")) & processes)
    _until("the kernel's reaper to remove its container", lambda: task_containers(job) == [])
    km.restart_kernel(now=True)
    out, err = execute(km, FIRST_CELL)
    assert "nomadlab dev agent ready" in out, err
    assert task_containers(job) == []
    assert task_processes(f"sleep {marker}") == []
