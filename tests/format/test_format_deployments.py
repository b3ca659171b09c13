"""``nomad deployment list`` / ``status`` and the Deployed table, from Nomad's API JSON."""

from __future__ import annotations

from nomadlab.format import deployed_table, deployment_list, deployment_status, job_history
from nomadlab.format.deployment import has_auto_revert

CANARY = {
    "ID": "5d3f4a9e-6c7b-4f1e-9d2a-0b1c2d3e4f50", "JobID": "web", "JobVersion": 2,
    "Status": "running",
    "StatusDescription": "Deployment is running but requires manual promotion",
    "TaskGroups": {
        "web": {"AutoRevert": True, "Promoted": False, "DesiredCanaries": 1,
                "DesiredTotal": 3, "PlacedAllocs": 1, "HealthyAllocs": 1, "UnhealthyAllocs": 0,
                "ProgressDeadline": 600_000_000_000, "RequireProgressBy": "0001-01-01T00:00:00Z"},
        "api": {"AutoRevert": False, "DesiredCanaries": 0, "DesiredTotal": 2,
                "PlacedAllocs": 2, "HealthyAllocs": 2, "UnhealthyAllocs": 0,
                "ProgressDeadline": 0}},
}


def test_deployed_table_columns_appear_only_when_a_group_uses_them() -> None:
    assert deployed_table(CANARY).text().split("\n") == [
        "Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  "
        "Progress Deadline",
        "api         false        N/A       2        0         2       2        0          N/A",
        "web         true         false     3        1         1       1        0          N/A"]
    plain = {"TaskGroups": {"g": {"DesiredTotal": 1, "PlacedAllocs": 1, "HealthyAllocs": 1}}}
    assert deployed_table(plain).text() == ("Task Group  Desired  Placed  Healthy  Unhealthy\n"
                                           "g           1        1       1        0")
    assert has_auto_revert(CANARY) and not has_auto_revert(plain)


def test_deployment_status_and_list() -> None:
    text = deployment_status(CANARY).text()
    assert text.startswith("ID          = 5d3f4a9e\nJob ID      = web\nJob Version = 2\n"
                           "Status      = running\nDescription = Deployment is running but "
                           "requires manual promotion\n\nDeployed\nTask Group  Auto Revert")
    full = deployment_status(CANARY, None).text()
    assert full.startswith(f"ID          = {CANARY['ID']}\n")
    no_groups = deployment_status({**CANARY, "TaskGroups": {}}).text()
    assert "Deployed" not in no_groups
    assert deployment_list([]).text() == "No deployments found"
    assert deployment_list([CANARY]).text() == (
        "ID        Job ID  Job Version  Status   Description\n"
        "5d3f4a9e  web     2            running  Deployment is running but requires manual "
        "promotion")


def test_history_with_diffs_puts_the_diff_in_the_key_value_block() -> None:
    versions = [{"Version": 1, "Stable": False, "SubmitTime": 0},
                {"Version": 0, "Stable": True, "SubmitTime": 0}]
    diff = {"Type": "Edited", "ID": "web", "Fields": [], "Objects": [], "TaskGroups": [
        {"Type": "Edited", "Name": "web", "Fields": [], "Tasks": [], "Updates": None,
         "Objects": [{"Type": "Edited", "Name": "Update", "Objects": [], "Fields": [
             {"Type": "Edited", "Name": "Canary", "Old": "0", "New": "1",
              "Annotations": None}]}]}]}
    assert job_history(versions, [diff, None]).text().split("\n") == [
        "Version     = 1", "Stable      = false", "Submit Date = <none>", "Diff        =",
        '+/- Job: "web"', '+/- Task Group: "web"', "  +/- Update {",
        '    +/- Canary: "0" => "1"', "      }", "", "Version     = 0", "Stable      = true",
        "Submit Date = <none>"]
