"""Docker ``volumes`` with host paths are refused unless the client enables them, as Nomad's
docker plugin does by default (``volumes { enabled = false }``); a relative path, inside the
task's directory, is always allowed."""

from __future__ import annotations

import pytest

import nomadlab as nl

IMAGE = "nomadlab/busybox:latest"

REFUSED = 'volumes are not enabled; cannot mount host paths: "/etc:/host-etc"'


def docker_job(job_id: str, volume: str, script: str) -> str:
    return f'''job "{job_id}" {{
  type = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode = "fail"
    }}
    task "t" {{
      driver = "docker"
      config {{
        image   = "{IMAGE}"
        command = "sh"
        args    = ["-c", "{script}"]
        volumes = ["{volume}"]
      }}
      resources {{
        cpu    = 100
        memory = 32
      }}
    }}
  }}
}}'''


@pytest.fixture
def agent(request, engine):
    c = nl.dev(clients=1, seed=4, docker_volumes=request.param)
    yield c
    c.shutdown()


@pytest.mark.parametrize("agent", [False], indirect=True)
def test_host_volume_is_refused_by_default(agent) -> None:
    node = agent.nodes()[0]
    assert node.attributes["driver.docker.volumes.enabled"] == "false"
    agent.submit(docker_job("host-etc", "/etc:/host-etc", "cat /host-etc/hostname"))
    (alloc,) = agent.wait("host-etc", status="failed", timeout=60)
    failure = next(e for e in alloc.task_states["t"].events if e.type == "Driver Failure")
    assert failure.display_message == REFUSED
    assert failure.fails_task


@pytest.mark.parametrize("agent", [False], indirect=True)
def test_relative_volume_is_always_allowed(agent) -> None:
    agent.submit(docker_job("rel", "local/shared:/shared",
                            "echo kept > /shared/f && cat /local/shared/f"))
    (alloc,) = agent.wait("rel", status="complete", timeout=60)
    assert agent.logs(alloc.id, "t").strip() == "kept"


@pytest.mark.parametrize("agent", [True], indirect=True)
def test_host_volume_works_when_the_client_enables_it(agent) -> None:
    node = agent.nodes()[0]
    assert node.attributes["driver.docker.volumes.enabled"] == "true"
    agent.submit(docker_job("host-etc", "/etc:/host-etc:ro", "cat /host-etc/hostname"))
    (alloc,) = agent.wait("host-etc", status="complete", timeout=60)
    assert agent.logs(alloc.id, "t").strip() == open("/etc/hostname").read().strip()
