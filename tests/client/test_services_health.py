"""Nomad services, their checks and allocation health, with real tasks: a task serving
HTTP is registered, checked and found healthy; a broken check makes it unhealthy; the
registrations go with the allocation; a template reads them; the API serves them."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

import nomadlab as nl
from nomadlab.errors import Invalid, NotFound

IMAGE = "nomadlab/busybox:latest"


def web_job(job_id: str = "web", *, check: str = 'type = "http"\n path = "/"',
            command: str = "", deadline: str = "60s", service_name: str = "web",
            count: int = 1, task_service: str = "") -> str:
    command = command or ('command = "/usr/bin/python3"\n args = ["-m", "http.server", '
                          '"${NOMAD_PORT_http}", "--bind", "127.0.0.1"]')
    return f'''job "{job_id}" {{
  group "g" {{
    count = {count}
    migrate {{
      min_healthy_time = "1s"
      healthy_deadline = "{deadline}"
    }}
    network {{
      port "http" {{}}
    }}
    service {{
      name     = "{service_name}"
      provider = "nomad"
      port     = "http"
      tags     = ["web", "v1"]
      check {{
        name     = "alive"
        {check}
        interval = "1s"
        timeout  = "1s"
      }}
    }}
    task "srv" {{
      driver = "exec"
      config {{
        {command}
      }}
      {task_service}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


def until(c: nl.Agent, what, timeout: float = 60.0):
    """Wait for the cluster's state to make ``what()`` true (woken by each write)."""
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what.__name__ if hasattr(what, '__name__') else what} "
                               f"still false after {timeout}s")
        c.wait_for_index(c.index, timeout=0.5)


def healthy_known(c: nl.Agent, alloc_id: str):
    def known():
        alloc = c.alloc(alloc_id)
        status = alloc.deployment_status
        return alloc if status is not None and status.healthy is not None else None
    return known


@pytest.fixture
def c():
    agent = nl.dev(clients=1, seed=5, http=0)
    yield agent
    agent.shutdown()


def port_of(alloc, label: str = "http") -> int:
    return next(p.value for p in alloc.allocated_resources.shared.ports if p.label == label)


def test_an_exec_task_serving_http_is_registered_checked_healthy_and_deregistered(c) -> None:
    c.submit(web_job())
    (alloc,) = c.wait("web", "running")
    alloc = until(c, healthy_known(c, alloc.id))
    assert alloc.deployment_status.healthy is True and alloc.deployment_status.timestamp

    (reg,) = c.service("web")
    assert (reg.address, reg.port) == ("127.0.0.1", port_of(alloc))
    assert reg.alloc_id == alloc.id and reg.job_id == "web" and reg.tags == ["web", "v1"]
    assert reg.id == f"_nomad-task-{alloc.id}-group-g-web-http"
    assert c.alloc_services(alloc.id) == [reg]
    (result,) = c.alloc_checks(alloc.id).values()
    assert (result.status, result.output, result.status_code) == ("success", "nomad: http ok",
                                                                 200)
    assert (result.check, result.service, result.group, result.task, result.mode) == (
        "alive", "web", "web.g[0]", "", "healthiness")

    c.stop("web")
    until(c, lambda: not c.services())
    assert c.alloc_checks(alloc.id) == {}


def test_a_failing_http_check_makes_the_allocation_unhealthy_at_its_deadline(c) -> None:
    c.submit(web_job(check='type = "http"\n path = "/missing"', deadline="4s"))
    (alloc,) = c.wait("web", "running")
    alloc = until(c, healthy_known(c, alloc.id))
    assert alloc.deployment_status.healthy is False
    (result,) = c.alloc_checks(alloc.id).values()
    assert result.status == "failure" and result.status_code == 404
    assert "404" in result.output   # the response body, as Nomad keeps it


def test_tcp_check_passes_on_a_listening_port_and_says_why_it_fails_otherwise(c) -> None:
    c.submit(web_job(check='type = "tcp"'))
    (alloc,) = c.wait("web", "running")
    alloc = until(c, healthy_known(c, alloc.id))
    assert alloc.deployment_status.healthy is True
    (result,) = c.alloc_checks(alloc.id).values()
    assert result.output == "nomad: tcp ok"

    c.submit(web_job("quiet", check='type = "tcp"', deadline="3s", service_name="quiet",
                     command='command = "/bin/sleep"\n args = ["300"]'))
    (quiet,) = c.wait("quiet", "running")
    quiet = until(c, healthy_known(c, quiet.id))
    assert quiet.deployment_status.healthy is False
    (result,) = c.alloc_checks(quiet.id).values()
    assert result.status == "failure"
    assert result.output == f"dial tcp 127.0.0.1:{port_of(quiet)}: connection refused"


