"""Every lab notebook runs top to bottom in a real kernel; its own asserts check what it teaches.

Each lab runs twice: with the Docker engine present (in CI one always is, and the labs
must take their Docker path there) and with Docker made unreachable, as on Binder, where
the labs must say so and teach with exec and simulated nodes instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LABS = sorted((Path(__file__).parent.parent / "labs").glob("*.ipynb"))
IDS = [p.name for p in LABS]
#: Where DOCKER_HOST points to make the engine unreachable (as on mybinder.org).
UNREACHABLE = "unix:///nonexistent/nomadlab-no-docker.sock"
IMAGE = "nomadlab/busybox:latest"


def test_there_are_labs() -> None:
    names = {p.name for p in LABS}
    for expected in ("01-components.ipynb", "02-your-first-job.ipynb", "03-scheduling.ipynb",
                     "04-when-it-does-not-fit.ipynb", "05-drivers-and-task-environment.ipynb",
                     "06-interacting.ipynb", "07-deploying.ipynb"):
        assert expected in names, f"labs/{expected} is missing (the README and browser test link it)"


@pytest.mark.parametrize("path", LABS, ids=IDS)
def test_lab_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"{path.name} cell {i} is committed with outputs"
        assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


def _engine() -> str:
    """'' when a Docker engine answers and has the lab image, else why not."""
    import docker
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.images.get(IMAGE)
    except Exception as err:  # noqa: BLE001 - any failure means no usable engine
        return f"{type(err).__name__}: {err}"
    return ""


def _run(path: Path, solution: str = "") -> str:
    """Execute the notebook in a fresh kernel; all its text output, in order.

    ``solution`` replaces the exercise cell (the one the learner edits) first.
    """
    notebook = nbformat.read(path, as_version=4)
    if solution:
        marker = SOLUTIONS[path.name[:2]][0]
        cells = [cell for cell in notebook.cells if cell.source.startswith(marker)]
        assert len(cells) == 1, f"{path.name}: one exercise cell should start with {marker!r}"
        cells[0].source = solution
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    chunks = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                chunks.append(output["text"])
            elif "data" in output:
                chunks.append(output["data"].get("text/plain", ""))
    return "\n".join(chunks)


#: Per lab: how its exercise cell starts, and a learner's right answer to put there.
SOLUTIONS = {
    "01": ("# Your node here", '''
c.add_node("edge-1", datacenter="dc2", node_class="edge", meta={"zone": "north"}, drivers=("exec",))
'''),
    "02": ("my_spec = ", '''
my_spec = """
job "greet" {
  type = "service"
  group "greeters" {
    count = 2
    task "hello" {
      driver = "exec"
      config {
        command = "sleep"
        args    = ["300"]
      }
      resources {
        memory = 64
      }
    }
  }
}
"""
c.submit(my_spec)
'''),
    "03": ("my_spec = ", '''
my_spec = """
job "pinned" {
  constraint {
    attribute = "${node.class}"
    value     = "large"
  }
  group "g" {
    count = 3
    affinity {
      attribute = "${meta.rack}"
      value     = "r2"
      weight    = 80
    }
    task "t" {
      driver = "exec"
      config {
        command = "sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""
ev = c.submit(my_spec)
c.run_until_idle()
'''),
    "04": ("# Your node(s) here", '''
c.add_node("gpu-1", node_class="gpu", cpu=4000, memory=8192, drivers=("exec",))
'''),
    "05": ("my_spec = ", '''
my_spec = task_spec("whoami", "exec", """
        command = "/bin/sh"
        args    = ["-c", "echo I am $NOMAD_ALLOC_NAME on ${node.unique.name}"]""")
run_batch(my_spec)
'''),
    "06": ('seen_alloc_id = ""', '''
start = c.index + 1
api_job = nl.parse_job(\'job "api-hello" {\\n group "g" {\\n task "t" {\\n driver = "exec"\\n\'
                       \'config {\\n command = "sleep"\\n args = ["300"]\\n }\\n }\\n }\\n}\').to_api()
n.jobs.register_job({"Job": api_job})
events = read_events("Allocation:api-hello", start,
                     lambda e: e["Payload"]["Allocation"]["ClientStatus"] == "running")
seen_alloc_id = events[-1]["Payload"]["Allocation"]["ID"]
'''),
    "07": ("shop_v2 = ", '''
shop_v2 = shop.replace('default = "hello"', 'default = "bonjour"').replace(
    'max_parallel     = 1', 'max_parallel     = 1\\n      canary           = 1\\n      auto_promote     = true')
c.submit(shop_v2)
'''),
}


def _check_exercise(path: Path, text: str) -> None:
    """The lab ends with its grader, which finds the untouched exercise unfinished."""
    number = path.name[:2]
    if number == "00":
        return
    assert re.search(rf"Lab {number}, still to do:\n  - ", text), \
        f"{path.name}: the check-yourself grader did not report on the unfinished exercise"


@pytest.mark.parametrize("path", LABS, ids=IDS)
def test_lab_runs_with_docker(path: Path) -> None:
    reason = _engine()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine with {IMAGE} and has none: {reason}")
        pytest.skip(f"no Docker engine with {IMAGE} here ({reason})")
    text = _run(path)
    _check_exercise(path, text)
    assert "No Docker engine here" not in text and "docker driver not detected" not in text, \
        f"{path.name} missed the Docker engine"
    if path.name.startswith("05-"):
        assert "The task ran in a Docker container." in text, "lab 05 did not take its Docker path"


@pytest.mark.parametrize("path", LABS, ids=IDS)
def test_lab_runs_without_docker_and_its_exercise_can_be_done(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As on Binder: the labs say once that no engine answers and teach without it.  This
    run also puts a right answer in the exercise cell, and the lab's own grader says it is
    done (the run with Docker leaves the exercise untouched: the grader finds it
    unfinished), so each lab runs twice, not three times."""
    monkeypatch.setenv("DOCKER_HOST", UNREACHABLE)
    from nomadlab.drivers.docker import DockerDriver
    fingerprint = DockerDriver().fingerprint()
    assert not fingerprint.detected and "not reachable" in fingerprint.health_description, \
        "with DOCKER_HOST pointing nowhere the docker driver must report itself not detected"
    number = path.name[:2]
    text = _run(path, solution=SOLUTIONS[number][1] if number in SOLUTIONS else "")
    if number in SOLUTIONS:
        assert f"Lab {number}: all done!" in text, text[-2000:]
    else:
        _check_exercise(path, text)
    assert "Docker engine: detected" not in text
    said = text.count("No Docker engine here")
    assert said <= 1, f"{path.name} says {said} times that no Docker engine answers"
    if path.name.startswith(("01-", "05-")):  # the labs about drivers say it, once
        assert said == 1, f"{path.name} must say once that no Docker engine answers"
    if path.name.startswith("01-"):
        assert "docker driver not detected: Docker engine not reachable" in text, \
            "lab 01 shows the driver's own reason"
    if path.name.startswith("05-"):
        assert "missing drivers" in text and "The task ran in a Docker container." not in text


def test_every_lab_with_an_exercise_has_a_solution_here() -> None:
    """A lab whose grader is never given a right answer would go untested."""
    for path in LABS:
        number = path.name[:2]
        if number != "00":
            assert number in SOLUTIONS, f"{path.name}: add its solution to SOLUTIONS"
