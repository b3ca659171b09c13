"""Finding the processes and containers a kernel's agent started (shared by the notebook
tests): the one place that knows how a task is recognised from outside the kernel."""

from __future__ import annotations

import os

import pytest

from nomadlab.drivers.docker import JOB_ID_LABEL, MANAGED_LABEL

IMAGE = "nomadlab/busybox:latest"


def task_processes(marker: str) -> list[int]:
    """PIDs whose command line contains ``marker`` (read from /proc, nothing killed)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read().replace(b"\0", b" "):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def task_containers(job_id: str) -> list[str]:
    """IDs of the containers (running or not) nomadlab started for job ``job_id``.

    Found by the labels the Docker driver sets today (``nomadlab.managed``, Nomad's
    ``com.hashicorp.nomad.job_id``); an agent's own label can replace them here alone."""
    import docker
    client = docker.from_env(timeout=30)
    try:
        found = client.containers.list(all=True, sparse=True, filters={
            "label": [f"{MANAGED_LABEL}=true", f"{JOB_ID_LABEL}={job_id}"]})
        return sorted(c.id for c in found)
    finally:
        client.close()


def require_docker() -> None:
    """A Docker engine with the lab image: fail in CI (``CI=true``), skip elsewhere."""
    import docker
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.images.get(IMAGE)
        client.close()
    except Exception as err:  # noqa: BLE001 - any failure means no engine or no image
        reason = (f"no Docker engine with {IMAGE}: run `bash drivers/start-docker.sh && "
                  f"bash drivers/build-images.sh` ({err})")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs it: {reason}")
        pytest.skip(reason)
