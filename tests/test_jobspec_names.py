"""Group and task names that are path parts, and counts past nomadlab's limit, are
refused by validation with the block path and line of the offending name."""

from __future__ import annotations

import pytest

import nomadlab as nl
from nomadlab.jobspec.validate import MAX_COUNT

SPEC = """job "web" {
  datacenters = ["dc1"]
  group "%(group)s" {
    count = %(count)d
    task "%(task)s" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}
"""


def _problems(group: str = "g", task: str = "t", count: int = 1) -> list[nl.jobspec.Problem]:
    with pytest.raises(nl.JobSpecError) as info:
        nl.parse_job(SPEC % {"group": group, "task": task, "count": count})
    return info.value.problems


@pytest.mark.parametrize("name, message", [
    ("..", 'Task name cannot be "..": it is a path part'),
    (".", 'Task name cannot be ".": it is a path part'),
    ("a/b", "Task name cannot include slashes"),
    ("a\\\\b", "Task name cannot include slashes"),
])
def test_task_names_that_are_path_parts(name: str, message: str) -> None:
    (problem,) = _problems(task=name)
    assert problem.message == message
    assert problem.line == 5
    assert problem.path.startswith('job "web" > group "g" > task')


@pytest.mark.parametrize("name, message", [
    ("..", 'Task group name cannot be "..": it is a path part'),
    ("a/b", "Task group name cannot include slashes"),
])
def test_group_names_that_are_path_parts(name: str, message: str) -> None:
    (problem,) = _problems(group=name)
    assert problem.message == message
    assert problem.line == 3
    assert problem.path.startswith('job "web" > group')


def test_a_nul_in_a_name_from_json() -> None:
    job = nl.parse_job(SPEC % {"group": "g", "task": "t", "count": 1}).to_api()
    job["TaskGroups"][0]["Tasks"][0]["Name"] = "a\0b"
    with pytest.raises(nl.JobSpecError) as info:
        nl.jobspec.job_from_api(job)
    assert [p.message for p in info.value.problems] == ["Task name cannot include null characters"]


def test_names_with_dots_inside_are_fine() -> None:
    job = nl.parse_job(SPEC % {"group": "g.1", "task": "..t", "count": 1})
    assert job.task_groups[0].tasks[0].name == "..t"


def test_count_up_to_the_limit_and_not_past_it() -> None:
    assert nl.parse_job(SPEC % {"group": "g", "task": "t", "count": MAX_COUNT}) \
        .task_groups[0].count == MAX_COUNT
    (problem,) = _problems(count=10**18)
    assert problem.line == 4 and problem.path == 'job "web" > group "g"'
    assert f"limit of {MAX_COUNT}" in problem.message


def test_an_integer_beyond_int64_does_not_decode() -> None:
    job = nl.parse_job(SPEC % {"group": "g", "task": "t", "count": 1}).to_api()
    job["Priority"] = 2**64
    with pytest.raises(nl.JobSpecError) as info:
        nl.jobspec.job_from_api(job)
    assert "overflows a 64-bit integer" in info.value.problems[0].message
