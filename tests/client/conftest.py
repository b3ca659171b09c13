"""A real Docker engine for the client tests that need one (with the lab image built)."""

from __future__ import annotations

import os
import subprocess

import pytest

IMAGE = "nomadlab/busybox:latest"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def engine():
    """The engine DOCKER_HOST names; in CI its absence is a failure, elsewhere a skip."""
    import docker
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as err:  # noqa: BLE001 - any failure means no engine
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine and none answers: {err}")
        pytest.skip(f"no Docker engine: run drivers/start-docker.sh ({err})")
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        subprocess.run(["bash", os.path.join(REPO, "drivers", "build-images.sh")], check=True)
    return client
