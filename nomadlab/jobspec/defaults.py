"""Nomad's defaults, filled in the way ``api.Job.Canonicalize`` does it, per job type.

Everything here mirrors Nomad's ``api/jobs.go`` and ``api/tasks.go``: a job-level
``update``/``migrate``/``reschedule`` block is copied into each group and merged with
the group's own (group wins); a group's ``restart`` is merged over the job type's
default and then into each task's.  The job is changed in place.
"""

from __future__ import annotations

import copy
import dataclasses
import posixpath
from typing import Optional, TypeVar

from ..structs import (Affinity, CheckRestart, EphemeralDisk, Job, LogConfig, MigrateStrategy,
                       ReschedulePolicy, Resources, RestartPolicy, Service, Spread, Task,
                       TaskGroup, Template, UpdateStrategy)
from ..structs.duration import HOUR, MINUTE, SECOND
from ..structs.resources import DEFAULT_CPU, DEFAULT_DISK_MB, DEFAULT_MEMORY_MB

__all__ = ["canonicalize", "default_restart_policy", "default_reschedule_policy",
           "DEFAULT_UPDATE", "DEFAULT_MIGRATE", "DEFAULT_CPU", "DEFAULT_MEMORY_MB"]

DEFAULT_KILL_TIMEOUT = 5 * SECOND

DEFAULT_UPDATE = UpdateStrategy(
    stagger=30 * SECOND, max_parallel=1, health_check="checks", min_healthy_time=10 * SECOND,
    healthy_deadline=5 * MINUTE, progress_deadline=10 * MINUTE, auto_revert=False,
    auto_promote=False, canary=0,
)
DEFAULT_MIGRATE = MigrateStrategy(max_parallel=1, health_check="checks",
                                  min_healthy_time=10 * SECOND, healthy_deadline=5 * MINUTE)

S = TypeVar("S")


def default_restart_policy(job_type: str) -> RestartPolicy:
    """Service and system tasks: 2 attempts in 30m; batch and sysbatch: 3 in 24h."""
    if job_type in ("service", "system"):
        return RestartPolicy(attempts=2, interval=30 * MINUTE, delay=15 * SECOND, mode="fail",
                             render_templates=False)
    return RestartPolicy(attempts=3, interval=24 * HOUR, delay=15 * SECOND, mode="fail",
                         render_templates=False)


def default_reschedule_policy(job_type: str) -> ReschedulePolicy:
    """Service: unlimited, exponential from 30s to 1h. Batch: once in 24h after 5s.

    Any other type gets an all-zero policy (Nomad gives sysbatch one; system none)."""
    if job_type == "service":
        return ReschedulePolicy(attempts=0, interval=0, delay=30 * SECOND,
                                delay_function="exponential", max_delay=HOUR, unlimited=True)
    if job_type == "batch":
        return ReschedulePolicy(attempts=1, interval=24 * HOUR, delay=5 * SECOND,
                                delay_function="constant", max_delay=0, unlimited=False)
    return ReschedulePolicy(attempts=0, interval=0, delay=0, delay_function="", max_delay=0,
                            unlimited=False)


def _merge(base: S, override: Optional[S]) -> S:
    """``base`` with every field that ``override`` sets (not None) replaced, like Go's Merge."""
    merged = copy.deepcopy(base)
    if override is not None:
        for f in dataclasses.fields(override):  # type: ignore[arg-type]
            value = getattr(override, f.name)
            if value is not None and f.name != "extra":
                setattr(merged, f.name, copy.deepcopy(value))
    return merged


def _is_empty(strategy: UpdateStrategy) -> bool:
    return all(getattr(strategy, f.name) is None for f in dataclasses.fields(strategy)
               if f.name != "extra")


def canonicalize(job: Job) -> Job:
    """Fill Nomad's defaults into ``job`` (in place) and return it."""
    job.name = job.name or job.id
    job.namespace = job.namespace or "default"
    job.region = job.region or "global"
    job.type = job.type or "service"
    job.priority = 50 if job.priority is None else job.priority
    job.all_at_once = bool(job.all_at_once)
    job.node_pool = job.node_pool or "default"
    if not job.datacenters:
        job.datacenters = ["*"]
    if job.update is not None:
        job.update = _merge(DEFAULT_UPDATE, job.update)
    elif job.type == "service":
        job.update = copy.deepcopy(DEFAULT_UPDATE)
    if job.periodic is not None:
        job.periodic.enabled = True if job.periodic.enabled is None else job.periodic.enabled
        job.periodic.spec_type = job.periodic.spec_type or "cron"
        job.periodic.prohibit_overlap = bool(job.periodic.prohibit_overlap)
        job.periodic.time_zone = job.periodic.time_zone or "UTC"
    if job.parameterized_job is not None:
        job.parameterized_job.payload = job.parameterized_job.payload or "optional"
    for affinity in job.affinities:
        _affinity(affinity)
    for spread in job.spreads:
        _spread(spread)
    for group in job.task_groups:
        _group(group, job)
    return job


def _affinity(affinity: Affinity) -> None:
    if affinity.weight is None:
        affinity.weight = 50


def _spread(spread: Spread) -> None:
    if spread.weight is None:
        spread.weight = 50


