"""Does a job change force an allocation to be replaced? A port of Nomad's ``tasksUpdated``.

Nomad (``scheduler/util.go``) compares the task group an allocation runs with the same
group in the new job version. A difference in anything a running task cannot pick up
without being restarted from scratch -- driver, config, env, user, artifacts, templates,
volume mounts, CPU/memory/cores/devices, networks and ports, the group's ephemeral disk
and volumes, affinities and spreads, meta (job, group and task meta combined), log
collection on/off and ``restart.render_templates`` -- is *destructive*: the old alloc is
stopped and a new one placed. Everything else (count, constraints, services, restart and
reschedule policies, kill timeout, update block, ...) can be applied in place; count
changes are never an update at all. Constraints are left out on purpose: the scheduler
re-checks the node when it tries the in-place update.

The answer names the first difference found, as Nomad's ``comparison`` does, so a trace
can say *why* an allocation was replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..structs import APIStruct, Job, NetworkResource, Resources, RestartPolicy, TaskGroup

__all__ = ["Comparison", "tasks_updated", "combined_task_meta", "SAME"]


@dataclass(frozen=True)
class Comparison:
    """The first destructive difference between two versions of a group, if any."""

    modified: bool
    label: str = ""
    before: Any = None
    after: Any = None

    def __bool__(self) -> bool:
        return self.modified

    def __str__(self) -> str:
        if not self.modified:
            return "no destructive change"
        return f"{self.label} changed; before: {self.before!r}, after: {self.after!r}"


SAME = Comparison(modified=False)


def _difference(label: str, before: Any, after: Any) -> Comparison:
    return Comparison(True, label, before, after)


def _api(value: Any) -> Any:
    """A struct (or list of them) as comparable JSON; ``None`` and empty compare equal."""
    if isinstance(value, APIStruct):
        return value.to_api()
    if isinstance(value, (list, tuple)):
        return [_api(v) for v in value]
    if isinstance(value, dict):
        return {k: _api(v) for k, v in value.items()}
    return value


def combined_task_meta(job: Job, group: TaskGroup, task_name: str) -> dict[str, str]:
    """Nomad's ``Job.CombinedTaskMeta``: task meta over group meta over job meta."""
    meta: dict[str, str] = {}
    for task in group.tasks:
        if task.name == task_name:
            meta.update(task.meta)
    for key, value in group.meta.items():
        meta.setdefault(key, value)
    for key, value in job.meta.items():
        meta.setdefault(key, value)
    return meta


def _lookup_group(job: Job, name: str) -> Optional[TaskGroup]:
    return next((g for g in job.task_groups if g.name == name), None)


def tasks_updated(new_job: Job, old_job: Job, group_name: str) -> Comparison:
    """Whether ``group_name`` changed destructively between ``old_job`` and ``new_job``.

    Argument order follows Nomad's ``tasksUpdated(jobA=new, jobB=existing, group)``.
    A group missing from either job is a destructive difference.
    """
    a = _lookup_group(new_job, group_name)
    b = _lookup_group(old_job, group_name)
    if a is None or b is None:
        return _difference("task group", b is not None, a is not None)

    if len(a.tasks) != len(b.tasks):
        return _difference("number of tasks", len(a.tasks), len(b.tasks))
    if _api(a.ephemeral_disk) != _api(b.ephemeral_disk):
        return _difference("ephemeral disk", a.ephemeral_disk, b.ephemeral_disk)
    if c := _networks_updated(a.networks, b.networks):
        return c
    if c := _affinities_updated(new_job, a, old_job, b):
        return c
    if c := _spreads_updated(new_job, a, old_job, b):
        return c
    if _api(a.volumes) != _api(b.volumes):
        return _difference("volume request", a.volumes, b.volumes)
    if c := _render_templates_updated(a.restart_policy, b.restart_policy,
                                      "group restart render_templates"):
        return c

    old_tasks = {t.name: t for t in b.tasks}
    for at in a.tasks:
        bt = old_tasks.get(at.name)
        if bt is None:
            return _difference("task deleted", at.name, None)
        if at.driver != bt.driver:
            return _difference("task driver", at.driver, bt.driver)
        if at.user != bt.user:
            return _difference("task user", at.user, bt.user)
        if (at.config or {}) != (bt.config or {}):
            return _difference("task config", at.config, bt.config)
        if (at.env or {}) != (bt.env or {}):
            return _difference("task env", at.env, bt.env)
        if _api(at.artifacts) != _api(bt.artifacts):
            return _difference("task artifacts", at.artifacts, bt.artifacts)
        if _api(at.templates) != _api(bt.templates):
            return _difference("task templates", at.templates, bt.templates)
        if _api(at.volume_mounts) != _api(bt.volume_mounts):
            return _difference("task volume mount", at.volume_mounts, bt.volume_mounts)
        meta_a = combined_task_meta(new_job, a, at.name)
        meta_b = combined_task_meta(old_job, b, bt.name)
        if meta_a != meta_b:
            return _difference("task meta", meta_a, meta_b)
        ra, rb = at.resources or Resources(), bt.resources or Resources()
        if c := _networks_updated(ra.networks, rb.networks):
            return c
        if c := _non_network_resources_updated(ra, rb):
            return c
        disabled_a = bool(at.log_config and at.log_config.disabled)
        disabled_b = bool(bt.log_config and bt.log_config.disabled)
        if disabled_a != disabled_b:
            return _difference("task log disabled", disabled_a, disabled_b)
        if c := _render_templates_updated(at.restart_policy, bt.restart_policy,
                                          "task restart render_templates"):
            return c
    return SAME


