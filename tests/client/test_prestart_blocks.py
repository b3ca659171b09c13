"""``dispatch_payload``, template ``env = true`` and ``shutdown_delay``, each run for real."""

from __future__ import annotations

import time

import pytest

import nomadlab as nl
from nomadlab.client.template import parse_env


def wait_for(check, timeout: float = 20.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def task(body: str, command: str, *, job: str, type_: str = "batch", job_block: str = "",
         group: str = "") -> str:
    return f'''job "{job}" {{
  type = "{type_}"
  {job_block}
  group "g" {{
    {group}
    task "t" {{
      driver = "exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{command}"]
      }}
      {body}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


# -- dispatch_payload ---------------------------------------------------------------------


def test_the_dispatched_payload_is_written_to_local_before_the_task_starts() -> None:
    spec = task('dispatch_payload {\n file = "input/order.json"\n }',
                "cat local/input/order.json", job="orders",
                job_block='parameterized {\n payload = "required"\n }')
    with nl.dev(seed=2) as c:
        c.submit(spec)
        child, _ = c.dispatch("orders", payload=b'{"id": 42}')
        (alloc,) = c.wait(child.id, status="complete", timeout=30)
        assert c.logs(alloc.id, "t") == '{"id": 42}'


def test_a_payload_file_may_not_leave_the_alloc_dir() -> None:
    spec = task('dispatch_payload {\n file = "../../../etc/x"\n }', "true", job="p",
                job_block="parameterized {}")
    with pytest.raises(nl.JobSpecError, match="dispatch payload file escapes the allocation "
                                              "directory"):
        nl.parse_job(spec)


# -- template env = true ------------------------------------------------------------------


def test_env_files_follow_go_envparse() -> None:
    assert parse_env('A=1\n\nexport B = two words  \nC="x\\ty\\"z" # comment\n'
                     "D='lit $x # not a comment'\nE=\nF=a # trailing\n") == {
        "A": "1", "B": "two words", "C": 'x\ty"z', "D": "lit $x # not a comment", "E": "",
        "F": "a"}
    for bad, why in (("novalue", 'missing "="'), ("=x", "empty key"), ("1A=x", "must start"),
                     ('A="open', 'unmatched "'), ("A='open", "unmatched '"),
                     ('A="\\q"', "invalid escape sequence")):
        with pytest.raises(ValueError, match=why):
            parse_env(f"OK=1\n{bad}\n")
    with pytest.raises(ValueError, match="error on line 2"):
        parse_env("OK=1\nbroken\n")


def test_an_env_template_sets_the_task_environment() -> None:
    template = '''template {
        data        = "GREETING=hello from {{ env \\"NOMAD_JOB_NAME\\" }}\\nexport LEVEL='debug'\\n"
        destination = "secrets/app.env"
        env         = true
      }
      template {
        data        = "NOT_ENV=1\\n"
        destination = "local/plain.txt"
      }'''
    spec = task(template, "echo $GREETING/$LEVEL/$${NOT_ENV:-unset}", job="envtpl")
    with nl.dev(seed=2) as c:
        c.submit(spec)
        (alloc,) = c.wait("envtpl", status="complete", timeout=30)
        assert c.logs(alloc.id, "t") == "hello from envtpl/debug/unset\n"


def test_a_malformed_env_template_fails_the_task() -> None:
    template = '''template {
        data        = "this is not an env file"
        destination = "local/app.env"
        env         = true
      }'''
    with nl.dev(seed=2) as c:
        c.submit(task(template, "true", job="badenv"))
        (alloc,) = c.wait("badenv", status="failed", timeout=30)
        killing = [e for e in alloc.task_states["t"].events if e.type == "Killing"]
        assert killing and killing[0].display_message.startswith(
            "Template failed: error parsing env template 'local/app.env': error on line 1")


# -- shutdown_delay -------------------------------------------------------------------------


def test_task_shutdown_delay_comes_between_the_stop_and_the_kill_signal() -> None:
    spec = task('shutdown_delay = "300ms"', "trap 'echo got-term; exit 0' INT TERM; "
                "while true; do sleep 0.1; done", job="slow", type_="service")
    with nl.dev(seed=2) as c:
        c.submit(spec)
        (alloc,) = c.wait("slow", status="running", timeout=30)
        c.stop("slow")
        wait_for(lambda: c.alloc(alloc.id).task_states["t"].state == "dead", what="task dead")
        events = c.alloc(alloc.id).task_states["t"].events
        kinds = [e.type for e in events]
        waiting = kinds.index("Waiting for shutdown delay")
        assert kinds[waiting:] == ["Waiting for shutdown delay", "Killing", "Killed"]
        assert events[waiting].display_message == \
            "Waiting for shutdown_delay of 300ms before killing the task."


def test_group_shutdown_delay_waits_without_an_event_before_each_task_is_killed() -> None:
    spec = task("", "while true; do sleep 0.1; done", job="grp", type_="service",
                group='shutdown_delay = "300ms"')
    with nl.dev(seed=2) as c:
        c.submit(spec)
        (alloc,) = c.wait("grp", status="running", timeout=30)
        stopped_at = c.server.clock()
        c.stop("grp")
        wait_for(lambda: c.alloc(alloc.id).task_states["t"].state == "dead", what="task dead")
        events = c.alloc(alloc.id).task_states["t"].events
        assert "Waiting for shutdown delay" not in [e.type for e in events]
        killing = next(e for e in events if e.type == "Killing")
        # a lower bound only: a busy machine makes the gap longer, never shorter
        assert killing.time - stopped_at >= 300_000_000


def test_render_templates_renders_again_on_restart_and_env_follows_the_file() -> None:
    """A task that overwrites its env file sees its own value after a restart, unless
    ``render_templates`` renders the template again first."""
    for render, second in ((False, "mine"), (True, "templated")):
        body = f'''template {{
        data        = "VALUE=templated\\n"
        destination = "local/app.env"
        env         = true
      }}
      restart {{
        attempts         = 1
        delay            = "10ms"
        mode             = "fail"
        render_templates = {str(render).lower()}
      }}'''
        command = "echo $VALUE; echo VALUE=mine > local/app.env; exit 1"
        with nl.dev(seed=2) as c:
            c.submit(task(body, command, job="rerender",
                          group="reschedule {\n attempts = 0\n unlimited = false\n }"))
            (alloc,) = c.wait("rerender", status="failed", timeout=30)
            assert c.logs(alloc.id, "t") == f"templated\n{second}\n", f"render={render}"
