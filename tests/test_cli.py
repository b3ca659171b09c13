"""``nomadlab job init`` and ``nomadlab job validate``, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nomadlab as nl


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nomadlab", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_job_init_writes_a_valid_example_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run("job", "init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Example job file written to example.nomad.hcl" in first.stdout
    job = nl.parse_job((tmp_path / "example.nomad.hcl").read_text())
    assert job.id == "example" and job.task_groups[0].tasks[0].driver == "exec"

    again = run("job", "init", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_job_init_short(tmp_path: Path) -> None:
    assert run("job", "init", "-short", "small.hcl", cwd=tmp_path).returncode == 0
    text = (tmp_path / "small.hcl").read_text()
    assert "#" not in text
    assert nl.parse_job(text).task_groups[0].name == "web"


def test_job_validate_success(tmp_path: Path) -> None:
    run("job", "init", cwd=tmp_path)
    result = run("job", "validate", "example.nomad.hcl", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == "Job validation successful"


def test_job_validate_prints_every_problem_with_line_and_caret(tmp_path: Path) -> None:
    (tmp_path / "bad.hcl").write_text(
        'job "web" {\n  group "api" {\n    count = -1\n    task "srv" {\n'
        '      resources { memroy = 64 }\n    }\n  }\n}\n')
    result = run("job", "validate", "bad.hcl", cwd=tmp_path)
    assert result.returncode == 1
    err = result.stderr
    assert "Job validation errors:" in err
    assert "bad.hcl:3:5: Task group count can't be negative, got -1" in err
    assert "bad.hcl:4:5: Missing task driver" in err
    assert 'bad.hcl:5:19: unknown key "memroy" in resources; did you mean `memory`?' in err
    assert "      resources { memroy = 64 }\n                      ^" in err
    assert "Traceback" not in err


def test_job_validate_reads_stdin_and_reports_missing_files(tmp_path: Path) -> None:
    ok = run("job", "validate", "-", cwd=tmp_path,
             stdin='job "x" {\n group "g" {\n task "t" {\n driver = "exec"\n }\n }\n}\n')
    assert ok.returncode == 0
    missing = run("job", "validate", "nope.hcl", cwd=tmp_path)
    assert missing.returncode == 1 and "nope.hcl" in missing.stderr
