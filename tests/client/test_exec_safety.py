"""Exec tasks are safe by default, as in Nomad: they run as ``nobody`` in their own task
directory, and cannot read the host's secrets nor another allocation's files, while their
own ``local/``, ``secrets/`` and the templates the client rendered for them keep working.

These run real processes through ``nl.dev()``; switching users needs a root client, so
without root they skip (the non-root behaviour is covered by the driver tests).
"""

from __future__ import annotations

import json
import os
import time

import pytest

import nomadlab as nl
from nomadlab.drivers.fs_isolation import mount_namespace_available

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="exec switches users only when the client is root")


def exec_job(job_id: str, script: str, *, user: str = "", extra: str = "") -> str:
    user_line = f'user = "{user}"' if user else ""
    return f'''job "{job_id}" {{
  type = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode = "fail"
    }}
    task "t" {{
      driver = "exec"
      {user_line}
      config {{
        command = "/bin/sh"
        args = ["-c", {json.dumps(script)}]
      }}
      {extra}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


@pytest.fixture
def c():
    agent = nl.dev(clients=1, mode="auto", seed=3)
    yield agent
    agent.shutdown()


def run(c, job_id: str, script: str, **kw) -> tuple[str, str, nl.Allocation]:
    c.submit(exec_job(job_id, script, **kw))
    (alloc,) = c.wait(job_id, status="complete", timeout=30)
    return c.logs(alloc.id, "t"), c.logs(alloc.id, "t", stream="stderr"), alloc


def test_exec_runs_as_nobody_by_default_in_its_task_dir(c) -> None:
    out, _, alloc = run(c, "whoami", "id -u; pwd")
    uid, cwd = out.split()
    assert uid == "65534"
    assert cwd.endswith(f"/alloc/{alloc.id}/t")
    driver = next(e for e in alloc.task_states["t"].events if e.type == "Driver")
    assert driver.display_message.startswith("running as user nobody (uid 65534)")


def test_user_root_runs_as_root(c) -> None:
    out, _, _ = run(c, "as-root", "id -u", user="root")
    assert out.split() == ["0"]


def test_unknown_user_is_a_driver_failure(c) -> None:
    c.submit(exec_job("ghost", "id -u", user="no-such-user-here"))
    (alloc,) = c.wait("ghost", status="failed", timeout=30)
    failure = next(e for e in alloc.task_states["t"].events if e.type == "Driver Failure")
    assert failure.display_message == 'exec: failed to look up user "no-such-user-here" on this host'


def test_a_task_cannot_read_another_jobs_secrets_nor_the_hosts(c) -> None:
    c.submit(exec_job("job-a", "echo a-secret > secrets/token; echo ready > local/ready; "
                               "sleep 300").replace('"batch"', '"service"'))
    (a,) = c.wait("job-a", status="running", timeout=30)
    client = next(iter(c.clients.values()))
    a_dir = os.path.join(client.data_dir, "alloc", a.id, "t")
    ready = os.path.join(a_dir, "local", "ready")
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):   # until job A has written its secret
        assert time.monotonic() < deadline, "job A never wrote its files"
        time.sleep(0.05)
    a_secret = os.path.join(a_dir, "secrets", "token")
    assert open(a_secret).read() == "a-secret\n"

    out, err, _ = run(c, "job-b", f"cat {a_secret}; cat /etc/shadow; ls {client.data_dir}; "
                                   "echo mine > secrets/s && cat secrets/s; "
                                   "echo here > local/l && cat local/l")
    assert "a-secret" not in out
    assert out.split() == ["mine", "here"]
    assert f"cat: {a_secret}: " in err      # hidden, or at least not readable
    assert "cat: /etc/shadow: Permission denied" in err
    if mount_namespace_available():
        assert f"cat: {a_secret}: No such file or directory" in err
    c.stop("job-a")


def test_templates_the_client_rendered_stay_readable(c) -> None:
    template = '''template {
        data        = "token for {{ env \\"NOMAD_JOB_NAME\\" }}"
        destination = "secrets/token"
        perms       = "0600"
      }'''
    out, err, _ = run(c, "tmpl", "cat secrets/token; echo; id -u", extra=template)
    assert out.split("\n")[:2] == ["token for tmpl", "65534"], err
