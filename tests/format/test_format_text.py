"""The CLI renderers against exact text, the way ``nomad`` prints the same API JSON."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from nomadlab.format import (KV, Document, Line, Table, alloc_metric_lines, alloc_status,
                             columnize, eval_status, job_diff_lines, job_history, job_list,
                             job_status, node_list, plan_exit_code, plan_output, score_table)
from nomadlab.format.units import format_time, ibytes, pretty_time_diff

S = 1_000_000_000
T0 = 1_764_455_932 * S  # 2025-11-29T22:38:52Z


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nomad prints local time; these expectations are written in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_columnize_pads_all_but_the_last_column_and_fills_blanks() -> None:
    assert columnize([["ID", "Class", "Status"], ["abc", "", "ready"], ["abcdefgh", "big", "down"]]) == (
        "ID        Class   Status\n"
        "abc       <none>  ready\n"
        "abcdefgh  big     down")


def test_kv_aligns_on_the_equals_sign() -> None:
    assert KV([("ID", "x"), ("Desired Description", "")]).text() == (
        "ID                  = x\n"
        "Desired Description = <none>")


def test_time_helpers() -> None:
    assert format_time(T0) == "2025-11-29T22:38:52Z"
    assert format_time("2025-11-29T22:38:52.5Z") == "2025-11-29T22:38:52Z"
    assert format_time(0) == ""
    assert pretty_time_diff(T0, T0) == "0s ago"
    assert pretty_time_diff(T0, T0 + 326 * S) == "5m26s ago"
    assert pretty_time_diff(T0, T0 + 3723 * S) == "1h2m ago"
    assert pretty_time_diff(T0, T0 + 3 * 86400 * S + 7200 * S) == "3d2h ago"
    assert pretty_time_diff(T0 + 5 * S, T0) == "5s from now"
    assert ibytes(0) == "0 B" and ibytes(300 * 1024 * 1024) == "300 MiB"
    assert ibytes(int(7.7 * 1024 ** 3)) == "7.7 GiB"


METRICS = {
    "NodesEvaluated": 3, "NodesFiltered": 2, "NodesExhausted": 1,
    "NodesAvailable": {"dc1": 3, "dc2": 0},
    "ClassFiltered": {"gpu": 1},
    "ConstraintFiltered": {"${attr.kernel.name} = windows": 1, "missing drivers": 1},
    "ClassExhausted": {"small": 1}, "DimensionExhausted": {"memory": 1},
    "QuotaExhausted": ["cpu exhausted"], "CoalescedFailures": 2,
}


def test_placement_failure_lines_are_nomads() -> None:
    lines = alloc_metric_lines(METRICS, "  ")
    assert "\n".join(line.content for line in lines) == (
        '  * No nodes are available in datacenter "dc2"\n'
        '  * Class "gpu": 1 nodes excluded by filter\n'
        '  * Constraint "${attr.kernel.name} = windows": 1 nodes excluded by filter\n'
        '  * Constraint "missing drivers": 1 nodes excluded by filter\n'
        "  * Resources exhausted on 1 nodes\n"
        '  * Class "small" exhausted on 1 nodes\n'
        '  * Dimension "memory" exhausted on 1 nodes\n'
        '  * Quota limit hit "cpu exhausted"')
    assert [line.style for line in lines][3] == "error"  # Nomad colours missing drivers red
    assert alloc_metric_lines({"NodesEvaluated": 0})[0].content == \
        "  * No nodes were eligible for evaluation"


def test_score_table_three_significant_digits_alphabetical_scorers() -> None:
    table = score_table({"ScoreMetaData": [
        {"NodeID": "n1", "Scores": {"job-anti-affinity": -0.5, "binpack": 0.123456},
         "NormScore": -0.18827},
        {"NodeID": "n2", "Scores": {"binpack": 0.9}, "NormScore": 0.9}]})
    assert table.text() == (
        "Node  binpack  job-anti-affinity  final score\n"
        "n1    0.123    -0.5               -0.188\n"
        "n2    0.9      0                  0.9")


EVAL = {"ID": "f7c1bd87-0000-4000-8000-000000000000", "Namespace": "default", "Priority": 50,
        "Type": "service", "TriggeredBy": "job-register", "JobID": "web", "Status": "complete",
        "BlockedEval": "0a1b2c3d-0000-4000-8000-000000000000", "CreateTime": T0,
        "ModifyTime": T0 + S,
        "FailedTGAllocs": {"cache": {"NodesEvaluated": 2, "NodesExhausted": 2,
                                     "DimensionExhausted": {"memory": 2},
                                     "CoalescedFailures": 1}}}


def test_eval_status_prints_failed_placements() -> None:
    assert eval_status(EVAL, now=T0 + 63 * S).text() == (
        "ID                 = f7c1bd87\n"
        "Create Time        = 1m3s ago\n"
        "Modify Time        = 1m2s ago\n"
        "Status             = complete\n"
        "Status Description = complete\n"
        "Type               = service\n"
        "TriggeredBy        = job-register\n"
        "Job ID             = web\n"
        "Namespace          = default\n"
        "Priority           = 50\n"
        "Placement Failures = true\n"
        "\n"
        "Failed Placements\n"
        'Task Group "cache" (failed to place 2 allocations):\n'
        "  * Resources exhausted on 2 nodes\n"
        '  * Dimension "memory" exhausted on 2 nodes\n'
        "\n"
        'Evaluation "0a1b2c3d" waiting for additional capacity to place remainder')


ALLOC = {
    "ID": "8ba85cef-1111-4000-8000-000000000000", "EvalID": "61b0b423-2222-4000-8000-000000000000",
    "Name": "web.cache[0]", "NodeID": "171a583b-3333-4000-8000-000000000000",
    "NodeName": "client-1", "JobID": "web", "Job": {"ID": "web", "Version": 2},
    "TaskGroup": "cache", "ClientStatus": "running", "ClientDescription": "Tasks are running",
    "DesiredStatus": "run", "CreateTime": T0, "ModifyTime": T0,
    "AllocatedResources": {"Tasks": {"redis": {"Cpu": {"CpuShares": 500},
                                               "Memory": {"MemoryMB": 256}}},
                           "Shared": {"DiskMB": 300, "Ports": [
                               {"Label": "db", "Value": 6379, "HostIP": "127.0.0.1"}]}},
    "Metrics": {"NodesEvaluated": 2, "NodesFiltered": 1, "AllocationTime": 41_667,
                "ConstraintFiltered": {"missing drivers": 1},
                "ScoreMetaData": [{"NodeID": "171a583b-3333-4000-8000-000000000000",
                                   "Scores": {"binpack": 0.5, "job-anti-affinity": 0},
                                   "NormScore": 0.25}]},
    "TaskStates": {"redis": {"State": "running", "StartedAt": "2025-11-29T22:38:53Z",
                             "Events": [
                                 {"Type": "Received", "Time": T0,
                                  "DisplayMessage": "Task received by client"},
                                 {"Type": "Started", "Time": T0 + S,
                                  "DisplayMessage": "Task started by client"}]}},
}


def test_alloc_status_verbose_has_placement_metrics_and_events() -> None:
    assert alloc_status(ALLOC, verbose=True, now=T0 + 10 * S).text() == (
        "ID                  = 8ba85cef-1111-4000-8000-000000000000\n"
        "Eval ID             = 61b0b423-2222-4000-8000-000000000000\n"
        "Name                = web.cache[0]\n"
        "Node ID             = 171a583b-3333-4000-8000-000000000000\n"
        "Node Name           = client-1\n"
        "Job ID              = web\n"
        "Job Version         = 2\n"
        "Client Status       = running\n"
        "Client Description  = Tasks are running\n"
        "Desired Status      = run\n"
        "Desired Description = <none>\n"
        "Created             = 10s ago\n"
        "Modified            = 10s ago\n"
        "Evaluated Nodes     = 2\n"
        "Filtered Nodes      = 1\n"
        "Exhausted Nodes     = 0\n"
        "Allocation Time     = 41.667µs\n"
        "Failures            = 0\n"
        "\n"
        'Task "redis" is "running"\n'
        "Task Resources:\n"
        "CPU      Memory   Disk     Addresses\n"
        "500 MHz  256 MiB  300 MiB  db: 127.0.0.1:6379\n"
        "\n"
        "Task Events:\n"
        "Started At     = 2025-11-29T22:38:53Z\n"
        "Finished At    = N/A\n"
        "Total Restarts = 0\n"
        "Last Restart   = N/A\n"
        "\n"
        "Recent Events:\n"
        "Time                  Type      Description\n"
        "2025-11-29T22:38:53Z  Started   Task started by client\n"
        "2025-11-29T22:38:52Z  Received  Task received by client\n"
        "\n"
        "Placement Metrics\n"
        '  * Constraint "missing drivers": 1 nodes excluded by filter\n'
        "Node                                  binpack  job-anti-affinity  final score\n"
        "171a583b-3333-4000-8000-000000000000  0.5      0                  0.25")


def test_alloc_status_short_ids_without_verbose() -> None:
    text = alloc_status(ALLOC, now=T0).text()
    assert text.startswith("ID                  = 8ba85cef\nEval ID             = 61b0b423\n")
    assert "Placement Metrics" not in text


JOB = {"ID": "web", "Name": "web", "Type": "service", "Priority": 50, "Datacenters": ["dc1"],
       "Namespace": "default", "NodePool": "default", "Status": "running", "SubmitTime": T0}


def test_job_status_with_summary_failures_and_allocations() -> None:
    summary = {"Summary": {"cache": {"Running": 1, "Queued": 2}}}
    stub = {k: ALLOC[k] for k in ("ID", "NodeID", "TaskGroup", "DesiredStatus", "ClientStatus",
                                  "CreateTime", "ModifyTime")}
    stub["JobVersion"] = 0
    blocked = {"ID": "b", "Status": "blocked", "CreateIndex": 9}
    text = job_status(JOB, summary, [stub], [EVAL, blocked], now=T0 + 326 * S).text()
    assert text == (
        "ID            = web\n"
        "Name          = web\n"
        "Submit Date   = 2025-11-29T22:38:52Z\n"
        "Type          = service\n"
        "Priority      = 50\n"
        "Datacenters   = dc1\n"
        "Namespace     = default\n"
        "Node Pool     = default\n"
        "Status        = running\n"
        "Periodic      = false\n"
        "Parameterized = false\n"
        "\n"
        "Summary\n"
        "Task Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\n"
        "cache       2       0         1        0       0         0     0\n"
        "\n"
        "Placement Failure\n"
        'Task Group "cache":\n'
        "  * Resources exhausted on 2 nodes\n"
        '  * Dimension "memory" exhausted on 2 nodes\n'
        "\n"
        "Allocations\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created    Modified\n"
        "8ba85cef  171a583b  cache       0        run      running  5m26s ago  5m26s ago")


def test_job_list_and_stopped_status() -> None:
    assert job_list([JOB, {**JOB, "ID": "old", "Status": "dead", "Stop": True}]).text() == (
        "ID   Type     Priority  Status          Submit Date\n"
        "web  service  50        running         2025-11-29T22:38:52Z\n"
        "old  service  50        dead (stopped)  2025-11-29T22:38:52Z")
    assert job_list([]).text() == "No running jobs"


def test_job_history() -> None:
    assert job_history([{"Version": 1, "Stable": False, "SubmitTime": T0 + S},
                        {"Version": 0, "Stable": True, "SubmitTime": T0}]).text() == (
        "Version     = 1\nStable      = false\nSubmit Date = 2025-11-29T22:38:53Z\n\n"
        "Version     = 0\nStable      = true\nSubmit Date = 2025-11-29T22:38:52Z")


def test_node_list() -> None:
    node = {"ID": "171a583b-3333", "NodePool": "default", "Datacenter": "dc1", "Name": "client-1",
            "NodeClass": "", "Drain": False, "SchedulingEligibility": "eligible", "Status": "ready"}
    assert node_list([node]).text() == (
        "ID        Node Pool  DC   Name      Class   Drain  Eligibility  Status\n"
        "171a583b  default    dc1  client-1  <none>  false  eligible     ready")


def _field(kind: str, name: str, old: str, new: str) -> dict:
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": None}


def test_plan_diff_and_dry_run_for_an_edit() -> None:
    diff = {"Type": "Edited", "ID": "web", "Fields": [], "Objects": [], "TaskGroups": [{
        "Type": "Edited", "Name": "cache", "Fields": [_field("Edited", "Count", "1", "3")],
        "Objects": [], "Updates": {"create": 2, "create/destroy update": 1},
        "Tasks": [{"Type": "Edited", "Name": "redis", "Annotations": ["forces create/destroy update"],
                   "Fields": [_field("Edited", "Config[image]", "redis:6", "redis:7"),
                              _field("Added", "Env[MODE]", "", "fast")],
                   "Objects": [{"Type": "Added", "Name": "Resources",
                                "Fields": [_field("Added", "CPU", "", "100")], "Objects": []}]}]}]}
    resp = {"Diff": diff, "JobModifyIndex": 7, "FailedTGAllocs": {},
            "Annotations": {"DesiredTGUpdates": {"cache": {"Place": 2, "DestructiveUpdate": 1}}}}
    assert plan_output(resp, "service", "web.nomad.hcl").text() == (
        '+/- Job: "web"\n'
        '+/- Task Group: "cache" (2 create, 1 create/destroy update)\n'
        '  +/- Count: "1" => "3"\n'
        '  +/- Task: "redis" (forces create/destroy update)\n'
        '    +/- Config[image]: "redis:6" => "redis:7"\n'
        '    +   Env[MODE]:     "fast"\n'
        "    +   Resources {\n"
        '        + CPU: "100"\n'
        "        }\n"
        "\n"
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "\n"
        "Job Modify Index: 7\n"
        "To submit the job with version verification run:\n"
        "\n"
        "nomad job run -check-index 7 web.nomad.hcl\n"
        "\n"
        "When running the job with the check-index flag, the job will only be run if the\n"
        "job modify index given matches the server-side version. If the index has\n"
        "changed, another user has modified the job and the plan's results are\n"
        "potentially invalid.")
    assert plan_exit_code(resp) == 1
    lines = job_diff_lines(diff)
    assert [line.style for line in lines][:3] == ["edited", "edited", "edited"]


def test_plan_of_a_new_job_that_does_not_fit() -> None:
    diff = {"Type": "Added", "ID": "big", "Fields": [], "Objects": [], "TaskGroups": [
        {"Type": "Added", "Name": "g", "Fields": [], "Objects": [], "Updates": {"create": 3},
         "Tasks": [{"Type": "Added", "Name": "t", "Fields": [], "Objects": [], "Annotations": None}]}]}
    resp = {"Diff": diff, "JobModifyIndex": 0,
            "FailedTGAllocs": {"g": {"NodesEvaluated": 1, "NodesExhausted": 1,
                                     "DimensionExhausted": {"memory": 1}, "CoalescedFailures": 2}},
            "Annotations": {"DesiredTGUpdates": {"g": {"Place": 3}}}}
    text = plan_output(resp).text()
    assert text.split("\nJob Modify Index")[0] == (
        '+ Job: "big"\n'
        '+ Task Group: "g" (3 create)\n'
        '  + Task: "t"\n'
        "\n"
        "Scheduler dry-run:\n"
        "- WARNING: Failed to place all allocations.\n"
        '  Task Group "g" (failed to place 3 allocations):\n'
        "    * Resources exhausted on 1 nodes\n"
        '    * Dimension "memory" exhausted on 1 nodes\n')
    assert plan_exit_code({"Annotations": {"DesiredTGUpdates": {"g": {"Ignore": 3}}}}) == 0


def test_document_html_is_tables_and_escaped() -> None:
    doc = Document([KV([("Name", "<web>")]), Table(["A", "B"], [["1", ""]]),
                    Line("+ added", "added")])
    html = doc._repr_html_()
    assert "&lt;web&gt;" in html and "<table" in html and "&lt;none&gt;" in html
    assert "color:#2e7d32" in html
    assert str(doc) == doc.text()