def _group(group: TaskGroup, job: Job) -> None:
    job_type = job.type or "service"
    if group.count is None:
        group.count = 1
    group.ephemeral_disk = _merge(EphemeralDisk(sticky=False, migrate=False, size_mb=DEFAULT_DISK_MB),
                                  group.ephemeral_disk)
    if job.update is not None and group.update is not None:
        group.update = _merge(job.update, group.update)
    elif job.update is not None and not _is_empty(job.update):
        group.update = copy.deepcopy(job.update)
    if group.update is not None:
        group.update = _merge(DEFAULT_UPDATE, group.update)

    if job.reschedule is not None:
        group.reschedule_policy = _merge(job.reschedule, group.reschedule_policy)
    if group.reschedule_policy is None and job_type != "system":
        group.reschedule_policy = default_reschedule_policy(job_type)
    if group.reschedule_policy is not None:
        group.reschedule_policy = _merge(default_reschedule_policy(job_type), group.reschedule_policy)

    if job.migrate is not None:
        group.migrate = _merge(job.migrate, group.migrate)
    if group.migrate is None and job_type == "service":
        group.migrate = MigrateStrategy()
    if group.migrate is not None:
        group.migrate = _merge(DEFAULT_MIGRATE, group.migrate)

    group.restart_policy = _merge(default_restart_policy(job_type), group.restart_policy)
    for task in group.tasks:
        _task(task, group, job)
    for affinity in group.affinities:
        _affinity(affinity)
    for spread in group.spreads:
        _spread(spread)
    if group.disconnect is not None:
        group.disconnect.replace = True if group.disconnect.replace is None \
            else group.disconnect.replace
        group.disconnect.reconcile = group.disconnect.reconcile or "best_score"
    for service in group.services:
        _service(service, f"{job.name}-{group.name}")


def _task(task: Task, group: TaskGroup, job: Job) -> None:
    resources = task.resources or Resources()
    if resources.cores is None:
        resources.cores = 0
        if resources.cpu is None:
            resources.cpu = DEFAULT_CPU
    if resources.cpu is None:  # cores were asked for instead of MHz
        resources.cpu = 0
    if resources.memory_mb is None:
        resources.memory_mb = DEFAULT_MEMORY_MB
    for device in resources.devices:
        device.count = 1 if device.count is None else device.count
    task.resources = resources
    if task.kill_timeout is None:
        task.kill_timeout = DEFAULT_KILL_TIMEOUT
    task.log_config = _merge(LogConfig(max_files=10, max_file_size_mb=10, disabled=False),
                             task.log_config)
    for artifact in task.artifacts:
        artifact.getter_mode = artifact.getter_mode or "any"
        artifact.getter_source = artifact.getter_source or ""
        if artifact.relative_dest is None:
            if artifact.getter_mode == "file":
                name = posixpath.basename(artifact.getter_source.rstrip("/"))  # Go's path.Base
                artifact.relative_dest = f"local/{name}"
            else:
                artifact.relative_dest = "local/"
    for template in task.templates:
        _template(template)
    for service in task.services:
        _service(service, f"{job.name}-{group.name}-{task.name}")
    for affinity in task.affinities:
        _affinity(affinity)
    for mount in task.volume_mounts:
        mount.read_only = bool(mount.read_only)
        mount.propagation_mode = mount.propagation_mode or "private"
    if task.lifecycle is not None and not task.lifecycle.hook:
        task.lifecycle = None
    assert group.restart_policy is not None
    task.restart_policy = _merge(group.restart_policy, task.restart_policy)


def _template(template: Template) -> None:
    template.source_path = template.source_path or ""
    template.dest_path = template.dest_path or ""
    template.embedded_tmpl = template.embedded_tmpl if template.embedded_tmpl is not None else ""
    template.change_mode = template.change_mode or "restart"
    if template.change_signal is None:
        template.change_signal = "SIGHUP" if template.change_mode == "signal" else ""
    else:
        template.change_signal = template.change_signal.upper()
    template.splay = 5 * SECOND if template.splay is None else template.splay
    template.perms = template.perms or "0644"
    template.left_delim = template.left_delim or "{{"
    template.right_delim = template.right_delim or "}}"
    template.envvars = bool(template.envvars)


def _service(service: Service, default_name: str) -> None:
    service.name = service.name or default_name
    service.provider = service.provider or "consul"
    service.address_mode = service.address_mode or "auto"
    service.on_update = service.on_update or "require_healthy"
    for check in service.checks:
        check.on_update = check.on_update or service.on_update
        if service.check_restart is not None:
            check.check_restart = _merge_check_restart(service.check_restart, check.check_restart)
        if check.check_restart is not None and check.check_restart.grace is None:
            check.check_restart.grace = SECOND
    if service.check_restart is not None and service.check_restart.grace is None:
        service.check_restart.grace = SECOND


def _merge_check_restart(service: CheckRestart, check: Optional[CheckRestart]) -> CheckRestart:
    """Nomad's CheckRestart.Merge: the check's non-zero values win over the service's."""
    merged = copy.deepcopy(service)
    if check is not None:
        merged.limit = check.limit or merged.limit
        merged.grace = check.grace if check.grace is not None else merged.grace
        merged.ignore_warnings = check.ignore_warnings or merged.ignore_warnings
    return merged

