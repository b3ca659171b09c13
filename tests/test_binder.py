"""A Binder-like check: the environment built only from ``binder/`` runs every lab.

mybinder.org builds the image with repo2docker from ``binder/`` alone (the repository's
root configuration is then ignored), runs it as a non-root user with no Docker engine,
1 CPU and 2 GB of memory.  This test does the same on this machine: a fresh virtualenv
on the Python that ``runtime.txt`` names, ``pip install -r binder/requirements.txt``,
``binder/postBuild`` run from a copy of the repository's tracked files, all as a non-root
user (``nomadlab-binder``, created when the tests run as root), then every lab executed
top to bottom on one CPU with Docker unreachable and no curl, and the kernel's peak
memory checked.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
USER = "nomadlab-binder"
UNREACHABLE = "unix:///nonexistent/nomadlab-no-docker.sock"
#: mybinder.org gives 2 GB; the kernel (agent, clients, matplotlib) must stay well under.
MEMORY_BUDGET_MB = 1500

RUNNER = r'''
import json, resource, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

results = []
for path in sorted(Path("labs").glob("*.ipynb")):
    notebook = nbformat.read(path, as_version=4)
    start = time.monotonic()
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    text = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    results.append({"lab": path.name, "seconds": round(time.monotonic() - start, 1),
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
                    "no_docker_said": text.count("No Docker engine here"),
                    "docker_said": text.count("Docker engine: detected"),
                    "curl_missing_said": text.count("curl is not installed here")})
print(json.dumps(results))
'''


def _runtime_python() -> str:
    """The interpreter runtime.txt asks for (``python-3.11`` -> a python3.11 on this host)."""
    match = re.fullmatch(r"python-(\d+\.\d+)", (BINDER / "runtime.txt").read_text().strip())
    assert match, "binder/runtime.txt must read python-X.Y"
    name = f"python{match.group(1)}"
    for candidate in (f"/usr/bin/{name}", f"/usr/local/bin/{name}", shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail(f"binder/runtime.txt asks for {name}, which this machine does not have")
    pytest.skip(f"binder/runtime.txt asks for {name}, which this machine does not have")


def _user() -> tuple[list[str], Path]:
    """The command prefix that runs as the non-root user, and that user's home."""
    if os.geteuid() != 0:  # already not root, as on mybinder.org
        return [], Path(pwd.getpwuid(os.geteuid()).pw_dir)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"  # the user's PATH lacks sbin
    return [runuser, "-u", USER, "--"], Path(pwd.getpwnam(USER).pw_dir)


@pytest.fixture(scope="module")
def binder_env() -> Iterator[dict]:
    as_user, home = _user()
    python = _runtime_python()
    work = home / "nomadlab-binder-check"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                             capture_output=True).stdout.decode().split("\0")
    repo = work / "repo"
    for name in filter(None, tracked):  # the committed tree, as repo2docker clones it
        source = REPO / name
        if source.is_file():
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if as_user:
        subprocess.run(["chown", "-R", f"{USER}:", str(work)], check=True)
    venv = work / "venv"
    tools = work / "bin"  # the host's programs but curl, which Binder's image may lack
    tools.mkdir()
    for folder in ("/bin", "/usr/bin", "/usr/local/bin"):
        for program in Path(folder).iterdir():
            if program.name != "curl" and not (tools / program.name).exists():
                (tools / program.name).symlink_to(program)
    env = {"HOME": str(home), "PATH": f"{venv}/bin:{tools}",
           "LANG": "C.UTF-8", "DOCKER_HOST": UNREACHABLE, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_PROGRESS_BAR": "off"}

    def run(*cmd: str, timeout: float = 900) -> subprocess.CompletedProcess:
        done = subprocess.run([*as_user, *cmd], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    start = time.monotonic()
    run(python, "-m", "venv", str(venv))
    run(f"{venv}/bin/python", "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("binder/postBuild")
    built = time.monotonic() - start
    print(f"\nbinder environment built in {built:.0f} s (as {'root' if not as_user else USER})")
    yield {"run": run, "repo": repo, "venv": venv, "built_seconds": built}
    shutil.rmtree(work, ignore_errors=True)


def test_binder_configuration_is_what_repo2docker_reads() -> None:
    assert not (REPO / ".binder").exists(), "repo2docker refuses both binder/ and .binder/"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    minor = int(runtime.removeprefix("python-3."))
    assert 10 <= minor <= 13, f"{runtime} is outside nomadlab's requires-python (3.10 to 3.13)"
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only when executable"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash") and "set -e" in text and "pip install" in text
    readme = (REPO / "README.md").read_text()
    assert re.search(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?labpath=labs%2F01-components\.ipynb",
                     readme), "the README's Binder badge must open labs/01-components.ipynb"


def test_binder_environment_has_what_the_labs_use(binder_env: dict) -> None:
    run = binder_env["run"]
    done = run(f"{binder_env['venv']}/bin/python", "-c",
               "import nomadlab, nomadlab.notebook, nomad, ipywidgets, nbclient; "
               "from nomadlab.drivers.docker import DockerDriver; "
               "print(nomadlab.__file__); print(DockerDriver().fingerprint().detected)")
    origin, detected = done.stdout.split()
    assert origin.startswith(str(binder_env["repo"])), "postBuild installs nomadlab from the repository"
    assert detected == "False", "no Docker engine answers in the Binder environment"
    assert run(f"{binder_env['venv']}/bin/jupyter", "lab", "--version").stdout.strip().startswith("4.")
    run(f"{binder_env['venv']}/bin/nomadlab", "-version")


def test_binder_runs_every_lab_without_docker_on_one_cpu(binder_env: dict) -> None:
    import json
    runner = binder_env["repo"] / "run_labs.py"
    runner.write_text(RUNNER)
    if os.geteuid() == 0:
        shutil.chown(runner, USER)
    taskset = shutil.which("taskset")
    one_cpu = [taskset, "-c", "0"] if taskset else []
    start = time.monotonic()
    done = binder_env["run"](*one_cpu, f"{binder_env['venv']}/bin/python", "run_labs.py", timeout=900)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nlabs on one CPU in {time.monotonic() - start:.0f} s: {results}", file=sys.stderr)
    labs = {r["lab"]: r for r in results}
    assert {"01-components.ipynb", "06-interacting.ipynb"} <= set(labs)
    for r in results:
        assert r["docker_said"] == 0, f"{r['lab']} thinks a Docker engine answers"
        assert r["no_docker_said"] <= 1, f"{r['lab']} says more than once that Docker is missing"
        assert r["peak_rss_mb"] < MEMORY_BUDGET_MB, f"{r['lab']} kernel peaked at {r['peak_rss_mb']} MB"
        assert r["seconds"] < 60, f"{r['lab']} took {r['seconds']} s on one CPU"
    for name in ("01-components.ipynb", "05-drivers-and-task-environment.ipynb"):
        assert labs[name]["no_docker_said"] == 1, f"{name} must say once that Docker is missing"
    assert labs["06-interacting.ipynb"]["curl_missing_said"] == 1, "lab 06 falls back to urllib"
