"""Nomad's defaults per job type, and how job, group and task blocks merge."""

from __future__ import annotations

import pytest

import nomadlab as nl
from nomadlab.structs.duration import HOUR, MINUTE, SECOND


def job(body: str = "", group: str = "", task: str = "", type_: str = "service") -> nl.Job:
    return nl.parse_job(f'job "j" {{\n type = "{type_}"\n {body}\n group "g" {{\n {group}\n'
                        f' task "t" {{\n driver = "exec"\n {task}\n }}\n }}\n}}\n')


def test_job_level_defaults() -> None:
    j = job()
    assert (j.name, j.namespace, j.region, j.priority, j.datacenters, j.node_pool) == \
        ("j", "default", "global", 50, ["*"], "default")
    t = j.task_groups[0].tasks[0]
    assert (t.resources.cpu, t.resources.memory_mb, t.kill_timeout) == (100, 300, 5 * SECOND)
    assert j.task_groups[0].count == 1 and j.task_groups[0].ephemeral_disk.size_mb == 300


@pytest.mark.parametrize("type_, attempts, interval", [
    ("service", 2, 30 * MINUTE), ("system", 2, 30 * MINUTE),
    ("batch", 3, 24 * HOUR), ("sysbatch", 3, 24 * HOUR),
])
def test_restart_policy_per_type(type_: str, attempts: int, interval: int) -> None:
    policy = job(type_=type_).task_groups[0].restart_policy
    assert (policy.attempts, policy.interval, policy.delay, policy.mode) == \
        (attempts, interval, 15 * SECOND, "fail")


def test_reschedule_policy_per_type() -> None:
    service = job().task_groups[0].reschedule_policy
    assert (service.delay, service.delay_function, service.max_delay, service.unlimited) == \
        (30 * SECOND, "exponential", HOUR, True)
    batch = job(type_="batch").task_groups[0].reschedule_policy
    assert (batch.attempts, batch.interval, batch.delay, batch.delay_function, batch.unlimited) == \
        (1, 24 * HOUR, 5 * SECOND, "constant", False)
    assert job(type_="system").task_groups[0].reschedule_policy is None


def test_update_only_for_service_jobs_by_default() -> None:
    assert job().task_groups[0].update.max_parallel == 1
    assert job().task_groups[0].update.healthy_deadline == 5 * MINUTE
    assert job(type_="batch").task_groups[0].update is None


def test_job_update_is_copied_into_groups_and_the_group_wins() -> None:
    j = job(body='update {\n max_parallel = 3\n canary = 1\n }', group='update { canary = 2 }')
    update = j.task_groups[0].update
    assert (update.max_parallel, update.canary, update.stagger) == (3, 2, 30 * SECOND)


def test_task_restart_merges_over_the_groups() -> None:
    j = job(group='restart {\n attempts = 5\n delay = "1s"\n }', task='restart { attempts = 1 }')
    group, task = j.task_groups[0], j.task_groups[0].tasks[0]
    assert (group.restart_policy.attempts, group.restart_policy.delay) == (5, SECOND)
    assert (task.restart_policy.attempts, task.restart_policy.delay,
            task.restart_policy.interval) == (1, SECOND, 30 * MINUTE)


def test_cores_instead_of_cpu() -> None:
    r = job(task="resources { cores = 2 }").task_groups[0].tasks[0].resources
    assert (r.cores, r.cpu) == (2, 0)


def test_affinity_and_spread_weights_default_to_50() -> None:
    j = job(group='affinity {\n attribute = "${meta.rack}"\n value = "r1"\n }\n'
                  'spread { attribute = "${node.datacenter}" }')
    assert j.task_groups[0].affinities[0].weight == 50
    assert j.task_groups[0].spreads[0].weight == 50


def test_services_get_nomads_default_names() -> None:
    j = job(group='network {\n port "http" {}\n }\nservice { port = "http" }',
            task='service { port = "http" }')
    assert j.task_groups[0].services[0].name == "j-g"
    assert j.task_groups[0].tasks[0].services[0].name == "j-g-t"


def test_interpolation_is_left_intact() -> None:
    j = job(task='env { HOST = "${attr.unique.hostname}" }\n'
                 'config { args = ["${NOMAD_PORT_http}", "${meta.rack}"] }')
    t = j.task_groups[0].tasks[0]
    assert t.env == {"HOST": "${attr.unique.hostname}"}
    assert t.config["args"] == ["${NOMAD_PORT_http}", "${meta.rack}"]
