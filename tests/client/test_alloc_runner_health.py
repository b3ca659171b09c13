"""An allocation runner of a deployment reports its health and, when unhealthy, tells its
tasks why (``Alloc Unhealthy``), as Nomad's client does; run here with the simulated
driver and a real server, the runner's report going to a list."""

from __future__ import annotations

import tempfile
import threading

import pytest

from nomadlab.client.allocrunner import AllocRunner
from nomadlab.client.services import ClientServices
from nomadlab.drivers.simulated import SimulatedDriver
from nomadlab.jobspec import parse_job
from nomadlab.server.server import Server
from nomadlab.structs import Allocation, AllocDeploymentStatus, Node

JOB = '''job "j" {
  update {
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "%s"
    health_check     = "task_states"
  }
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command   = "/bin/sleep"
        run_for   = "%s"
        exit_code = %d
      }
    }
  }
}'''


class Reports:
    def __init__(self) -> None:
        self.allocs: list[Allocation] = []
        self.healthy = threading.Event()

    def __call__(self, alloc: Allocation) -> None:
        self.allocs.append(alloc)
        if alloc.deployment_status is not None and alloc.deployment_status.healthy is not None:
            self.healthy.set()


@pytest.fixture
def shared():
    services = ClientServices.start(Server(), "test", simulated=True)
    yield services
    services.close()


def run(shared: ClientServices, deadline: str, run_for: str, exit_code: int) -> Allocation:
    job = parse_job(JOB % (deadline, run_for, exit_code))
    alloc = Allocation(id="a1", name="j.g[0]", job=job, job_id="j", task_group="g",
                       node_id="n1", deployment_id="d1",
                       deployment_status=AllocDeploymentStatus(canary=True))
    reports = Reports()
    with tempfile.TemporaryDirectory() as data_dir:
        runner = AllocRunner(alloc, Node(id="n1", name="n1"), {"exec": SimulatedDriver("exec")},
                             data_dir, reports, lambda: 1_700_000_000_000_000_000,
                             services=shared)
        runner.start()
        try:
            assert reports.healthy.wait(30), "no health reported"
        finally:
            runner.kill()
            runner.join(10)
    # every report after the verdict carries it, with the events emitted so far
    return reports.allocs[-1]


def test_a_healthy_deployment_allocation_reports_healthy(shared) -> None:
    alloc = run(shared, "30s", "87600h", 0)
    assert alloc.deployment_status.healthy is True
    assert alloc.deployment_status.timestamp
    assert not any(e.type == "Alloc Unhealthy" for e in alloc.task_states["t"].events)


def test_a_failed_task_makes_the_deployment_allocation_unhealthy_and_says_why(shared) -> None:
    alloc = run(shared, "30s", "0s", 1)
    assert alloc.deployment_status.healthy is False
    unhealthy = [e for e in alloc.task_states["t"].events if e.type == "Alloc Unhealthy"]
    assert [e.display_message for e in unhealthy] == ["Unhealthy because of failed task"]


def test_a_canary_is_registered_with_canary_tags_until_promoted() -> None:
    import dataclasses
    from nomadlab.client.services import AllocServices
    from nomadlab.structs import AllocatedResources, AllocatedSharedResources, PortMapping

    job = parse_job('''job "j" {
  group "g" {
    network {
      port "http" {}
    }
    service {
      name        = "web"
      provider    = "nomad"
      port        = "http"
      tags        = ["live"]
      canary_tags = ["canary"]
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
    }
  }
}''')
    server = Server()
    alloc = Allocation(id="a1", name="j.g[0]", job=job, job_id="j", task_group="g",
                       node_id="n1", deployment_id="d1",
                       deployment_status=AllocDeploymentStatus(canary=True),
                       allocated_resources=AllocatedResources(shared=AllocatedSharedResources(
                           ports=[PortMapping(label="http", value=23456, host_ip="127.0.0.1")])))
    services = AllocServices(alloc, Node(id="n1", name="n1", datacenter="dc1"), server, None,
                             lambda task: {})
    services.sync(set(), group_running=True)
    (reg,) = server.state.service_registrations()
    assert (reg.tags, reg.port, reg.datacenter) == (["canary"], 23456, "dc1")
    services.update(dataclasses.replace(alloc, deployment_status=AllocDeploymentStatus()))
    services.sync(set(), group_running=True)
    assert server.state.service_registrations()[0].tags == ["live"]
    index = server.state.index
    services.sync(set(), group_running=True)   # nothing changed: nothing written
    assert server.state.index == index
    services.stop()
    assert server.state.service_registrations() == []
