"""``%nomad`` / ``%%nomad`` in a real IPython shell against the kernel's real agent: what a
learner types, what the cell prints, and that a mistake prints a message, not a traceback."""

from __future__ import annotations

import sys
import time
from typing import Iterator

import pytest
from IPython import get_ipython
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

import nomadlab as nl
from nomadlab.notebook import session

from task_procs import task_processes

JOB = '''job "web" {
  group "g" {
    count = 3
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from $NOMAD_ALLOC_NAME; exec sleep 600"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
'''


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    """The shell with the magics and a fresh one-client agent (no HTTP: tests run side by
    side)."""
    shell = start_ipython() or get_ipython()  # the first call makes it, later ones return None
    from nomadlab.notebook.magics import NomadMagics
    shell.register_magics(NomadMagics)
    session.start(session.AgentShape(http=False))
    yield shell
    session.shutdown()


def cell(shell: InteractiveShell, line: str, body: str | None = None) -> None:
    if body is None:
        shell.run_line_magic("nomad", line)
    else:
        shell.run_cell_magic("nomad", line, body)


def test_job_run_returns_with_allocations_running(ip, capsys) -> None:
    cell(ip, "job run", JOB)  # its speed (1 s budget): bench/notebook_speed.py
    out = capsys.readouterr().out
    allocs = session.agent().allocs("web")
    assert [a.client_status for a in allocs] == ["running"] * 3, "running when the cell returns"
    assert 'Monitoring evaluation "' in out and 'finished with status "complete"' in out
    for a in allocs:
        assert f'Allocation "{a.id[:8]}" created' in out


def test_line_magics_mirror_the_cli(ip, capsys) -> None:
    cell(ip, "job run", JOB)
    c = session.agent()
    ev = c.evals("web")[0]
    alloc = c.allocs("web")[0]
    node = c.nodes()[0]
    capsys.readouterr()

    cell(ip, "status")
    assert "web" in capsys.readouterr().out
    cell(ip, "status web")
    out = capsys.readouterr().out
    assert "Allocations" in out and alloc.id[:8] in out
    cell(ip, f"eval status {ev.id[:5]}")  # a unique prefix, as Nomad allows
    out = capsys.readouterr().out
    assert ev.id[:8] in out and "complete" in out
    cell(ip, f"alloc status {alloc.id[:6]}")
    assert alloc.name in capsys.readouterr().out
    cell(ip, "node status")
    assert node.name in capsys.readouterr().out
    deadline = time.monotonic() + 60  # bounds a failure: the line is waited for
    while time.monotonic() < deadline:
        cell(ip, f"alloc logs {alloc.id[:6]} t")
        out = capsys.readouterr().out
        if "hello from" in out:
            break
        time.sleep(0.1)
    assert f"hello from {alloc.name}" in out
    cell(ip, "job stop web")
    out = capsys.readouterr().out
    assert "Monitoring evaluation" in out
    assert all(a.client_status == "complete" for a in c.allocs("web")), "stopped when it returns"


def test_validate_and_plan_cells(ip, capsys) -> None:
    cell(ip, "job validate", JOB)
    assert "Job validation successful" in capsys.readouterr().out
    cell(ip, "job plan", JOB)
    out = capsys.readouterr().out
    assert '+ Job: "web"' in out and not session.agent().jobs(), "a plan commits nothing"


def test_a_bad_spec_shows_the_line_and_a_caret(ip, capsys) -> None:
    cell(ip, "job run", 'job "x" {\n  group "g" {\n    count = "three"\n  }\n}\n')
    err = capsys.readouterr().err
    lines = err.splitlines()
    where = next(i for i, line in enumerate(lines) if 'count = "three"' in line)
    caret = lines[where + 1]
    assert caret.strip() == "^" and caret.index("^") == lines[where].index("count")
    assert "Traceback" not in err
    assert not session.agent().jobs()


def test_unknown_and_ambiguous_ids_are_messages(ip, capsys) -> None:
    cell(ip, "alloc status zzzz")
    err = capsys.readouterr().err
    assert 'No allocation(s) with prefix or id "zzzz" found' in err and "Traceback" not in err


def test_cell_form_only_for_commands_that_read_a_spec(ip, capsys) -> None:
    cell(ip, "status", JOB)
    assert "use %nomad (one %)" in capsys.readouterr().err


def test_usage_errors_do_not_exit_the_kernel(ip, capsys) -> None:
    cell(ip, "bogus")
    assert "invalid choice" in capsys.readouterr().err
    cell(ip, "agent -dev -mode fast")
    assert "invalid choice: 'fast'" in capsys.readouterr().err
    cell(ip, 'status "unclosed')
    assert "cannot read the command line" in capsys.readouterr().err


def test_help_lists_the_notebook_commands(ip, capsys) -> None:
    cell(ip, "")
    captured = capsys.readouterr()
    assert "%nomad agent -dev" in captured.out and "%nomad step" in captured.out


def test_step_mode_cell_by_cell(ip, capsys) -> None:
    cell(ip, "agent -dev -clients 0 -nodes 2 -mode step -seed 4")
    out = capsys.readouterr().out
    assert "mode step" in out and "simulated  2 node(s)" in out
    c = session.agent()
    c.submit(JOB.replace("count = 3", "count = 2"))
    cell(ip, "step")
    first = capsys.readouterr().out
    assert "eval-dequeued" in first and not c.allocs("web")
    cell(ip, "step 2")
    out = capsys.readouterr().out
    assert "plan-submitted" in out and "plan-applied" in out
    assert len(c.allocs("web")) == 2
    cell(ip, "step -all")
    out = capsys.readouterr().out
    assert "eval-completed" in out and "idle" in out
    cell(ip, "step")
    assert capsys.readouterr().out.startswith("idle")


def test_step_in_auto_mode_says_how_to_get_step_mode(ip, capsys) -> None:
    cell(ip, "step")
    assert "%nomad agent -dev -mode step" in capsys.readouterr().err


def test_agent_restart_shuts_the_old_one_down(ip, capsys) -> None:
    old = session.agent()
    cell(ip, "job run", JOB.replace("sleep 600", "sleep 7771"))
    assert len(task_processes("sleep 7771")) == 3
    cell(ip, "agent -dev -clients 2")
    new = session.agent()
    assert new is not old and len(new.nodes()) == 2
    assert "client-2" in capsys.readouterr().out
    assert not task_processes("sleep 7771"), "the old agent's tasks are gone"


def test_an_internal_error_names_itself_and_keeps_the_traceback(ip, capsys) -> None:
    session.use(object())  # not an agent: the command fails inside nomadlab
    try:
        cell(ip, "job run", JOB)
    finally:
        session.use(nl.dev(clients=0))
    err = capsys.readouterr().err
    assert "nomadlab internal error" in err and "%tb" in err
    assert "Traceback" not in err
    assert isinstance(sys.last_value, Exception), "%tb can show where it failed"


def test_step_mode_detached_run_waits_for_steps(ip, capsys) -> None:
    cell(ip, "agent -dev -clients 0 -nodes 1 -mode step")
    assert "%%nomad job run -detach" in capsys.readouterr().out
    cell(ip, "job run -detach", JOB)
    out = capsys.readouterr().out
    assert "Evaluation ID" in out and not session.agent().allocs("web")
    cell(ip, "step -all")
    assert "plan-applied" in capsys.readouterr().out
    assert len(session.agent().allocs("web")) == 3
