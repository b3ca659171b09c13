"""HCL2 input variables end to end: ``job run|plan|validate -var/-var-file``, the HTTP
API's ``/v1/jobs/parse`` with ``Variables``, and the Submission kept with each version."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Iterator, Optional

import pytest

import nomadlab as nl
from nomadlab.api.client import Client
from nomadlab.api.remote import Remote
from nomadlab.commands import run

sys.path.insert(0, str(Path(__file__).parent / "api"))
from http_agent import serving  # noqa: E402

SPEC = '''variable "replicas" {
  type    = number
  default = 1
}

variable "image" {
  type = string
}

job "web" {
  group "web" {
    count = var.replicas
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300", var.image]
      }
    }
  }
}
'''


@pytest.fixture
def agent() -> Iterator[nl.Agent]:
    with nl.dev(mode="step", seed=23) as c:
        yield c


def nomad(c: nl.Agent, *argv: str, stdin: Optional[str] = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(c, list(argv), stdin=stdin, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_job_run_with_var_and_var_file_keeps_the_submission(agent: nl.Agent,
                                                            tmp_path: Path) -> None:
    spec = tmp_path / "web.nomad.hcl"
    spec.write_text(SPEC)
    prod = tmp_path / "prod.hcl"
    prod.write_text('replicas = 3\nimage = "prod"\n')
    code, out, err = nomad(agent, "job", "run", "-detach", "-var-file", str(prod),
                           "-var", "image=web:2", str(spec))
    assert code == 0, err
    job = agent.job("web")
    assert job.task_groups[0].count == 3
    assert job.task_groups[0].tasks[0].config["args"] == ["300", "web:2"]
    submission = agent.job_submission("web")
    assert submission is not None
    assert (submission.source, submission.format) == (SPEC, "hcl2")
    assert dict(submission.variable_flags) == {"image": "web:2"}
    assert submission.variables == 'replicas = 3\nimage = "prod"\n'


def test_validate_and_plan_read_the_same_flags(agent: nl.Agent, tmp_path: Path) -> None:
    spec = tmp_path / "web.nomad.hcl"
    spec.write_text(SPEC)
    code, _, err = nomad(agent, "job", "validate", str(spec))
    assert code == 1
    assert 'web.nomad.hcl:6:10: variable "image" has no value' in err
    code, out, _ = nomad(agent, "job", "validate", "-var", "image=x", str(spec))
    assert (code, out.strip()) == (0, "Job validation successful")
    code, _, err = nomad(agent, "job", "validate", "-var", "imag=x", str(spec))
    assert code == 1 and 'Did you mean "image"?' in err
    code, out, _ = nomad(agent, "job", "plan", "-var", "image=x", "-var", "replicas=2",
                         str(spec))
    assert code == 1, out  # a new job: allocations would be created
    assert "Task Group: \"web\" (2 create)" in out


def test_cell_magic_style_stdin_takes_vars(agent: nl.Agent) -> None:
    code, _, err = nomad(agent, "job", "run", "-detach", "-var", "image=cell", "-", stdin=SPEC)
    assert code == 0, err
    assert agent.job("web").task_groups[0].tasks[0].config["args"] == ["300", "cell"]
    submission = agent.job_submission("web", version=0)
    assert submission is not None and dict(submission.variable_flags) == {"image": "cell"}


def test_http_parse_takes_variables_and_submissions_survive_a_restart(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    with serving(mode="step", data_dir=data_dir) as (agent, api):
        r = api.post("/v1/jobs/parse", json={"JobHCL": SPEC, "Variables": 'image = "api"\n'
                                             "replicas = 2\n"})
        assert r.status_code == 200, r.text
        parsed = r.json()
        assert parsed["TaskGroups"][0]["Count"] == 2
        r = api.post("/v1/jobs/parse", json={"JobHCL": SPEC})
        assert r.status_code == 400 and 'variable "image" has no value' in r.text
        one_line = 'job "x" {\n group "g" {\n task "t" {\n driver = "exec"\n' \
                   ' resources { cpu = 50 memory = 32 }\n }\n }\n}\n'
        assert api.post("/v1/jobs/parse", json={"JobHCL": one_line}).status_code == 400
        r = api.post("/v1/jobs/parse", json={"JobHCL": one_line, "HCLv1": True})
        assert r.status_code == 200 and r.json()["TaskGroups"][0]["Tasks"][0]["Resources"][
            "MemoryMB"] == 32

        submission = {"Source": SPEC, "Format": "hcl2", "VariableFlags": {"image": "api"},
                      "Variables": "replicas = 2\n"}
        r = api.post("/v1/jobs", json={"Job": parsed, "Submission": submission})
        assert r.status_code == 200, r.text
        got = api.get("/v1/job/web/submission", params={"version": "0"})
        assert got.status_code == 200, got.text
        body = got.json()
        assert {k: body[k] for k in submission} == submission
        assert (body["JobID"], body["Version"], body["Namespace"]) == ("web", 0, "default")
        missing = api.get("/v1/job/web/submission", params={"version": "7"})
        assert missing.status_code == 404 and "job source not found" in missing.text
    with serving(mode="step", data_dir=data_dir) as (agent, api):
        kept = agent.job_submission("web", version=0)
        assert kept is not None and kept.source == SPEC
        assert api.get("/v1/job/web/submission").json()["Variables"] == "replicas = 2\n"


def test_remote_sends_the_source_it_parsed() -> None:
    with serving(mode="step") as (agent, _api):
        remote = Remote(Client(agent.http_addr))
        text = SPEC.replace("type = string", 'type = string\n  default = "r"')
        remote.submit(text)
        submission = remote.job_submission("web")
        assert submission is not None and submission.source == text
        assert submission.format == "hcl2"
        assert remote.job_submission("web", version=5) is None
