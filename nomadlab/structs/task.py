"""A task and what it carries: services and checks, templates, artifacts, lifecycle, logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ._base import APIStruct, api_field
from .constraints import Affinity, Constraint
from .policies import RestartPolicy
from .resources import Resources, VolumeMount

__all__ = ["Task", "Service", "ServiceCheck", "CheckRestart", "Template", "WaitConfig",
           "TaskArtifact", "TaskLifecycle", "LogConfig", "DispatchPayloadConfig"]


@dataclass
class CheckRestart(APIStruct):
    """Restart the task after ``limit`` failed checks in a row."""

    limit: int = 0
    grace: Optional[int] = None
    ignore_warnings: bool = False


@dataclass
class ServiceCheck(APIStruct):
    """A health check of a service (http, tcp, script, grpc)."""

    name: str = ""
    type: str = ""
    command: str = ""
    args: list[str] = field(default_factory=list)
    path: str = ""
    protocol: str = ""
    port_label: str = ""
    address_mode: str = ""
    interval: int = 0
    timeout: int = 0
    initial_status: str = ""
    method: str = ""
    header: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""
    task_name: str = ""
    on_update: str = ""
    expose: bool = False
    tls_skip_verify: bool = api_field("TLSSkipVerify", default=False)
    success_before_passing: int = 0
    failures_before_critical: int = 0
    check_restart: Optional[CheckRestart] = None


@dataclass
class Service(APIStruct):
    """A service registration (Nomad's own catalogue or Consul's)."""

    name: str = ""
    provider: str = ""
    port_label: str = ""
    address_mode: str = ""
    address: str = ""
    task_name: str = ""
    tags: list[str] = field(default_factory=list)
    canary_tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    on_update: str = ""
    checks: list[ServiceCheck] = field(default_factory=list)
    check_restart: Optional[CheckRestart] = None


@dataclass
class WaitConfig(APIStruct):
    min: Optional[int] = None
    max: Optional[int] = None


@dataclass
class Template(APIStruct):
    """A file rendered into the task directory before the task starts."""

    source_path: Optional[str] = None
    dest_path: Optional[str] = None
    embedded_tmpl: Optional[str] = None
    change_mode: Optional[str] = None
    change_signal: Optional[str] = None
    splay: Optional[int] = None
    perms: Optional[str] = None
    uid: Optional[int] = None
    gid: Optional[int] = None
    left_delim: Optional[str] = None
    right_delim: Optional[str] = None
    envvars: Optional[bool] = None
    wait: Optional[WaitConfig] = None


@dataclass
class TaskArtifact(APIStruct):
    """A file or archive fetched (go-getter style) into the task directory."""

    getter_source: Optional[str] = None
    getter_options: dict[str, str] = field(default_factory=dict)
    getter_headers: dict[str, str] = field(default_factory=dict)
    getter_mode: Optional[str] = None
    relative_dest: Optional[str] = None


@dataclass
class TaskLifecycle(APIStruct):
    """When a task runs relative to the main tasks: prestart, poststart or poststop."""

    hook: str = ""
    sidecar: bool = False


@dataclass
class LogConfig(APIStruct):
    """Log rotation: ``max_files`` files of ``max_file_size_mb`` each."""

    max_files: Optional[int] = None
    max_file_size_mb: Optional[int] = None
    disabled: Optional[bool] = None


@dataclass
class DispatchPayloadConfig(APIStruct):
    file: str = ""


@dataclass
class Task(APIStruct):
    """One unit of work run by a driver; ``config`` is the driver's own settings."""

    name: str = ""
    driver: str = ""
    user: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    resources: Optional[Resources] = None
    restart_policy: Optional[RestartPolicy] = None
    lifecycle: Optional[TaskLifecycle] = None
    kill_timeout: Optional[int] = None
    kill_signal: str = ""
    log_config: Optional[LogConfig] = None
    artifacts: list[TaskArtifact] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    dispatch_payload: Optional[DispatchPayloadConfig] = None
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    leader: bool = False
    shutdown_delay: int = 0
    kind: str = ""
