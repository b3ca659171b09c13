"""The job, the desired state a user submits, and its task groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct
from .constraints import Affinity, Constraint, Spread
from .policies import (DisconnectStrategy, MigrateStrategy, ParameterizedJobConfig,
                       PeriodicConfig, ReschedulePolicy, RestartPolicy, UpdateStrategy)
from .resources import EphemeralDisk, NetworkResource, VolumeRequest
from .task import Service, Task

__all__ = ["Job", "TaskGroup", "JOB_TYPES", "JOB_STATUSES"]

JOB_TYPES = ("service", "batch", "system", "sysbatch")
JOB_STATUSES = ("pending", "running", "dead")


@dataclass
class TaskGroup(APIStruct):
    """Tasks placed together on one node; ``count`` copies become allocations."""

    name: str = ""
    count: Optional[int] = None
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    spreads: list[Spread] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    volumes: dict[str, VolumeRequest] = field(default_factory=dict)
    restart_policy: Optional[RestartPolicy] = None
    reschedule_policy: Optional[ReschedulePolicy] = None
    disconnect: Optional[DisconnectStrategy] = None
    ephemeral_disk: Optional[EphemeralDisk] = None
    update: Optional[UpdateStrategy] = None
    migrate: Optional[MigrateStrategy] = None
    networks: list[NetworkResource] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    shutdown_delay: Optional[int] = None
    stop_after_client_disconnect: Optional[int] = None
    max_client_disconnect: Optional[int] = None

    def task(self, name: str) -> Task:
        """The task called ``name``; ``KeyError`` names the tasks there are."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"group {self.name!r} has no task {name!r} (tasks: "
                       f"{', '.join(t.name for t in self.tasks) or 'none'})")


@dataclass
class Job(APIStruct):
    """A job as Nomad's API carries it. ``nl.parse_job`` returns one with defaults filled."""

    id: str = ""
    name: str = ""
    namespace: Optional[str] = None
    region: Optional[str] = None
    type: Optional[str] = None
    priority: Optional[int] = None
    all_at_once: Optional[bool] = None
    datacenters: list[str] = field(default_factory=list)
    node_pool: Optional[str] = None
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    spreads: list[Spread] = field(default_factory=list)
    task_groups: list[TaskGroup] = field(default_factory=list)
    update: Optional[UpdateStrategy] = None
    migrate: Optional[MigrateStrategy] = None
    reschedule: Optional[ReschedulePolicy] = None
    periodic: Optional[PeriodicConfig] = None
    parameterized_job: Optional[ParameterizedJobConfig] = None
    dispatched: bool = False
    payload: Optional[str] = None
    meta: dict[str, str] = field(default_factory=dict)
    parent_id: str = ""
    stop: bool = False
    status: str = ""
    status_description: str = ""
    stable: bool = False
    version: int = 0
    submit_time: int = 0
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0

    def group(self, name: str) -> TaskGroup:
        """The task group called ``name``; ``KeyError`` names the groups there are."""
        for group in self.task_groups:
            if group.name == name:
                return group
        raise KeyError(f"job {self.id!r} has no group {name!r} (groups: "
                       f"{', '.join(g.name for g in self.task_groups) or 'none'})")

    @property
    def is_periodic(self) -> bool:
        return self.periodic is not None and self.periodic.enabled is not False

    @property
    def is_parameterized(self) -> bool:
        return self.parameterized_job is not None and not self.dispatched