def _non_network_resources_updated(a: Resources, b: Resources) -> Comparison:
    for label, attr in (("task cpu", "cpu"), ("task cores", "cores"),
                        ("task memory", "memory_mb"), ("task memory max", "memory_max_mb")):
        va, vb = getattr(a, attr) or 0, getattr(b, attr) or 0
        if va != vb:
            return _difference(label, va, vb)
    if _api(a.devices) != _api(b.devices):
        return _difference("task devices", a.devices, b.devices)
    return SAME


def _port_map(network: NetworkResource) -> list[tuple[str, int, int, str]]:
    """Nomad's ``networkPortMap``: dynamic ports compare by label and ``to``, not value."""
    ports = [(p.label, p.value, p.to, p.host_network) for p in network.reserved_ports]
    ports += [(p.label, -1, p.to, p.host_network) for p in network.dynamic_ports]
    return sorted(ports)


def _networks_updated(nets_a: Sequence[NetworkResource],
                      nets_b: Sequence[NetworkResource]) -> Comparison:
    if len(nets_a) != len(nets_b):
        return _difference("network lengths", len(nets_a), len(nets_b))
    for an, bn in zip(nets_a, nets_b, strict=True):
        if an.mode != bn.mode:
            return _difference("network mode", an.mode, bn.mode)
        if an.mbits != bn.mbits:
            return _difference("network mbits", an.mbits, bn.mbits)
        if an.hostname != bn.hostname:
            return _difference("network hostname", an.hostname, bn.hostname)
        if _api(an.dns) != _api(bn.dns):
            return _difference("network dns", an.dns, bn.dns)
        ports_a, ports_b = _port_map(an), _port_map(bn)
        if ports_a != ports_b:
            return _difference("network port map", ports_a, ports_b)
    return SAME


def _affinities_updated(job_a: Job, a: TaskGroup, job_b: Job, b: TaskGroup) -> Comparison:
    aff_a = [*job_a.affinities, *a.affinities, *(x for t in a.tasks for x in t.affinities)]
    aff_b = [*job_b.affinities, *b.affinities, *(x for t in b.tasks for x in t.affinities)]
    if _api(aff_a) != _api(aff_b):
        return _difference("affinities", aff_a, aff_b)
    return SAME


def _spreads_updated(job_a: Job, a: TaskGroup, job_b: Job, b: TaskGroup) -> Comparison:
    spreads_a = [*job_a.spreads, *a.spreads]
    spreads_b = [*job_b.spreads, *b.spreads]
    if _api(spreads_a) != _api(spreads_b):
        return _difference("spreads", spreads_a, spreads_b)
    return SAME


def _render_templates_updated(a: Optional[RestartPolicy], b: Optional[RestartPolicy],
                              label: str) -> Comparison:
    render_a = bool(a and a.render_templates)
    render_b = bool(b and b.render_templates)
    if render_a != render_b:
        return _difference(label, render_a, render_b)
    return SAME
