"""Broken job specs: parse_job raises JobSpecError listing every problem, each where it is.

``tests/jobspecs/invalid/*.nomad.hcl`` are broken specs; ``expected.yaml`` beside them
lists, per file and in order, the ``[line, part of the message]`` of every problem the
file must produce.  The focused tests below pin the shape of the error a learner reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import nomadlab as nl
from nomadlab.jobspec.schema import RESOURCES

INVALID = Path(__file__).parent / "jobspecs" / "invalid"
EXPECTED: dict[str, list[list]] = yaml.safe_load((INVALID / "expected.yaml").read_text("utf-8"))
FILES = sorted(p.name for p in INVALID.glob("*.nomad.hcl"))


def _error(text: str, filename: str | None = None) -> nl.JobSpecError:
    with pytest.raises(nl.JobSpecError) as info:
        nl.parse_job(text, filename)
    assert type(info.value) is nl.JobSpecError
    return info.value


# -- the corpus -------------------------------------------------------------------------


def test_every_broken_spec_has_its_expectations() -> None:
    assert len(FILES) >= 25
    assert sorted(EXPECTED) == FILES


def test_some_files_have_several_mistakes() -> None:
    """Errors are collected: the table holds files with 3 and more problems."""
    assert sum(len(problems) >= 3 for problems in EXPECTED.values()) >= 3


@pytest.mark.parametrize("name", FILES)
def test_broken_spec_reports_every_problem(name: str) -> None:
    text = (INVALID / name).read_text(encoding="utf-8")
    err = _error(text, name)
    found = [(p.line, p.message) for p in err.problems]
    expected = EXPECTED[name]
    assert len(found) == len(expected), "\n".join(f"{line}: {msg}" for line, msg in found)
    for (line, message), (want_line, want_part) in zip(found, expected):
        assert line == want_line and want_part in message, (line, message)
    assert not any("please report it" in m for _, m in found), "an internal error leaked"


@pytest.mark.parametrize("name", FILES)
def test_broken_spec_message_shows_where(name: str) -> None:
    """str(err) gives file:line of the first problem, its source line and a caret under it."""
    text = (INVALID / name).read_text(encoding="utf-8")
    err = _error(text, name)
    first = err.problems[0]
    assert first.line is not None
    shown = str(err)
    assert f"{name}:{first.line}:" in shown
    lines = text.splitlines()
    if first.line > len(lines):  # pyhcl noticed at the end of the file, past the last line
        assert first.line == len(lines) + 1
        return
    assert first.column, "every problem in an HCL file has a column"
    out = shown.splitlines()
    at = out.index(f"{name}:{first.line}:{first.column}: {first.message}")
    if first.path:
        at += 1
        assert out[at] == f"    in {first.path}"
    assert out[at + 1] == "    " + lines[first.line - 1].expandtabs(4)
    assert out[at + 2] == "    " + " " * (first.column - 1) + "^"


# -- the shape of one problem -----------------------------------------------------------

SPEC = """\
job "web" {
  group "api" {
    task "srv" {
      driver = "exec"

      resources {
        cpu    = 200
        memroy = 256
      }
    }

    task "worker" {
      config {
        command = "/bin/worker"
      }
    }
  }
}
"""


def test_str_is_file_line_column_message() -> None:
    err = _error(SPEC, "name.hcl")
    lines = str(err).splitlines()
    assert lines[0] == "2 problems in name.hcl:"
    assert re.fullmatch(r'name\.hcl:8:9: unknown key "memroy" in resources; did you mean '
                        r"`memory`\?.*", lines[1])
    assert lines[2] == '    in job "web" > group "api" > task "srv" > resources'
    assert lines[3] == "            memroy = 256"
    assert lines[4] == "            ^"
    assert 'name.hcl:12:5: Missing task driver: add driver = "exec" (or raw_exec, docker) to ' \
           'task "worker"' in lines


def test_problem_location_without_a_file_name() -> None:
    err = _error(SPEC)
    assert str(err).splitlines()[0] == "2 problems in the job spec:"
    assert err.problems[0].location() == "<job spec>:8:9"
    assert err.problems[0].location("x.hcl") == "x.hcl:8:9"


def test_caret_column_points_at_the_offending_key() -> None:
    text = 'job "web" {\n  group "web" {\n    task "srv" {\n      driver = "exec"\n' \
           '      kill_timeout = "5 seconds"\n    }\n  }\n}\n'
    err = _error(text, "t.hcl")
    (problem,) = err.problems
    source = text.splitlines()[problem.line - 1]
    assert problem.line == 5
    assert problem.column == source.index("kill_timeout") + 1 == 7
    out = str(err).splitlines()
    caret = out[out.index("    " + source) + 1]
    assert caret.index("^") - 4 == source.index("kill_timeout")


def test_problem_path_names_the_blocks() -> None:
    err = _error(SPEC)
    paths = [p.path for p in err.problems]
    assert paths == ['job "web" > group "api" > task "srv" > resources',
                     'job "web" > group "api" > task "worker"']


def test_problem_path_of_a_group_and_a_job() -> None:
    text = 'job "web" {\n  priority = 0\n  group "api" {\n    count = -1\n' \
           '    task "srv" {\n      driver = "exec"\n    }\n  }\n}\n'
    err = _error(text)
    assert [(p.line, p.path) for p in err.problems] == [(2, 'job "web"'),
                                                        (4, 'job "web" > group "api"')]


def test_unknown_key_lists_allowed_keys_and_suggests_the_closest() -> None:
    (problem,) = [p for p in _error(SPEC).problems if "memroy" in p.message]
    allowed = ", ".join(sorted(RESOURCES))
    assert problem.message == (f'unknown key "memroy" in resources; did you mean `memory`? '
                               f"Allowed here: {allowed}.")


def test_unknown_key_with_nothing_close_has_no_suggestion() -> None:
    text = 'job "web" {\n  group "api" {\n    zzz = 1\n    task "srv" {\n' \
           '      driver = "exec"\n    }\n  }\n}\n'
    (problem,) = _error(text).problems
    assert problem.message.startswith('unknown key "zzz" in group "api". Allowed here: ')
    assert "did you mean" not in problem.message
    assert "task" in problem.message.split("Allowed here: ")[1].rstrip(".").split(", ")


def test_json_syntax_error_has_line_and_column() -> None:
    text = '{\n  "Job": {\n    "ID": "web",\n  }\n}\n'
    err = _error(text, "web.json")
    (problem,) = err.problems
    assert problem.message.startswith("invalid JSON: ")
    assert (problem.line, problem.column) == (4, 3)
    out = str(err).splitlines()
    assert out[1].startswith("web.json:4:3: invalid JSON: ")
    assert out[2:4] == ["      }", "      ^"]


def test_json_type_error_names_the_key() -> None:
    job = {"Job": {"ID": "web", "TaskGroups": [
        {"Name": "api", "Count": "three",
         "Tasks": [{"Name": "srv", "Driver": "exec"}]}]}}
    err = _error(json.dumps(job, indent=2), "web.json")
    (problem,) = err.problems
    assert problem.message.startswith("Count: ")
    assert "integer" in problem.message and "'three'" in problem.message
    assert problem.path == 'job "web" > group "api"'
    assert problem.line is None


def test_json_validation_problem_names_the_block() -> None:
    job = {"ID": "web", "TaskGroups": [{"Name": "api", "Tasks": [{"Name": "srv"}]}]}
    (problem,) = _error(json.dumps(job)).problems
    assert problem.message.startswith("Missing task driver")
    assert problem.path == 'job "web" > group "api" > task "srv"'


@pytest.mark.parametrize("text", [None, b'job "x" {}', 42])
def test_not_text_is_a_job_spec_error(text: object) -> None:
    err = _error(text)  # type: ignore[arg-type]
    assert "a job spec is text" in err.problems[0].message


def test_a_repeated_port_label_points_at_the_second_port() -> None:
    text = ('job "a" {\n  group "g" {\n    network {\n      port "http" {}\n      port "http" {}\n'
            '    }\n    task "t" { driver = "exec" }\n  }\n}\n')
    with pytest.raises(nl.JobSpecError) as info:
        nl.parse_job(text)
    (problem,) = info.value.problems
    assert (problem.line, problem.column, problem.message) == \
        (5, 12, 'Port label "http" already in use')
