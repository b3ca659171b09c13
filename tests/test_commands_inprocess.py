"""``nomadlab.commands.run`` against the in-process agent, as the notebook magics use it:
the same output shapes and exit codes as ``nomad``, and step mode never hangs."""

from __future__ import annotations

import io
import re
from typing import Iterator, Optional

import pytest

import nomadlab as nl
from nomadlab.commands import run

SLEEPER = """
job "web" {
  group "cache" {
    count = %(count)d
    task "redis" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo started; echo warn >&2; sleep 30"]
      }
      resources {
        cpu    = 50
        memory = %(memory)d
      }
    }
  }
}
"""

#: Not the default seed: agents with one seed make the same allocation IDs, and the exec
#: driver names its cgroups by allocation ID, so tasks of two such agents running at once
#: (another test file's) could share a cgroup.
SEED = 11

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"


def spec(count: int = 1, memory: int = 32) -> str:
    return SLEEPER % {"count": count, "memory": memory}


@pytest.fixture
def agent() -> Iterator[nl.Agent]:
    with nl.dev(mode="step", seed=SEED) as c:
        yield c


def nomad(c: nl.Agent, *argv: str, stdin: Optional[str] = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(c, list(argv), stdin=stdin, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_job_run_monitors_the_evaluation_in_step_mode(agent: nl.Agent) -> None:
    code, out, err = nomad(agent, "job", "run", "-", stdin=spec(count=2))
    assert code == 0, err
    lines = out.splitlines()
    ev = agent.evals("web")[0]
    assert re.fullmatch(rf'==> {TS}: Monitoring evaluation "{ev.id[:8]}"', lines[0])
    assert re.fullmatch(rf'    {TS}: Evaluation triggered by job "web"', lines[1])
    created = [line for line in lines if "created: node" in line]
    assert len(created) == 2
    node = agent.nodes()[0].id[:8]
    for alloc in agent.allocs("web"):
        assert any(re.fullmatch(rf'    {TS}: Allocation "{alloc.id[:8]}" created: node "{node}", '
                                r'group "cache"', line) for line in created)
    finished = next(i for i, line in enumerate(lines) if "finished with status" in line)
    assert re.fullmatch(rf'    {TS}: Evaluation status changed: "pending" -> "complete"',
                        lines[finished - 1])
    assert re.fullmatch(rf'==> {TS}: Evaluation "{ev.id[:8]}" finished with status "complete"',
                        lines[finished])
    d = agent.latest_deployment("web")
    assert re.fullmatch(rf'==> {TS}: Monitoring deployment "{d.id[:8]}"', lines[finished + 1])


def test_job_run_detach_and_verbose(agent: nl.Agent) -> None:
    code, out, _ = nomad(agent, "job", "run", "-detach", "-", stdin=spec())
    ev = agent.evals("web")[0]
    assert code == 0 and out == f"Job registration successful\nEvaluation ID: {ev.id}\n"
    code, out, _ = nomad(agent, "job", "run", "-verbose", "-", stdin=spec(count=2))
    assert code == 0
    assert re.search(r'Monitoring evaluation "[0-9a-f-]{36}"', out)


def test_placement_failure_exits_2_and_prints_nomads_lines(agent: nl.Agent) -> None:
    code, out, _ = nomad(agent, "job", "run", "-", stdin=spec(memory=10_000_000))
    assert code == 2
    ev = agent.evals("web")[0]
    lines = out.splitlines()
    assert re.fullmatch(rf'==> {TS}: Evaluation "{ev.id[:8]}" finished with status "complete" but '
                        r"failed to place all allocations:", lines[-5])
    assert re.fullmatch(rf'    {TS}: Task Group "cache" \(failed to place 1 allocation\):', lines[-4])
    assert lines[-3] == "      * Resources exhausted on 1 nodes"
    assert lines[-2] == '      * Dimension "memory" exhausted on 1 nodes'
    assert re.fullmatch(rf'    {TS}: Evaluation "{ev.blocked_eval[:8]}" waiting for additional '
                        r"capacity to place remainder", lines[-1])
    code, out, _ = nomad(agent, "eval", "status", ev.id[:6])
    assert code == 0 and "Placement Failures = true" in out
    assert '  * Dimension "memory" exhausted on 1 nodes' in out
    code, out, _ = nomad(agent, "job", "status", "we")
    assert "Placement Failure\nTask Group \"cache\":\n" in out and "No allocations placed" in out


def test_plan_exit_codes(agent: nl.Agent) -> None:
    code, out, _ = nomad(agent, "job", "plan", "-", stdin=spec())
    assert code == 1 and out.startswith('+ Job: "web"\n+ Task Group: "cache" (1 create)\n')
    assert "Scheduler dry-run:\n- All tasks successfully allocated.\n" in out
    assert nomad(agent, "job", "run", "-", stdin=spec())[0] == 0
    code, out, _ = nomad(agent, "job", "plan", "-", stdin=spec())
    assert code == 0 and "Job Modify Index: " in out
    code, _, err = nomad(agent, "job", "plan", "-", stdin="job {")
    assert code == 255 and "Error getting job struct" in err


def test_status_alloc_status_logs_and_stop(agent: nl.Agent) -> None:
    assert nomad(agent, "job", "run", "-", stdin=spec())[0] == 0
    alloc = agent.wait("web", timeout=20)[0]
    code, out, _ = nomad(agent, "job", "status")
    assert code == 0
    assert re.match(r"ID\s+Type\s+Priority\s+Status\s+Submit Date\nweb\s+service\s+50\s+running", out)
    code, out, _ = nomad(agent, "status", "web")
    assert code == 0 and "Summary\nTask Group  Queued  Starting  Running" in out
    assert re.search(rf"{alloc.id[:8]}  {alloc.node_id[:8]}  cache       0        run      running", out)
    code, out, _ = nomad(agent, "alloc", "status", "-verbose", alloc.id[:6])
    assert code == 0 and f"ID                  = {alloc.id}\n" in out
    assert "Placement Metrics\nNode " in out and "final score" in out
    assert 'Task "redis" is "running"' in out
    for _ in range(100):
        if nomad(agent, "alloc", "logs", alloc.id[:6])[1]:
            break
        agent.wait("web", timeout=1)
    assert nomad(agent, "alloc", "logs", alloc.id[:6]) == (0, "started\n", "")
    assert nomad(agent, "alloc", "logs", "-stderr", alloc.id[:6], "redis") == (0, "warn\n", "")
    assert nomad(agent, "alloc", "logs", alloc.id[:6], "nope")[0] == 1
    assert nomad(agent, "status", alloc.id[:8])[1].startswith(f"ID                  = {alloc.id[:8]}")
    code, out, _ = nomad(agent, "eval", "status", alloc.eval_id)
    assert code == 0 and "Placement Failures = false\n\nPlaced Allocations\nID        Node ID" in out
    assert f"\n{alloc.id[:8]}  {alloc.node_id[:8]}  cache" in out
    code, out, _ = nomad(agent, "job", "stop", "web")
    assert code == 0 and 'finished with status "complete"' in out
    assert agent.job("web").stop
    code, out, _ = nomad(agent, "job", "history", "web")
    assert code == 0 and out.startswith("Version     = 1\nStable      = false\n")
    code, out, _ = nomad(agent, "job", "inspect", "web")
    assert code == 0 and out.startswith('{\n    "Job": {\n        "ID": "web",')


def test_nodes_drain_and_eligibility(agent: nl.Agent) -> None:
    node = agent.nodes()[0]
    code, out, _ = nomad(agent, "node", "status")
    assert code == 0 and f"{node.id[:8]}  default    dc1  {node.name}" in out
    code, out, _ = nomad(agent, "node", "eligibility", "-disable", node.name)
    assert code == 0 and out == f'Node "{node.id}" scheduling eligibility set: ineligible for scheduling\n'
    assert agent.node(node.id).scheduling_eligibility == "ineligible"
    assert nomad(agent, "node", "eligibility", "-enable", node.id[:6])[0] == 0
    code, out, _ = nomad(agent, "node", "drain", "-enable", "-yes", "-detach", node.name)
    assert (code, out) == (0, f'Node "{node.id}" drain strategy set\n')
    # nothing runs there: the drainer finds the node empty and completes the drain
    agent.run_until_idle()
    drained = agent.node(node.id)
    assert not drained.drain and drained.scheduling_eligibility == "ineligible"
    assert drained.events[-1].message == "Node drain complete"
    assert nomad(agent, "node", "drain", "-disable", node.name) == \
        (0, f'Node "{node.id}" drain strategy unset\n', "")
    assert agent.node(node.id).scheduling_eligibility == "eligible"
    code, out, _ = nomad(agent, "node", "status", node.name)
    assert code == 0 and "Allocated Resources\nCPU" in out


def test_errors_are_messages_not_tracebacks(agent: nl.Agent) -> None:
    assert nomad(agent, "job", "status", "nope") == \
        (1, "", 'Error querying job: No job(s) with prefix or id "nope" found\n')
    code, _, err = nomad(agent, "alloc", "status", "ffff")
    assert code == 1 and err.startswith("Error querying allocation: ")
    code, _, err = nomad(agent, "job", "frobnicate")
    assert code == 1 and "invalid choice: 'frobnicate'" in err and "usage:" in err
    code, _, err = nomad(agent, "job", "run", "/no/such/file.hcl")
    assert code == 1 and err.startswith("Error getting job struct: No such file or directory")
    code, _, err = nomad(agent, "node", "drain", "x")
    assert code == 1 and "-enable" in err
    code, out, _ = nomad(agent, "alloc", "logs", "-help")
    assert code == 0 and out.startswith("usage: ") and "-stderr" in out


def test_ambiguous_job_prefix_lists_the_matches(agent: nl.Agent) -> None:
    for name in ("web-a", "web-b"):
        agent.submit(spec().replace('job "web"', f'job "{name}"'))
    agent.run_until_idle()
    code, out, _ = nomad(agent, "job", "status", "web-")
    assert code == 1 and out.startswith("Prefix matched multiple jobs\n\nID     Type")


BATCH = """
job "count" {
  type = "batch"
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo one; sleep 1; echo two; sleep 1; echo three"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def test_alloc_logs_follow_until_the_task_ends() -> None:
    with nl.dev(seed=SEED) as c:
        assert nomad(c, "job", "run", "-detach", "-", stdin=BATCH)[0] == 0
        alloc = c.wait("count", status="running", timeout=20)[0]
        code, out, _ = nomad(c, "alloc", "logs", "-f", alloc.id[:8])
        assert code == 0 and out == "one\ntwo\nthree\n"
        assert c.alloc(alloc.id).client_status == "complete"
        assert nomad(c, "alloc", "logs", "-tail", "-n", "2", alloc.id[:8]) == (0, "two\nthree\n", "")


def test_reads_never_move_a_step_mode_agent(agent: nl.Agent) -> None:
    assert nomad(agent, "job", "run", "-detach", "-", stdin=spec())[0] == 0
    ev = agent.evals("web")[0]
    for argv in (["job", "status", "web"], ["eval", "status", ev.id], ["status"],
                 ["node", "status"], ["job", "history", "web"]):
        assert nomad(agent, *argv)[0] == 0, argv
    assert agent.eval(ev.id).status == "pending" and agent.allocs("web") == []
    assert "Status             = pending" in nomad(agent, "eval", "status", ev.id[:8])[1]


def test_periodic_job_registers_and_says_when_it_launches(agent: nl.Agent) -> None:
    periodic = spec().replace('group "cache"', 'periodic {\n    cron = "0 0 1 1 *"\n  }\n  group "cache"')
    periodic = periodic.replace('job "web" {', 'job "web" {\n  type = "batch"')
    code, out, err = nomad(agent, "job", "run", "-", stdin=periodic)
    assert code == 0, err
    assert re.fullmatch(rf"Job registration successful\nApproximate next launch time: {TS} "
                        r"\(\d+h\d+m\d+s from now\)\n", out)


def test_job_run_check_index_registers_only_the_planned_version(agent: nl.Agent) -> None:
    code, out, _ = nomad(agent, "job", "plan", "-", stdin=spec())
    assert "nomad job run -check-index 0" in out
    assert nomad(agent, "job", "run", "-detach", "-check-index", "0", "-", stdin=spec())[0] == 0
    index = agent.job("web").job_modify_index
    code, out, err = nomad(agent, "job", "run", "-check-index", "0", "-", stdin=spec(2))
    assert (code, err) == (1, "Enforcing job modify index 0: job already exists\n"
                              "Job not updated\n")
    code, out, err = nomad(agent, "job", "run", "-check-index", str(index + 7), "-",
                           stdin=spec(2))
    assert code == 1 and "conflicting job modify index" in err
    assert agent.job("web").task_groups[0].count == 1          # nothing was registered
    assert nomad(agent, "job", "run", "-detach", "-check-index", str(index), "-",
                 stdin=spec(2))[0] == 0
    assert agent.job("web").task_groups[0].count == 2
