"""Which job changes replace allocations (destructive) and which update them in place."""

from __future__ import annotations

import copy
from typing import Callable

import pytest
from factories import make_job

from nomadlab.structs import (Affinity, Constraint, EphemeralDisk, Job, NetworkResource, Port,
                              Service, Spread, TaskArtifact, Template, VolumeMount,
                              VolumeRequest)
from nomadlab.scheduler.tasks_updated import tasks_updated


def changed(edit: Callable[[Job], None]) -> tuple[Job, Job]:
    old = make_job(1)
    new = copy.deepcopy(old)
    edit(new)
    return old, new


def task(job: Job):
    return job.task_groups[0].tasks[0]


DESTRUCTIVE = {
    "driver": lambda j: setattr(task(j), "driver", "exec"),
    "config": lambda j: task(j).config.update(image="nginx:1.26"),
    "env": lambda j: task(j).env.update(MODE="prod"),
    "user": lambda j: setattr(task(j), "user", "nobody"),
    "artifacts": lambda j: task(j).artifacts.append(TaskArtifact(getter_source="http://x/y")),
    "templates": lambda j: task(j).templates.append(Template(embedded_tmpl="hi")),
    "cpu": lambda j: setattr(task(j).resources, "cpu", 200),
    "memory": lambda j: setattr(task(j).resources, "memory_mb", 256),
    "cores": lambda j: setattr(task(j).resources, "cores", 2),
    "memory_max": lambda j: setattr(task(j).resources, "memory_max_mb", 512),
    "group network port": lambda j: j.task_groups[0].networks.append(
        NetworkResource(dynamic_ports=[Port(label="http")])),
    "task network": lambda j: task(j).resources.networks.append(NetworkResource(mbits=10)),
    "volume mount": lambda j: task(j).volume_mounts.append(VolumeMount(volume="data",
                                                                       destination="/d")),
    "group volume": lambda j: j.task_groups[0].volumes.update(
        data=VolumeRequest(name="data", type="host", source="data")),
    "ephemeral disk": lambda j: setattr(j.task_groups[0], "ephemeral_disk",
                                        EphemeralDisk(size_mb=500)),
    "task meta": lambda j: task(j).meta.update(owner="me"),
    "group meta": lambda j: j.task_groups[0].meta.update(owner="me"),
    "job meta": lambda j: j.meta.update(owner="me"),
    "affinity": lambda j: j.affinities.append(Affinity(ltarget="${node.class}", rtarget="big",
                                                       weight=50)),
    "spread": lambda j: j.task_groups[0].spreads.append(Spread(attribute="${node.datacenter}")),
    "log disabled": lambda j: setattr(task(j).log_config, "disabled", True),
    "render templates": lambda j: setattr(task(j).restart_policy, "render_templates", True),
    "task renamed": lambda j: setattr(task(j), "name", "other"),
}

IN_PLACE = {
    "count": lambda j: setattr(j.task_groups[0], "count", 7),
    "constraint": lambda j: j.constraints.append(Constraint(ltarget="${attr.kernel.name}",
                                                            rtarget="linux")),
    "service": lambda j: task(j).services.append(Service(name="web", tags=["v2"])),
    "restart attempts": lambda j: setattr(task(j).restart_policy, "attempts", 9),
    "kill timeout": lambda j: setattr(task(j), "kill_timeout", 30_000_000_000),
    "log max files": lambda j: setattr(task(j).log_config, "max_files", 3),
    "reschedule policy": lambda j: setattr(j.task_groups[0].reschedule_policy, "delay", 1),
    "job version": lambda j: setattr(j, "version", j.version + 1),
}


@pytest.mark.parametrize("name", sorted(DESTRUCTIVE))
def test_destructive_changes(name):
    old, new = changed(DESTRUCTIVE[name])
    result = tasks_updated(new, old, "web")
    assert result.modified, name
    assert result.label and result.label in str(result)


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_changes(name):
    old, new = changed(IN_PLACE[name])
    assert not tasks_updated(new, old, "web"), str(tasks_updated(new, old, "web"))


def test_dynamic_port_values_are_not_compared():
    old = make_job(1)
    old.task_groups[0].networks.append(NetworkResource(dynamic_ports=[Port(label="http")]))
    new = copy.deepcopy(old)
    new.task_groups[0].networks[0].dynamic_ports[0].value = 23456
    assert not tasks_updated(new, old, "web")
    new.task_groups[0].networks[0].dynamic_ports[0].to = 8080
    assert tasks_updated(new, old, "web").label == "network port map"


def test_first_difference_is_named():
    old, new = changed(lambda j: task(j).env.update(A="1"))
    result = tasks_updated(new, old, "web")
    assert result.label == "task env"
    assert "task env changed" in str(result)


def test_missing_group_is_destructive():
    old = make_job(1)
    new = make_job(1, groups=("api",))
    assert tasks_updated(new, old, "web")