def test_task_services_follow_their_task_and_interpolate_name_and_tags(c) -> None:
    task_service = '''service {
        name     = "${NOMAD_TASK_NAME}-api"
        provider = "nomad"
        port     = "http"
        tags     = ["alloc-${NOMAD_ALLOC_INDEX}"]
      }'''
    c.submit(web_job(task_service=task_service))
    (alloc,) = c.wait("web", "running")
    regs = until(c, lambda: c.service("srv-api"))
    assert regs[0].tags == ["alloc-0"]
    assert regs[0].id == f"_nomad-task-{alloc.id}-srv-srv-api-http"
    assert {r.service_name for r in c.alloc_services(alloc.id)} == {"web", "srv-api"}


def test_a_template_reads_a_service(c) -> None:
    c.submit(web_job(count=2))
    allocs = c.wait("web", "running")
    until(c, lambda: len(c.service("web")) == 2)
    c.submit('''job "reader" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      template {
        destination = "local/upstreams.txt"
        data        = <<EOT
{{ range nomadService "web" }}{{ .Address }}:{{ .Port }}
{{ end }}{{ range nomadServices }}{{ .Name }} {{ .Tags }}{{ end }}
{{ range nomadService "nothing" }}x{{ else }}no nothing{{ end }}
EOT
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}''')
    (reader,) = c.wait("reader", "running")
    client = c.clients[reader.node_id]
    path = os.path.join(client.runners[reader.id].dir.task_dir("t"), "local", "upstreams.txt")
    with open(path) as f:
        text = f.read()
    regs = c.service("web")
    assert {r.port for r in regs} == {port_of(a) for a in allocs}
    expected = "".join(f"{r.address}:{r.port}\n" for r in regs)
    assert text == expected + "web [v1 web]\nno nothing\n"


def test_service_blocks_nomadlab_cannot_act_on_are_refused(c) -> None:
    consul = web_job().replace('provider = "nomad"', 'provider = "consul"')
    with pytest.raises(Invalid, match='provider "consul" needs Consul, which nomadlab does '
                                      'not run; use provider = "nomad"'):
        c.submit(consul)
    script = web_job(check='type = "script"\n command = "/bin/true"')
    with pytest.raises(Invalid, match=r'invalid check type \("script"\), must be one of '
                                      "tcp, http"):
        c.submit(script)
    assert c.jobs() == []


def test_the_http_api_serves_services_and_checks_in_nomads_shapes(c) -> None:
    c.submit(web_job())
    (alloc,) = c.wait("web", "running")
    until(c, lambda: c.alloc_checks(alloc.id))

    def get(path: str):
        with urllib.request.urlopen(c.http_addr + path) as resp:
            return json.load(resp)

    assert get("/v1/services") == [{"Namespace": "default", "Services": [
        {"ServiceName": "web", "Tags": ["v1", "web"]}]}]
    (body,) = get("/v1/service/web")
    assert {k: body[k] for k in ("ServiceName", "AllocID", "Port", "Address", "Tags")} == {
        "ServiceName": "web", "AllocID": alloc.id, "Port": port_of(alloc),
        "Address": "127.0.0.1", "Tags": ["web", "v1"]}
    assert get(f"/v1/allocation/{alloc.id}/services") == [body]
    checks = get(f"/v1/client/allocation/{alloc.id}/checks")
    (check,) = checks.values()
    assert set(check) >= {"ID", "Mode", "Status", "Output", "Timestamp", "Group", "Task",
                          "Service", "Check"}

    remote = nl.connect(c.http_addr)
    assert remote.service("web") == c.service("web")
    assert remote.services() == c.services()
    assert list(remote.alloc_checks(alloc.id)) == list(checks)
    remote.delete_service("web", body["ID"])
    assert c.server.state.service_registration(body["ID"]) is None
    with pytest.raises(NotFound):
        c.delete_service("web", body["ID"])


