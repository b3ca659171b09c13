"""``%%nomad job run|validate -var k=v`` in a real IPython shell: the flags reach the
parser, and the source and variables are kept as the job's submission."""

from __future__ import annotations

from typing import Iterator

import pytest
from IPython import get_ipython
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from nomadlab.notebook import session

JOB = '''variable "greeting" {
  type = string
}

job "hello" {
  type = "batch"
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/echo"
        args    = [upper(var.greeting)]
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
    shell = start_ipython() or get_ipython()
    from nomadlab.notebook.magics import NomadMagics
    shell.register_magics(NomadMagics)
    session.start(session.AgentShape(http=False))
    yield shell
    session.shutdown()


def test_cell_magic_takes_var_flags(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    ip.run_cell_magic("nomad", "job validate", JOB)
    err = capsys.readouterr().err
    assert 'variable "greeting" has no value' in err and "Traceback" not in err
    ip.run_cell_magic("nomad", "job validate -var greeting=hi", JOB)
    assert "Job validation successful" in capsys.readouterr().out
    ip.run_cell_magic("nomad", "job run -detach -var greeting=hi", JOB)
    assert "Job registration successful" in capsys.readouterr().out
    agent = session.agent()
    assert agent.job("hello").task_groups[0].tasks[0].config["args"] == ["HI"]
    submission = agent.job_submission("hello")
    assert submission is not None and submission.source == JOB
    assert dict(submission.variable_flags) == {"greeting": "hi"}
