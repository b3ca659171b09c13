"""Nomad's job specification: which blocks and attributes may appear where.

One table, read by the decoder (HCL -> API JSON), by the error messages (allowed keys,
"did you mean"), and by the path names in errors (API ``MemoryMB`` -> HCL ``memory``).
Names and nesting follow Nomad's job specification docs and ``api/*.go`` HCL tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

__all__ = ["Attr", "Block", "Spec", "JOB", "JOB_FILE"]

#: Value kinds an attribute can have.
#: string, int, bool, duration (Go duration string -> ns), strings (list of string),
#: map (string -> string block or object), headers (string -> list of string), any.
Kind = str


@dataclass(frozen=True)
class Attr:
    """``name = value``; stored under ``api`` after conversion to ``kind``."""

    api: str
    kind: Kind = "string"


@dataclass(frozen=True)
class Block:
    """``name ["label"] { ... }``.

    ``spec`` lists what may appear inside (``None`` for a free-form map such as ``env``
    or a driver's ``config``).  ``label`` is the API field the block label fills, if the
    block takes one.  ``many`` blocks become a list (or, with ``keyed``, a map by label).
    """

    api: str
    spec: Optional["Spec"] = None
    label: Optional[str] = None
    many: bool = False
    keyed: bool = False
    kind: Kind = "object"
    doc: str = ""


Spec = dict[str, Union[Attr, Block]]

D = "duration"

CHECK_RESTART: Spec = {
    "limit": Attr("Limit", "int"),
    "grace": Attr("Grace", D),
    "ignore_warnings": Attr("IgnoreWarnings", "bool"),
}

CONSTRAINT: Spec = {
    "attribute": Attr("LTarget"),
    "operator": Attr("Operand"),
    "value": Attr("RTarget"),
    # Shorthands Nomad accepts in place of operator + value.
    "version": Attr("version"),
    "semver": Attr("semver"),
    "regexp": Attr("regexp"),
    "set_contains": Attr("set_contains"),
    "distinct_hosts": Attr("distinct_hosts", "bool"),
    "distinct_property": Attr("distinct_property"),
}

AFFINITY: Spec = {
    "attribute": Attr("LTarget"),
    "operator": Attr("Operand"),
    "value": Attr("RTarget"),
    "weight": Attr("Weight", "int"),
    "version": Attr("version"),
    "semver": Attr("semver"),
    "regexp": Attr("regexp"),
    "set_contains_any": Attr("set_contains_any"),
    "set_contains_all": Attr("set_contains_all"),
}

SPREAD: Spec = {
    "attribute": Attr("Attribute"),
    "weight": Attr("Weight", "int"),
    "target": Block("SpreadTarget", {"percent": Attr("Percent", "int")}, label="Value", many=True),
}

RESTART: Spec = {
    "attempts": Attr("Attempts", "int"),
    "interval": Attr("Interval", D),
    "delay": Attr("Delay", D),
    "mode": Attr("Mode"),
    "render_templates": Attr("RenderTemplates", "bool"),
}

RESCHEDULE: Spec = {
    "attempts": Attr("Attempts", "int"),
    "interval": Attr("Interval", D),
    "delay": Attr("Delay", D),
    "delay_function": Attr("DelayFunction"),
    "max_delay": Attr("MaxDelay", D),
    "unlimited": Attr("Unlimited", "bool"),
}

UPDATE: Spec = {
    "max_parallel": Attr("MaxParallel", "int"),
    "health_check": Attr("HealthCheck"),
    "min_healthy_time": Attr("MinHealthyTime", D),
    "healthy_deadline": Attr("HealthyDeadline", D),
    "progress_deadline": Attr("ProgressDeadline", D),
    "auto_revert": Attr("AutoRevert", "bool"),
    "auto_promote": Attr("AutoPromote", "bool"),
    "canary": Attr("Canary", "int"),
    "stagger": Attr("Stagger", D),
}

MIGRATE: Spec = {
    "max_parallel": Attr("MaxParallel", "int"),
    "health_check": Attr("HealthCheck"),
    "min_healthy_time": Attr("MinHealthyTime", D),
    "healthy_deadline": Attr("HealthyDeadline", D),
}

DISCONNECT: Spec = {
    "lost_after": Attr("LostAfter", D),
    "stop_on_client_after": Attr("StopOnClientAfter", D),
    "replace": Attr("Replace", "bool"),
    "reconcile": Attr("Reconcile"),
}

PORT: Spec = {
    "static": Attr("Value", "int"),
    "to": Attr("To", "int"),
    "host_network": Attr("HostNetwork"),
}

NETWORK: Spec = {
    "mode": Attr("Mode"),
    "hostname": Attr("Hostname"),
    "mbits": Attr("MBits", "int"),
    # Ports are sorted into ReservedPorts (static) and DynamicPorts by the decoder.
    "port": Block("Ports", PORT, label="Label", many=True),
    "dns": Block("DNS", {
        "servers": Attr("Servers", "strings"),
        "searches": Attr("Searches", "strings"),
        "options": Attr("Options", "strings"),
    }),
}

CHECK: Spec = {
    "name": Attr("Name"),
    "type": Attr("Type"),
    "command": Attr("Command"),
    "args": Attr("Args", "strings"),
    "path": Attr("Path"),
    "protocol": Attr("Protocol"),
    "port": Attr("PortLabel"),
    "address_mode": Attr("AddressMode"),
    "interval": Attr("Interval", D),
    "timeout": Attr("Timeout", D),
    "initial_status": Attr("InitialStatus"),
    "method": Attr("Method"),
    "header": Block("Header", kind="headers"),
    "body": Attr("Body"),
    "task": Attr("TaskName"),
    "on_update": Attr("OnUpdate"),
    "expose": Attr("Expose", "bool"),
    "tls_skip_verify": Attr("TLSSkipVerify", "bool"),
    "success_before_passing": Attr("SuccessBeforePassing", "int"),
    "failures_before_critical": Attr("FailuresBeforeCritical", "int"),
    "check_restart": Block("CheckRestart", CHECK_RESTART),
}

SERVICE: Spec = {
    "name": Attr("Name"),
    "provider": Attr("Provider"),
    "port": Attr("PortLabel"),
    "address_mode": Attr("AddressMode"),
    "address": Attr("Address"),
    "task": Attr("TaskName"),
    "tags": Attr("Tags", "strings"),
    "canary_tags": Attr("CanaryTags", "strings"),
    "meta": Block("Meta", kind="map"),
    "on_update": Attr("OnUpdate"),
    "check": Block("Checks", CHECK, many=True),
    "check_restart": Block("CheckRestart", CHECK_RESTART),
}

RESOURCES: Spec = {
    "cpu": Attr("CPU", "int"),
    "cores": Attr("Cores", "int"),
    "memory": Attr("MemoryMB", "int"),
    "memory_max": Attr("MemoryMaxMB", "int"),
    # deprecated since ephemeral_disk; Nomad accepts it and schedules by ephemeral_disk
    "disk": Attr("DiskMB", "int"),
    "device": Block("Devices", {"count": Attr("Count", "int")}, label="Name", many=True),
    "network": Block("Networks", NETWORK, many=True),
}

TEMPLATE: Spec = {
    "data": Attr("EmbeddedTmpl"),
    "source": Attr("SourcePath"),
    "destination": Attr("DestPath"),
    "change_mode": Attr("ChangeMode"),
    "change_signal": Attr("ChangeSignal"),
    "splay": Attr("Splay", D),
    "perms": Attr("Perms"),
    "uid": Attr("Uid", "int"),
    "gid": Attr("Gid", "int"),
    "left_delimiter": Attr("LeftDelim"),
    "right_delimiter": Attr("RightDelim"),
    "env": Attr("Envvars", "bool"),
    "wait": Block("Wait", {"min": Attr("Min", D), "max": Attr("Max", D)}),
}

ARTIFACT: Spec = {
    "source": Attr("GetterSource"),
    "destination": Attr("RelativeDest"),
    "mode": Attr("GetterMode"),
    "options": Block("GetterOptions", kind="map"),
    "headers": Block("GetterHeaders", kind="map"),
}

TASK: Spec = {
    "driver": Attr("Driver"),
    "user": Attr("User"),
    "config": Block("Config", kind="any"),
    "env": Block("Env", kind="map"),
    "meta": Block("Meta", kind="map"),
    "constraint": Block("Constraints", CONSTRAINT, many=True),
    "affinity": Block("Affinities", AFFINITY, many=True),
    "service": Block("Services", SERVICE, many=True),
    "resources": Block("Resources", RESOURCES),
    "restart": Block("RestartPolicy", RESTART),
    "lifecycle": Block("Lifecycle", {"hook": Attr("Hook"), "sidecar": Attr("Sidecar", "bool")}),
    "kill_timeout": Attr("KillTimeout", D),
    "kill_signal": Attr("KillSignal"),
    "logs": Block("LogConfig", {
        "max_files": Attr("MaxFiles", "int"),
        "max_file_size": Attr("MaxFileSizeMB", "int"),
        "disabled": Attr("Disabled", "bool"),
    }),
    "artifact": Block("Artifacts", ARTIFACT, many=True),
    "template": Block("Templates", TEMPLATE, many=True),
    "dispatch_payload": Block("DispatchPayload", {"file": Attr("File")}),
    "volume_mount": Block("VolumeMounts", {
        "volume": Attr("Volume"),
        "destination": Attr("Destination"),
        "read_only": Attr("ReadOnly", "bool"),
        "propagation_mode": Attr("PropagationMode"),
    }, many=True),
    "leader": Attr("Leader", "bool"),
    "shutdown_delay": Attr("ShutdownDelay", D),
    "kind": Attr("Kind"),
}

GROUP: Spec = {
    "count": Attr("Count", "int"),
    "constraint": Block("Constraints", CONSTRAINT, many=True),
    "affinity": Block("Affinities", AFFINITY, many=True),
    "spread": Block("Spreads", SPREAD, many=True),
    "task": Block("Tasks", TASK, label="Name", many=True),
    "volume": Block("Volumes", {
        "type": Attr("Type"),
        "source": Attr("Source"),
        "read_only": Attr("ReadOnly", "bool"),
        "access_mode": Attr("AccessMode"),
        "attachment_mode": Attr("AttachmentMode"),
        "per_alloc": Attr("PerAlloc", "bool"),
    }, label="Name", many=True, keyed=True),
    "restart": Block("RestartPolicy", RESTART),
    "reschedule": Block("ReschedulePolicy", RESCHEDULE),
    "disconnect": Block("Disconnect", DISCONNECT),
    "ephemeral_disk": Block("EphemeralDisk", {
        "sticky": Attr("Sticky", "bool"),
        "migrate": Attr("Migrate", "bool"),
        "size": Attr("SizeMB", "int"),
    }),
    "update": Block("Update", UPDATE),
    "migrate": Block("Migrate", MIGRATE),
    "network": Block("Networks", NETWORK, many=True),
    "meta": Block("Meta", kind="map"),
    "service": Block("Services", SERVICE, many=True),
    "shutdown_delay": Attr("ShutdownDelay", D),
    "stop_after_client_disconnect": Attr("StopAfterClientDisconnect", D),
    "max_client_disconnect": Attr("MaxClientDisconnect", D),
}

JOB: Spec = {
    "name": Attr("Name"),
    "region": Attr("Region"),
    "namespace": Attr("Namespace"),
    "datacenters": Attr("Datacenters", "strings"),
    "node_pool": Attr("NodePool"),
    "type": Attr("Type"),
    "priority": Attr("Priority", "int"),
    "all_at_once": Attr("AllAtOnce", "bool"),
    "meta": Block("Meta", kind="map"),
    "constraint": Block("Constraints", CONSTRAINT, many=True),
    "affinity": Block("Affinities", AFFINITY, many=True),
    "spread": Block("Spreads", SPREAD, many=True),
    "group": Block("TaskGroups", GROUP, label="Name", many=True),
    "update": Block("Update", UPDATE),
    "migrate": Block("Migrate", MIGRATE),
    "reschedule": Block("Reschedule", RESCHEDULE),
    "periodic": Block("Periodic", {
        "cron": Attr("Spec"),
        "crons": Attr("Specs", "strings"),
        "prohibit_overlap": Attr("ProhibitOverlap", "bool"),
        "time_zone": Attr("TimeZone"),
        "enabled": Attr("Enabled", "bool"),
    }),
    "parameterized": Block("ParameterizedJob", {
        "payload": Attr("Payload"),
        "meta_required": Attr("MetaRequired", "strings"),
        "meta_optional": Attr("MetaOptional", "strings"),
    }),
}

#: The top of a job file: exactly one ``job "<id>" { ... }``.
JOB_FILE: Spec = {"job": Block("Job", JOB, label="ID")}
