"""Nomad's ``Job.Validate``: every rule a job must satisfy before it is registered.

Runs on a canonical :class:`~nomadlab.structs.Job` (defaults filled) and returns every
problem as ``(api_path, message)``; messages follow Nomad's wording where it has one,
so what a learner reads here is what ``nomad job validate`` would say.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Optional

from croniter import croniter

from ..structs import (AFFINITY_OPERANDS, CONSTRAINT_OPERANDS, JOB_TYPES, Affinity, Constraint,
                       Job, Spread, Task, TaskGroup)
from .getter import checksum_problem, unsupported_source
from ..scheduler.disconnect import RECONCILE_OPTIONS
from ..structs.duration import SECOND, format_duration

__all__ = ["validate", "check_version_constraint", "PORT_LABEL", "MAX_COUNT", "count_problem",
           "path_part_problem"]

Path = tuple[Any, ...]
Problems = list[tuple[Path, str]]

#: Nomad's rule for port labels (they become NOMAD_PORT_<label>).
PORT_LABEL = re.compile(r"^[a-zA-Z0-9_]+$")
MIN_CPU = 1
MIN_MEMORY_MB = 10
MIN_DISK_MB = 10
#: The most allocations one task group may ask for.  Nomad has no such limit; nomadlab
#: keeps every allocation (and its placement trace) in the kernel's memory, and the
#: scheduler builds one placement per missing allocation, so an unbounded count (10**18)
#: would grow the kernel until the OS kills it.  10,000 is the largest group that
#: bench/placements.py measures: seconds of scheduling and a few hundred MB.
MAX_COUNT = 10_000
_VERSION_PART = re.compile(
    r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?\d+(\.\d+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\s*$")
_RESTART_MODES = ("delay", "fail")
_DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")
_HEALTH_CHECKS = ("checks", "task_states", "manual")
_HOOKS = ("prestart", "poststart", "poststop")
_CHANGE_MODES = ("noop", "restart", "signal", "script")
_CHECK_TYPES = ("http", "tcp", "script", "grpc")
_NETWORK_MODES = ("", "host", "bridge", "none")  # "" is host
_ARTIFACT_MODES = ("any", "file", "dir")
_NEEDS_VALUE = ("<", "<=", ">", ">=", "set_contains", "set_contains_all", "set_contains_any")
_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9\$][a-zA-Z0-9\-\$\{\}\_\.]*[a-z0-9\}])$")


def check_version_constraint(text: str) -> Optional[str]:
    """Why ``text`` is not a go-version constraint (">= 1.2, < 2.0"), or None if it is."""
    for part in text.split(","):
        if not _VERSION_PART.match(part):
            return f"Malformed constraint: {part.strip() or text!r}"
    return None


def count_problem(count: int) -> Optional[str]:
    """Why ``count`` is not a task group count, or None (shared with ``nomad job scale``)."""
    if count < 0:
        return f"Task group count can't be negative, got {count}"
    if count > MAX_COUNT:
        return (f"Task group count {count} is more than nomadlab's limit of {MAX_COUNT} "
                "allocations per group (every allocation lives in this kernel's memory)")
    return None


def path_part_problem(what: str, name: str) -> Optional[str]:
    """Why a group or task name cannot name a directory of its own, or None.

    The client makes one directory per task (``alloc/<alloc>/<task>``); a name that is a
    path part (``..``, ``.``) or holds a separator would step outside it.  Nomad rejects
    slashes in task names and NUL in both kinds of name; nomadlab rejects the path parts
    too, and the same in group names, so no name ever has to be trusted as a path."""
    if name in (".", ".."):
        return f"{what} name cannot be \"{name}\": it is a path part"
    if "/" in name or "\\" in name:
        return f"{what} name cannot include slashes"
    if "\0" in name:
        return f"{what} name cannot include null characters"
    return None


def validate(job: Job) -> Problems:
    """All problems of ``job`` (canonical), in the order of the spec."""
    problems: Problems = []
    add = problems.append
    if not job.id:
        add((("ID",), "Missing job ID"))
    elif " " in job.id:
        add((("ID",), "Job ID contains a space"))
    elif "\0" in job.id:
        add((("ID",), "Job ID contains a null character"))
    if not job.name:
        add((("Name",), "Missing job name"))
    elif "\0" in job.name:
        add((("Name",), "Job Name contains a null character"))
    if job.type not in JOB_TYPES:
        add((("Type",), f'Invalid job type: "{job.type}"; must be one of {", ".join(JOB_TYPES)}'))
    if job.priority is not None and not 1 <= job.priority <= 100:
        add((("Priority",), f"Job priority must be between [1, 100], got {job.priority}"))
    if not job.datacenters:
        add((("Datacenters",), "Missing job datacenters"))
    for i, dc in enumerate(job.datacenters):
        if not dc:
            add((("Datacenters", i), "Job datacenter must be non-empty string"))
    if not job.task_groups:
        add((("TaskGroups",), 'Missing job task groups: a job needs at least one group "<name>" { ... }'))
    for i, constraint in enumerate(job.constraints):
        _constraint(constraint, ("Constraints", i), add)
    for i, affinity in enumerate(job.affinities):
        _affinity(affinity, ("Affinities", i), add)
    for i, spread in enumerate(job.spreads):
        _spread(spread, ("Spreads", i), add)
    if job.update is not None and job.type in ("batch", "sysbatch"):
        add((("Update",), f"update blocks are not used by {job.type} jobs"))
    _periodic(job, add)
    if job.parameterized_job is not None:
        if job.type not in ("batch", "sysbatch"):
            add((("ParameterizedJob",), 'Parameterized job can only be used with "batch" or '
                                        f'"sysbatch" scheduler, not "{job.type}"'))
        if job.parameterized_job.payload not in ("optional", "required", "forbidden"):
            add((("ParameterizedJob", "Payload"), f'Unknown payload requirement: '
                 f'"{job.parameterized_job.payload}"; use optional, required or forbidden'))
    seen: dict[str, int] = {}
    for i, group in enumerate(job.task_groups):
        path = ("TaskGroups", i)
        if not group.name:
            add((path, f"Job task group {i + 1} missing name"))
        elif bad_name := path_part_problem("Task group", group.name):
            add((path + ("Name",), bad_name))
        elif group.name in seen:
            add((path + ("Name",), f"Job task group {i + 1} redefines '{group.name}' from group "
                                   f"{seen[group.name] + 1}"))
        else:
            seen[group.name] = i
        _group(job, group, path, add)
    return problems


def _periodic(job: Job, add: Any) -> None:
    periodic = job.periodic
    if periodic is None or not periodic.enabled:
        return
    if job.type not in ("batch", "sysbatch"):
        add((("Periodic",), f'Periodic can only be used with "batch" or "sysbatch" scheduler, '
                            f'not "{job.type}"'))
    specs = [periodic.spec] if periodic.spec else []
    specs += periodic.specs
    if not specs:
        add((("Periodic",), 'Must specify a spec: cron = "*/5 * * * *"'))
    if periodic.spec_type != "cron":
        add((("Periodic", "SpecType"), f'Unknown periodic specification type "{periodic.spec_type}"'))
    for spec in specs:
        if not croniter.is_valid(spec):
            key = ("Periodic", "Spec") if spec == periodic.spec else ("Periodic", "Specs")
            add((key, f'Invalid cron spec "{spec}": expected 5 fields (minute hour day month '
                      f'weekday), 6 with seconds, or @daily/@hourly/...'))
    if periodic.time_zone:
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(periodic.time_zone)
        except Exception:
            add((("Periodic", "TimeZone"), f'Invalid time zone "{periodic.time_zone}"'))


def _group(job: Job, group: TaskGroup, path: Path, add: Any) -> None:
    bad_count = count_problem(group.count) if group.count is not None else None
    if bad_count:
        add((path + ("Count",), bad_count))
    if job.type in ("system", "sysbatch") and group.count not in (None, 0, 1):
        add((path + ("Count",), f"Task group count must be 1 for {job.type} jobs (one per node), "
                                f"got {group.count}"))
    if not group.tasks:
        add((path, "Missing tasks for task group: a group needs at least one task"))
    for i, constraint in enumerate(group.constraints):
        _constraint(constraint, path + ("Constraints", i), add)
    for i, affinity in enumerate(group.affinities):
        _affinity(affinity, path + ("Affinities", i), add)
    for i, spread in enumerate(group.spreads):
        _spread(spread, path + ("Spreads", i), add)
    _restart(group, path, add)
    _reschedule(group, path, add)
    _update(group, path, add)
    _disconnect(job, group, path, add)
    if group.shutdown_delay is not None and group.shutdown_delay < 0:
        add((path + ("ShutdownDelay",), "ShutdownDelay must be a positive value"))
    if group.ephemeral_disk is not None and (group.ephemeral_disk.size_mb or 0) < MIN_DISK_MB:
        add((path + ("EphemeralDisk", "SizeMB"),
             f"minimum DiskMB value is {MIN_DISK_MB}; got {group.ephemeral_disk.size_mb}"))
    labels = _networks(group, path, add)
    for i, service in enumerate(group.services):
        _service(service, path + ("Services", i), labels, add, [t.name for t in group.tasks])
    for name, volume in group.volumes.items():
        if volume.type not in ("host", "csi"):
            add((path + ("Volumes", name, "Type"),
                 f'volume "{name}" has unknown type "{volume.type}"; use "host" or "csi"'))
        if not volume.source:
            add((path + ("Volumes", name), f'volume "{name}" needs a source'))
    seen: dict[str, int] = {}
    leaders = 0
    for i, task in enumerate(group.tasks):
        task_path = path + ("Tasks", i)
        if not task.name:
            add((task_path, f"Task {i + 1} missing name"))
        elif task.name in seen:
            add((task_path + ("Name",), f"Task {i + 1} redefines '{task.name}' from task "
                                        f"{seen[task.name] + 1}"))
        else:
            seen[task.name] = i
        leaders += task.leader
        _task(task, task_path, labels, group, add)
    if leaders > 1:
        add((path, "Only one task may be marked as leader"))


def _networks(group: TaskGroup, path: Path, add: Any) -> set[str]:
    labels: dict[str, str] = {}
    static: dict[int, str] = {}
    if len(group.networks) > 1:
        add((path + ("Networks", 1), "Only one network block is allowed per group"))
    for n, network in enumerate(group.networks):
        net_path = path + ("Networks", n)
        if network.mode not in _NETWORK_MODES and not network.mode.startswith("cni/"):
            add((net_path + ("Mode",), f'invalid network mode "{network.mode}"; use host, '
                                       f"bridge, none or cni/<name>"))
        for kind in ("ReservedPorts", "DynamicPorts"):
            for i, port in enumerate(getattr(network, "reserved_ports" if kind == "ReservedPorts"
                                             else "dynamic_ports")):
                port_path = net_path + (kind, i)
                if not PORT_LABEL.match(port.label):
                    add((port_path + ("Label",), f'Port label "{port.label}" does not conform to '
                         "naming requirements ^[a-zA-Z0-9_]+$ (it becomes NOMAD_PORT_<label>)"))
                elif port.label in labels:
                    add((port_path + ("Label",), f'Port label "{port.label}" already in use'))
                labels[port.label] = kind
                if not 0 <= port.value <= 65535:
                    add((port_path + ("Value",), f'Port "{port.label}" static value {port.value} '
                         "must be between 0 and 65535"))
                elif port.value and port.value in static:
                    add((port_path + ("Value",), f"Static port {port.value} already reserved by "
                         f"{static[port.value]}"))
                elif port.value:
                    static[port.value] = port.label
                if not -1 <= port.to <= 65535:
                    add((port_path + ("To",), f'Port "{port.label}" "to" value {port.to} must be '
                         "between -1 and 65535"))
    return set(labels)


def _task(task: Task, path: Path, labels: set[str], group: TaskGroup, add: Any) -> None:
    bad_name = path_part_problem("Task", task.name)
    if bad_name:
        add((path + ("Name",), bad_name))
    if not task.driver:
        add((path + ("Driver",), f'Missing task driver: add driver = "exec" (or raw_exec, docker)'
                                 f" to task \"{task.name}\""))
    if task.kill_timeout is not None and task.kill_timeout < 0:
        add((path + ("KillTimeout",), "KillTimeout must be a positive value"))
    if task.shutdown_delay < 0:
        add((path + ("ShutdownDelay",), "ShutdownDelay must be a positive value"))
    resources = task.resources
    if resources is not None:
        rpath = path + ("Resources",)
        if (resources.cores or 0) == 0 and (resources.cpu or 0) < MIN_CPU:
            add((rpath + ("CPU",), f"Minimum CPU value is {MIN_CPU}; got {resources.cpu}"))
        if (resources.cores or 0) > 0 and (resources.cpu or 0) > 0:
            add((rpath + ("Cores",), "Task can only ask for 'cpu' or 'cores' resource, not both."))
        if (resources.cores or 0) < 0:
            add((rpath + ("Cores",), f"Cores can't be negative, got {resources.cores}"))
        if (resources.memory_mb or 0) < MIN_MEMORY_MB:
            add((rpath + ("MemoryMB",), f"Minimum MemoryMB value is {MIN_MEMORY_MB}; got "
                                        f"{resources.memory_mb}"))
        if resources.memory_max_mb and resources.memory_max_mb < (resources.memory_mb or 0):
            add((rpath + ("MemoryMaxMB",), f"MemoryMaxMB value ({resources.memory_max_mb}) should be"
                 f" larger than MemoryMB value ({resources.memory_mb})"))
    for i, constraint in enumerate(task.constraints):
        _constraint(constraint, path + ("Constraints", i), add)
        if constraint.operand in ("distinct_hosts", "distinct_property"):
            add((path + ("Constraints", i), f'Task level constraint "{constraint.operand}" is not'
                 " allowed: place it on the job or the group"))
    for i, affinity in enumerate(task.affinities):
        _affinity(affinity, path + ("Affinities", i), add)
    if task.lifecycle is not None and task.lifecycle.hook not in _HOOKS:
        add((path + ("Lifecycle", "Hook"), f'invalid hook: "{task.lifecycle.hook}"; use '
                                           "prestart, poststart or poststop"))
    if task.restart_policy is not None:
        _restart_policy(task.restart_policy, path + ("RestartPolicy",), add)
    for i, template in enumerate(task.templates):
        tpath = path + ("Templates", i)
        if not template.source_path and not template.embedded_tmpl:
            add((tpath, "Must specify a source path or have an embedded template (data)"))
        if not template.dest_path:
            add((tpath, "Must specify a destination for the template"))
        if template.change_mode not in _CHANGE_MODES:
            add((tpath + ("ChangeMode",), f'Invalid change mode "{template.change_mode}"; use '
                                          f"{', '.join(_CHANGE_MODES)}"))
        if template.change_mode == "signal" and not template.change_signal:
            add((tpath + ("ChangeSignal",), "Must specify signal value when change mode is signal"))
        if template.splay is not None and template.splay < 0:
            add((tpath + ("Splay",), "Must specify positive splay value"))
    for i, artifact in enumerate(task.artifacts):
        _artifact(artifact, path + ("Artifacts", i), add)
    if task.dispatch_payload is not None and _escapes_alloc("local", task.dispatch_payload.file):
        add((path + ("DispatchPayload", "File"), "dispatch payload file escapes the "
             f'allocation directory: "{task.dispatch_payload.file}"'))
    for i, mount in enumerate(task.volume_mounts):
        if mount.volume not in group.volumes:
            add((path + ("VolumeMounts", i, "Volume"), f'volume_mount refers to volume "{mount.volume}"'
                 f" which group \"{group.name}\" does not define"))
    # a task's service may also name a port of the task's own (deprecated) resources.network
    own = {p.label for n in (task.resources.networks if task.resources else [])
           for p in [*n.reserved_ports, *n.dynamic_ports]}
    for i, service in enumerate(task.services):
        _service(service, path + ("Services", i), labels | own, add, [task.name])
    if task.log_config is not None and task.log_config.max_files is not None \
            and task.log_config.max_files < 1:
        add((path + ("LogConfig", "MaxFiles"), "minimum number of files is 1"))


def _escapes_alloc(base: str, relative: str) -> bool:
    """Nomad's ``PathEscapesAllocViaRelative``: ``<task>/<base>/<relative>`` leaves the
    allocation directory (a relative path may reach the shared ``alloc/`` or another
    task's directory, as in Nomad; an absolute one is taken relative too)."""
    parts = posixpath.normpath(posixpath.join("task", base, relative.lstrip("/"))).split("/")
    return parts[0] == ".."


def _artifact(artifact: Any, path: Path, add: Any) -> None:
    if not artifact.getter_source:
        add((path, "artifact needs a source"))
    else:
        unsupported = unsupported_source(artifact.getter_source)
        if unsupported:
            add((path + ("GetterSource",), unsupported))
    if artifact.getter_mode not in _ARTIFACT_MODES:
        add((path + ("GetterMode",), f'invalid artifact mode "{artifact.getter_mode}"; use '
                                     "any, file or dir"))
    if artifact.relative_dest and _escapes_alloc("", artifact.relative_dest):
        add((path + ("RelativeDest",), "artifact destination escapes the allocation "
                                       f'directory: "{artifact.relative_dest}"'))
    checksum = artifact.getter_options.get("checksum")
    if checksum is not None and "${" not in checksum:
        problem = checksum_problem(checksum)
        if problem:
            add((path + ("GetterOptions", "checksum"), problem))


def _disconnect(job: Job, group: TaskGroup, path: Path, add: Any) -> None:
    """Nomad's ``DisconnectStrategy.Validate`` and the group's rules for the old fields."""
    ds = group.disconnect
    dpath = path + ("Disconnect",)
    if group.max_client_disconnect is not None and group.max_client_disconnect < 0:
        add((path + ("MaxClientDisconnect",), "max_client_disconnect cannot be negative"))
    if group.stop_after_client_disconnect is not None and \
            group.stop_after_client_disconnect < 0:
        add((path + ("StopAfterClientDisconnect",),
             "stop_after_client_disconnect must be a positive value"))
    if group.max_client_disconnect is not None and group.stop_after_client_disconnect is not None:
        add((path + ("MaxClientDisconnect",), "max_client_disconnect and "
             "stop_after_client_disconnect are mutually exclusive"))
    lost_after = (ds.lost_after if ds is not None else 0) or group.max_client_disconnect
    if lost_after and job.type in ("system", "sysbatch"):
        where = ("Disconnect", "LostAfter") if ds is not None and ds.lost_after \
            else ("MaxClientDisconnect",)
        add((path + where, f"nomadlab keeps allocations of a disconnected node unknown only "
                           f"for service and batch jobs, not {job.type} jobs"))
    if ds is None:
        return
    if ds.lost_after and group.max_client_disconnect is not None:
        add((dpath + ("LostAfter",), "using both lost_after and max_client_disconnect is not "
                                     "allowed"))
    if ds.stop_on_client_after is not None and group.stop_after_client_disconnect is not None:
        add((dpath + ("StopOnClientAfter",), "using both stop_on_client_after and "
                                             "stop_after_client_disconnect is not allowed"))
    if ds.stop_on_client_after is not None:
        if ds.stop_on_client_after < 0:
            add((dpath + ("StopOnClientAfter",), "stop_after cannot be a negative duration"))
        if job.type not in ("service", "batch"):
            add((dpath + ("StopOnClientAfter",), "stop_after can only be used with service or "
                                                 "batch job types"))
    if (ds.lost_after or 0) < 0:
        add((dpath + ("LostAfter",), "lost_after cannot be a negative duration"))
    if ds.stop_on_client_after is not None and ds.lost_after:
        add((dpath, "Disconnect cannot be configured with both lost_after and stop_after"))
    if ds.reconcile not in (None, "", *RECONCILE_OPTIONS):
        add((dpath + ("Reconcile",), f"reconcile option is invalid: {ds.reconcile}"))


def _service(service: Any, path: Path, labels: set[str], add: Any, tasks: list[str]) -> None:
    if not _SERVICE_NAME.match(service.name):
        add((path + ("Name",), f'Service name must be valid per RFC 1123 and can contain only '
             f'alphanumeric characters or dashes: "{service.name}"'))
    if service.provider not in ("consul", "nomad"):
        add((path + ("Provider",), f'Service provider must be "consul" or "nomad", '
                                   f'not "{service.provider}"'))
    if service.port_label and not service.port_label.isdigit() and service.port_label not in labels:
        add((path + ("PortLabel",), f'port label "{service.port_label}" referenced by service '
             f'"{service.name}" does not exist; ports here: {", ".join(sorted(labels)) or "none"}'))
    for i, check in enumerate(service.checks):
        cpath = path + ("Checks", i)
        if check.type not in _CHECK_TYPES:
            add((cpath + ("Type",), f'invalid type ("{check.type}"), must be one of '
                                    f"{', '.join(_CHECK_TYPES)}"))
        if check.interval < SECOND:
            add((cpath + ("Interval",), f"interval ({format_duration(check.interval)}) cannot be "
                                        "lower than 1s"))
        if check.timeout < SECOND:
            add((cpath + ("Timeout",), f"timeout ({format_duration(check.timeout)}) is lower than "
                                       "required minimum timeout 1s"))
        if check.type == "http" and not check.path:
            add((cpath + ("Path",), "http type must have http path"))
        if check.type == "script" and not check.command:
            add((cpath + ("Command",), "script type must have a valid script path"))
        if check.port_label and not check.port_label.isdigit() and check.port_label not in labels:
            add((cpath + ("PortLabel",), f'check port label "{check.port_label}" does not exist'))


def _restart(group: TaskGroup, path: Path, add: Any) -> None:
    if group.restart_policy is not None:
        _restart_policy(group.restart_policy, path + ("RestartPolicy",), add)


def _restart_policy(policy: Any, path: Path, add: Any) -> None:
    if policy.mode not in _RESTART_MODES:
        add((path + ("Mode",), f'Unsupported restart mode: "{policy.mode}"; use "fail" or "delay"'))
    if (policy.attempts or 0) < 0:
        add((path + ("Attempts",), f"Restart attempts can't be negative, got {policy.attempts}"))
    if (policy.delay or 0) < 0:
        add((path + ("Delay",), "Restart delay can't be negative"))
    if policy.attempts and policy.delay is not None and policy.interval is not None \
            and policy.attempts * policy.delay > policy.interval:
        add((path, f"Nomad can't restart the TaskGroup {policy.attempts} times in an interval of "
                   f"{format_duration(policy.interval)} with a delay of "
                   f"{format_duration(policy.delay)}"))


def _reschedule(group: TaskGroup, path: Path, add: Any) -> None:
    policy = group.reschedule_policy
    if policy is None:
        return
    rpath = path + ("ReschedulePolicy",)
    if policy.delay_function and policy.delay_function not in _DELAY_FUNCTIONS:
        add((rpath + ("DelayFunction",), f'Invalid delay function "{policy.delay_function}", must '
                                         f"be one of {', '.join(_DELAY_FUNCTIONS)}"))
    if (policy.attempts or 0) < 0:
        add((rpath + ("Attempts",), "Reschedule attempts can't be negative"))
    if policy.unlimited and (policy.attempts or 0) > 0:
        add((rpath, "Reschedule Policy with Attempts > 0 cannot be unlimited"))
    if policy.delay_function in ("exponential", "fibonacci") and (policy.max_delay or 0) < \
            (policy.delay or 0):
        add((rpath + ("MaxDelay",), f"Max Delay cannot be less than Delay "
                                    f"{format_duration(policy.delay or 0)} (got "
                                    f"{format_duration(policy.max_delay or 0)})"))


def _update(group: TaskGroup, path: Path, add: Any) -> None:
    update = group.update
    if update is None:
        return
    upath = path + ("Update",)
    if update.health_check not in _HEALTH_CHECKS:
        add((upath + ("HealthCheck",), f'Invalid health check given: "{update.health_check}"; use '
                                       "checks, task_states or manual"))
    if (update.max_parallel or 0) < 0:
        add((upath + ("MaxParallel",), "Max parallel can not be less than zero"))
    if (update.canary or 0) < 0:
        add((upath + ("Canary",), "Canary count can not be less than zero"))
    if (update.canary or 0) == 0 and update.auto_promote:
        add((upath + ("AutoPromote",), "Auto Promote requires a Canary count greater than zero"))
    if (update.min_healthy_time or 0) < 0:
        add((upath + ("MinHealthyTime",), "Minimum healthy time may not be less than zero"))
    if (update.healthy_deadline or 0) <= 0:
        add((upath + ("HealthyDeadline",), "Healthy deadline must be greater than zero"))
    if (update.progress_deadline or 0) < 0:
        add((upath + ("ProgressDeadline",), "Progress deadline must be zero or greater"))
    if (update.stagger or 0) <= 0:
        add((upath + ("Stagger",), "Stagger must be greater than zero"))
    if (update.min_healthy_time or 0) >= (update.healthy_deadline or 0) > 0:
        add((upath + ("MinHealthyTime",), f"Minimum healthy time must be less than healthy deadline"
             f" ({format_duration(update.min_healthy_time or 0)} >= "
             f"{format_duration(update.healthy_deadline or 0)})"))
    if update.progress_deadline and (update.healthy_deadline or 0) >= update.progress_deadline:
        add((upath + ("HealthyDeadline",), "Healthy deadline must be less than progress deadline"))


def _constraint(constraint: Constraint, path: Path, add: Any) -> None:
    operand = constraint.operand
    if not operand:
        add((path, "Missing constraint operand"))
        return
    if operand not in CONSTRAINT_OPERANDS:
        add((path + ("Operand",), f'Unknown constraint type "{operand}"; operators are '
                                  f"{', '.join(CONSTRAINT_OPERANDS)}"))
        return
    _targets(constraint, operand, path, add)
    if operand == "distinct_hosts" and constraint.ltarget:
        # RTarget may be "true"/"false": HCL2 writes operator = "distinct_hosts", value = ...
        add((path, "Distinct hosts constraint doesn't allow left and right hand side targets"))
    if operand == "distinct_property":
        if not constraint.ltarget:
            add((path, "distinct_property needs an attribute, e.g. ${meta.rack}"))
        if constraint.rtarget and not (constraint.rtarget.isdigit() and int(constraint.rtarget) > 0):
            add((path + ("RTarget",), f'Distinct property must have an allowed count of 1 or '
                 f'greater: "{constraint.rtarget}"'))


def _targets(rule: Any, operand: str, path: Path, add: Any) -> None:
    """Checks shared by constraints and affinities: the operand's right-hand side."""
    if operand not in ("distinct_hosts", "distinct_property") and not rule.ltarget:
        add((path + ("LTarget",), "No LTarget provided but is required by constraint: add "
                                  'attribute = "${...}"'))
    if operand == "regexp":
        try:
            re.compile(rule.rtarget)
        except re.error as err:
            add((path + ("RTarget",), f"Regular expression failed to compile: {err}"))
    elif operand in ("version", "semver"):
        reason = check_version_constraint(rule.rtarget)
        if reason:
            add((path + ("RTarget",), f"Version constraint is invalid: {reason}"))
    elif operand in _NEEDS_VALUE and rule.rtarget == "":
        add((path + ("RTarget",), f'Operator "{operand}" requires an RTarget (value)'))
    elif operand in ("is_set", "is_not_set") and rule.rtarget:
        add((path + ("RTarget",), f'Operator "{operand}" does not take a value'))


def _affinity(affinity: Affinity, path: Path, add: Any) -> None:
    if affinity.operand not in AFFINITY_OPERANDS:
        add((path + ("Operand",), f'Unknown affinity operator "{affinity.operand}"'))
    else:
        _targets(affinity, affinity.operand, path, add)
    weight = affinity.weight or 0
    if weight == 0:
        add((path + ("Weight",), "Affinity weight cannot be zero"))
    elif not -100 <= weight <= 100:
        add((path + ("Weight",), f"Affinity weight must be within the range [-100,100], got {weight}"))


def _spread(spread: Spread, path: Path, add: Any) -> None:
    if not spread.attribute:
        add((path + ("Attribute",), "Missing spread attribute"))
    weight = spread.weight or 0
    if not 0 < weight <= 100:
        add((path + ("Weight",), f"Spread block must have a positive weight from 0 to 100, got "
                                 f"{weight}"))
    total = 0
    seen: set[str] = set()
    for i, target in enumerate(spread.spread_target):
        if target.value in seen:
            add((path + ("SpreadTarget", i), f'Spread target value "{target.value}" already defined'))
        seen.add(target.value)
        if not 0 <= target.percent <= 100:
            add((path + ("SpreadTarget", i, "Percent"), f'Spread target percentage for value '
                 f'"{target.value}" must be between 0 and 100'))
        total += target.percent
    if total > 100:
        add((path, f"Sum of spread target percentages must not be greater than 100%; got {total}%"))
