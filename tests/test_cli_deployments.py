"""``nomad deployment ...``, ``job run`` following a deployment, ``job plan`` with
canaries, ``job revert``, ``job history -p`` and ``node drain`` with its monitor, against
the in-process agent on simulated nodes: the words and exit codes ``nomad`` gives."""

from __future__ import annotations

import io
import re
from typing import Iterator, Optional

import pytest

import nomadlab as nl
from nomadlab.commands import run

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"

JOB = """
job "web" {
  datacenters = ["dc1"]
  group "api" {
    count = %(count)d
    update {
      max_parallel = 1
      %(update)s
    }
    migrate {
      max_parallel     = 1
      min_healthy_time = "0s"
    }
    task "srv" {
      driver = "exec"
      config { command = "sleep" }
      env { RELEASE = "%(release)s" }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""

MANUAL = 'health_check = "manual"'


def spec(release: str, update: str = MANUAL, count: int = 3) -> str:
    return JOB % {"release": release, "update": update, "count": count}


def nomad(c: nl.Agent, *argv: str, stdin: Optional[str] = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(c, list(argv), stdin=stdin, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def stepped() -> Iterator[nl.Agent]:
    with nl.dev(clients=0, mode="step", seed=5) as c:
        c.add_node("a", cpu=4000, memory=4096)
        c.add_node("b", cpu=4000, memory=4096)
        yield c


@pytest.fixture
def auto() -> Iterator[nl.Agent]:
    with nl.dev(clients=0, seed=6) as c:
        c.add_node("a", cpu=4000, memory=4096)
        yield c


def healthy(c: nl.Agent) -> None:
    """Call every running allocation of the latest deployment nobody judged yet healthy."""
    d = c.latest_deployment("web")
    ids = [a.id for a in c.deployment_allocations(d.id) if a.desired_status == "run"
           and (a.deployment_status is None or a.deployment_status.healthy is None)]
    c.set_alloc_health(d.id, ids, [])
    c.run_until_idle()


def test_deployment_commands_through_a_canary_release(stepped: nl.Agent) -> None:
    c = stepped
    assert nomad(c, "job", "run", "-detach", "-", stdin=spec("0"))[0] == 0
    c.run_until_idle()
    healthy(c)
    first = c.latest_deployment("web")
    code, out, _ = nomad(c, "deployment", "list")
    assert (code, out) == (0, "ID        Job ID  Job Version  Status      Description\n"
                              f"{first.id[:8]}  web     0            successful  "
                              "Deployment completed successfully\n")

    canary = MANUAL + "\ncanary = 1\nauto_revert = true"
    code, out, _ = nomad(c, "job", "plan", "-", stdin=spec("1", canary))
    assert code == 1
    assert out.startswith('+/- Job: "web"\n+/- Task Group: "api" (1 canary, 3 ignore)\n'
                          "  +/- Update {\n")
    assert '    +/- Env[RELEASE]: "0" => "1"\n' in out

    code, out, _ = nomad(c, "job", "run", "-", stdin=spec("1", canary))
    d = c.latest_deployment("web")
    assert code == 0 and d.job_version == 1
    assert re.search(rf'==> {TS}: Monitoring deployment "{d.id[:8]}"\n', out)
    assert "Description = Deployment is running but requires manual promotion" in out

    code, out, _ = nomad(c, "deployment", "status", d.id[:6])
    lines = out.splitlines()
    assert code == 0 and lines[:7] == [
        f"ID          = {d.id[:8]}", "Job ID      = web", "Job Version = 1",
        "Status      = running",
        "Description = Deployment is running but requires manual promotion", "", "Deployed"]
    assert lines[7].split() == ["Task", "Group", "Auto", "Revert", "Promoted", "Desired",
                                "Canaries", "Placed", "Healthy", "Unhealthy", "Progress",
                                "Deadline"]
    assert lines[8].split()[:8] == ["api", "true", "false", "3", "1", "1", "0", "0"]
    code, out, _ = nomad(c, "job", "status", "web")
    assert f"\nLatest Deployment\nID          = {d.id[:8]}\nStatus      = running\n" in out

    healthy(c)  # the canary
    code, out, _ = nomad(c, "deployment", "promote", "-detach", d.id[:8])
    promoted = next(e for e in c.evals("web") if e.triggered_by == "deployment-watcher"
                    and out == f"Evaluation ID: {e.id}\n")
    assert code == 0 and promoted.deployment_id == d.id
    assert c.deployment(d.id).task_groups["api"].promoted
    assert nomad(c, "deployment", "pause", d.id[:8]) == (0, f'Deployment "{d.id}" paused\n', "")
    assert c.deployment(d.id).status == "paused"
    assert nomad(c, "deployment", "resume", "-detach", d.id[:8]) == \
        (0, f'Deployment "{d.id}" resumed\n', "")

    code, out, _ = nomad(c, "deployment", "fail", d.id[:8])
    assert out.startswith(f'Deployment "{d.id}" failed. Auto-reverted to job version 0.\n\n'
                          '==> ')
    # the evaluation of the reverted job works within the rollback's deployment, which
    # the monitor then follows (still running: the agent is stepped)
    rollback = c.latest_deployment("web")
    assert code == 0 and rollback.job_version == 2 and c.deployment(d.id).status == "failed"
    assert re.search(rf'==> {TS}: Monitoring deployment "{rollback.id[:8]}"\n', out)
    assert f"    ID          = {rollback.id[:8]}\n" in out

    code, out, _ = nomad(c, "deployment", "list", "-verbose")
    assert [line.split()[:4] for line in out.splitlines()[1:]] == [
        [rollback.id, "web", "2", "running"], [d.id, "web", "1", "failed"],
        [first.id, "web", "0", "successful"]]
    code, out, _ = nomad(c, "job", "history", "-p", "web")
    assert code == 0 and out.startswith("Version     = 2\nStable      = false\n")
    assert "Diff        =\n+/- Job: \"web\"\n+/- Task Group: \"api\"\n  +/- Update {\n" in out

    assert nomad(c, "deployment", "promote", d.id[:8]) == \
        (1, "", "Error promoting deployment: can't promote terminal deployment\n")
    assert nomad(c, "deployment", "status", "zz") == \
        (1, "", 'Error retrieving deployment: Deployment ID "zz" matched no deployments\n')
    assert nomad(c, "deployment", "fail", "z") == \
        (1, "", "Error retrieving deployment: Identifier must contain at least two "
                "characters.\n")


def test_deployment_status_monitor_follows_the_rollback(stepped: nl.Agent) -> None:
    c = stepped
    assert nomad(c, "job", "run", "-detach", "-", stdin=spec("0"))[0] == 0
    c.run_until_idle()
    healthy(c)
    update = MANUAL + "\nauto_revert = true"
    assert nomad(c, "job", "run", "-detach", "-", stdin=spec("1", update))[0] == 0
    c.run_until_idle()
    d = c.latest_deployment("web")
    bad = [a.id for a in c.deployment_allocations(d.id)]
    c.set_alloc_health(d.id, [], bad)
    c.run_until_idle()
    code, out, _ = nomad(c, "deployment", "status", "-monitor", d.id[:8])
    rollback = c.latest_deployment("web")
    assert code == 0 and rollback.id != d.id
    lines = out.splitlines()
    assert re.fullmatch(rf'{TS}: Monitoring deployment "{d.id[:8]}"', lines[0])
    assert lines[1] == f'  ! Deployment "{d.id[:8]}" failed'
    assert ("    Description = Failed due to unhealthy allocations - rolling back to job "
            "version 0") in lines
    assert f'    Deployment "{rollback.id[:8]}" is "running" and the agent is idle: step the ' \
        "agent to move it along" in lines
    code, out, _ = nomad(c, "deployment", "status", "-monitor", "-verbose", rollback.id[:8])
    assert code == 0 and f"    ID          = {rollback.id}\n" in out
    assert "\n    Allocations\n    ID                                    Eval ID" in out
    assert all(a.id in out for a in c.deployment_allocations(rollback.id))


def test_job_run_follows_the_deployment_and_revert_monitors_too(auto: nl.Agent) -> None:
    c = auto
    quick = 'min_healthy_time = "0s"'
    code, out, err = nomad(c, "job", "run", "-", stdin=spec("0", quick, count=2))
    d = c.latest_deployment("web")
    assert code == 0, err
    tail = out.split(f'Monitoring deployment "{d.id[:8]}"\n')[1].splitlines()
    assert tail[:2] == [f'  ✓ Deployment "{d.id[:8]}" successful', ""]
    assert tail[3:9] == [f"    ID          = {d.id[:8]}", "    Job ID      = web",
                         "    Job Version = 0", "    Status      = successful",
                         "    Description = Deployment completed successfully", ""]
    assert c.job_versions("web")[0].stable

    assert nomad(c, "job", "run", "-", stdin=spec("1", quick, count=2))[0] == 0
    code, out, _ = nomad(c, "job", "revert", "-verbose", "web", "0")
    reverted = c.job("web")
    assert code == 0 and reverted.version == 2
    assert reverted.task_groups[0].tasks[0].env["RELEASE"] == "0"
    assert f'  ✓ Deployment "{c.latest_deployment("web").id}" successful' in out
    assert nomad(c, "job", "revert", "web", "two") == \
        (1, "", 'Error parsing version value: "two" is not a job version number\n')
    code, _, err = nomad(c, "job", "revert", "web", "2")
    assert code == 1 and err == "Error retrieving job versions: can't revert to current " \
        "version 2\n"


def test_node_drain_monitors_the_migration(auto: nl.Agent) -> None:
    c = auto
    quick = 'min_healthy_time = "0s"'
    assert nomad(c, "job", "run", "-", stdin=spec("0", quick, count=2))[0] == 0
    a = c.node("a")
    c.add_node("b", cpu=4000, memory=4096)
    code, out, _ = nomad(c, "node", "drain", "-enable", "-deadline", "1m", "-m", "kernel update",
                         "-meta", "ticket=42", "a")
    lines = out.splitlines()
    assert code == 0
    assert re.fullmatch(rf"{TS}: Ctrl-C to stop monitoring: will not cancel the node drain",
                        lines[0])
    assert re.fullmatch(rf'{TS}: Node "{a.id}" drain strategy set', lines[1])
    assert sum(bool(re.fullmatch(rf'{TS}: Alloc "[0-9a-f-]{{36}}" status running -> complete',
                                 line)) for line in lines) == 2
    assert re.fullmatch(rf"{TS}: Drain complete for node {a.id}", lines[-2]) or \
        re.fullmatch(rf"{TS}: Drain complete for node {a.id}", lines[-1])
    assert any(re.fullmatch(rf'{TS}: All allocations on node "{a.id}" have stopped', line)
               for line in lines[-2:])
    assert {x.node_name for x in c.allocs("web") if x.desired_status == "run"} == {"b"}
    assert nomad(c, "node", "drain", "-monitor", "a") == (0, "No drain strategy set\n", "")
    last = c.node("a").last_drain
    assert (last.status, last.meta) == ("complete", {"message": "kernel update", "ticket": "42"})
    assert last.started_at <= last.updated_at
    assert nomad(c, "node", "drain", "-disable", "a") == \
        (0, f'Node "{a.id}" drain strategy unset\n', "")
    assert c.node("a").scheduling_eligibility == "eligible"
    assert c.node("a").last_drain == last, "ending no drain leaves LastDrain as it was"


def test_a_canceled_drain_keeps_its_metadata_with_the_cancel_message(stepped: nl.Agent) -> None:
    """Nomad's LastDrain: -m is "message" when enabling and "cancel_message" when
    disabling, on top of the drain's own metadata; the API shows it as Nomad does."""
    assert nomad(stepped, "node", "drain", "-enable", "-detach", "-m", "rack move", "a")[0] == 0
    draining = stepped.node("a").last_drain
    assert (draining.status, draining.meta) == ("draining", {"message": "rack move"})
    assert nomad(stepped, "node", "drain", "-disable", "-m", "changed my mind", "a")[0] == 0
    api = stepped.node("a").to_api()["LastDrain"]
    assert api["Status"] == "canceled" and api["StartedAt"] == draining.started_at
    assert api["Meta"] == {"message": "rack move", "cancel_message": "changed my mind"}


@pytest.mark.parametrize("argv, message", [
    (["-enable", "-force", "-deadline", "1m"], "-deadline can't be combined with -force or "
                                               "-no-deadline"),
    (["-enable", "-force", "-no-deadline"], "-force and -no-deadline are mutually exclusive"),
    (["-disable", "-ignore-system"], "-disable can't be combined with flags configuring drain "
                                     "strategy"),
    (["-enable", "-deadline", "soon"], 'Failed to parse deadline "soon": time: invalid '
                                       'duration "soon"'),
    (["-enable", "-deadline", "0s"], "A positive drain duration must be given"),
    (["-monitor", "-enable"], "The -monitor flag cannot be used with the '-enable' or "
                              "'-disable' flags"),
    ([], "Either the '-enable' or '-disable' flag must be set, unless using '-monitor'"),
])
def test_node_drain_flags_are_checked_as_nomad_checks_them(stepped: nl.Agent, argv: list[str],
                                                           message: str) -> None:
    assert nomad(stepped, "node", "drain", *argv, "a") == (1, "", message + "\n")
    assert stepped.node("a").drain_strategy is None