def test_simulated_nodes_register_services_and_become_healthy_without_a_process() -> None:
    with nl.dev(clients=0, seed=2) as c:
        c.add_node("sim")
        c.submit(web_job(count=3))
        allocs = c.wait("web", "running")
        for alloc in allocs:
            alloc = until(c, healthy_known(c, alloc.id))
            assert alloc.deployment_status.healthy is True
            (result,) = c.alloc_checks(alloc.id).values()
            assert result.status == "success" and "simulated" in result.output
        assert len(c.service("web")) == 3


def test_a_docker_task_is_checked_through_its_port_mapping(engine, c) -> None:
    c.submit(web_job("box", command=f'''image = "{IMAGE}"
        command = "httpd"
        args    = ["-f", "-p", "8080", "-h", "/www"]
        ports   = ["http"]''').replace('driver = "exec"', 'driver = "docker"').replace(
        'port "http" {}', 'port "http" {\n to = 8080\n }'))
    (alloc,) = c.wait("box", "running")
    alloc = until(c, healthy_known(c, alloc.id))
    assert alloc.deployment_status.healthy is True
    (result,) = c.alloc_checks(alloc.id).values()
    assert result.output == "nomad: http ok"


def test_check_restart_restarts_the_task_until_its_restart_policy_gives_up(c) -> None:
    check = '''type = "http"
        path = "/missing"
        check_restart {
          limit = 2
          grace = "1s"
        }'''
    spec = web_job(check=check).replace('    migrate {', '''    restart {
      attempts = 1
      interval = "10m"
      delay    = "1s"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    migrate {''')
    c.submit(spec)
    (alloc,) = c.wait("web", "running")
    (alloc,) = c.wait(alloc.id, "failed", timeout=90)
    events = alloc.task_states["srv"].events
    kinds = [e.type for e in events]
    signaled = [e for e in events if e.type == "Restart Signaled"]
    assert len(signaled) == 2
    assert signaled[0].restart_reason == 'healthcheck: check "alive" unhealthy'
    assert kinds.index("Restarting") > kinds.index("Restart Signaled")
    assert kinds[-1] == "Not Restarting" and alloc.task_states["srv"].failed


def test_service_commands_list_show_and_delete(c) -> None:
    import io
    from nomadlab import commands

    def run(*argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = commands.run(c, list(argv), out=out, err=err)
        return code, out.getvalue() + err.getvalue()

    assert run("service", "list") == (0, "No service registrations found\n")
    c.submit(web_job())
    (alloc,) = c.wait("web", "running")
    (reg,) = until(c, lambda: c.service("web"))
    assert run("service", "list") == (0, "Service Name  Tags\nweb           [v1,web]\n")
    code, text = run("service", "info", "web")
    assert code == 0 and text.splitlines()[1].split() == [
        "web", f"127.0.0.1:{reg.port}", "[v1,web]", alloc.node_id[:8], alloc.id[:8]]
    assert run("service", "delete", "web", reg.id) == (
        0, "Successfully deleted service registration\n")
    code, text = run("service", "delete", "web", "nope")
    assert code == 1 and "service registration not found" in text


def test_a_restarted_client_runs_the_checks_of_the_tasks_it_reattached(c) -> None:
    c.submit(web_job())
    (alloc,) = c.wait("web", "running")
    until(c, lambda: c.alloc_checks(alloc.id))
    c.restart_client(alloc.node_id)
    passing = until(c, lambda: [r for r in c.alloc_checks(alloc.id).values()
                                if r.status == "success"])
    assert passing[0].output == "nomad: http ok"
    assert [r.alloc_id for r in c.service("web")] == [alloc.id]


def test_a_check_with_on_update_ignore_is_run_but_does_not_decide_health(c) -> None:
    c.submit(web_job(check='type = "http"\n path = "/missing"\n on_update = "ignore"'))
    (alloc,) = c.wait("web", "running")
    alloc = until(c, healthy_known(c, alloc.id))
    assert alloc.deployment_status.healthy is True
    (result,) = until(c, lambda: list(c.alloc_checks(alloc.id).values()))
    assert (result.mode, result.status) == ("readiness", "failure")


def test_plan_refuses_what_register_refuses(c) -> None:
    with pytest.raises(Invalid, match="address_mode = driver may only be set for Consul"):
        c.plan(web_job(check='type = "tcp"\n address_mode = "driver"'))
