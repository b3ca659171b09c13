"""Allocations, a task group placed on a node, and the states of their tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct
from .evaluation import AllocMetric
from .job import Job
from .resources import NetworkResource, Resources

__all__ = [
    "Allocation", "AllocatedResources", "AllocatedTaskResources", "AllocatedSharedResources",
    "AllocatedCpuResources", "AllocatedMemoryResources", "PortMapping", "DesiredTransition",
    "RescheduleTracker", "RescheduleEvent", "AllocDeploymentStatus", "TaskState", "TaskEvent",
    "ALLOC_DESIRED_STATUSES", "ALLOC_CLIENT_STATUSES", "TASK_STATES", "TASK_EVENT_TYPES",
    "SERVER_TERMINAL_STATUSES", "CLIENT_TERMINAL_STATUSES",
]

ALLOC_DESIRED_STATUSES = ("run", "stop", "evict")
ALLOC_CLIENT_STATUSES = ("pending", "running", "complete", "failed", "lost", "unknown")
#: Desired statuses after which the server never runs the allocation again.
SERVER_TERMINAL_STATUSES = ("stop", "evict")
#: Client statuses after which the allocation's tasks run no more.
CLIENT_TERMINAL_STATUSES = ("complete", "failed", "lost")
TASK_STATES = ("pending", "running", "dead")
TASK_EVENT_TYPES = (
    "Received", "Task Setup", "Building Task Directory", "Downloading Artifacts",
    "Failed Artifact Download", "Driver", "Started", "Terminated", "Restarting",
    "Not Restarting", "Killing", "Killed", "Driver Failure", "Setup Failure",
    "Failed Validation", "Sibling Task Failed", "Leader Task Dead", "Main Tasks Dead",
    "Restart Signaled", "Task hook failed", "Failed Restoring Task", "Reconnected",
    "Alloc Unhealthy",
)


@dataclass
class AllocatedCpuResources(APIStruct):
    cpu_shares: int = 0
    reserved_cores: list[int] = field(default_factory=list)


@dataclass
class AllocatedMemoryResources(APIStruct):
    memory_mb: int = 0
    memory_max_mb: int = 0


@dataclass
class AllocatedTaskResources(APIStruct):
    cpu: AllocatedCpuResources = field(default_factory=AllocatedCpuResources)
    memory: AllocatedMemoryResources = field(default_factory=AllocatedMemoryResources)
    networks: list[NetworkResource] = field(default_factory=list)


@dataclass
class PortMapping(APIStruct):
    """A port the scheduler assigned: host ``value`` on ``host_ip``, mapped ``to`` inside."""

    label: str = ""
    value: int = 0
    to: int = 0
    host_ip: str = ""


@dataclass
class AllocatedSharedResources(APIStruct):
    disk_mb: int = 0
    networks: list[NetworkResource] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)


@dataclass
class AllocatedResources(APIStruct):
    """What the scheduler actually reserved on the node, per task and shared by the group."""

    tasks: dict[str, AllocatedTaskResources] = field(default_factory=dict)
    shared: AllocatedSharedResources = field(default_factory=AllocatedSharedResources)


@dataclass
class DesiredTransition(APIStruct):
    migrate: Optional[bool] = None
    reschedule: Optional[bool] = None
    force_reschedule: Optional[bool] = None


@dataclass
class RescheduleEvent(APIStruct):
    reschedule_time: int = 0
    prev_alloc_id: str = ""
    prev_node_id: str = ""
    delay: int = 0


@dataclass
class RescheduleTracker(APIStruct):
    events: list[RescheduleEvent] = field(default_factory=list)


@dataclass
class AllocDeploymentStatus(APIStruct):
    healthy: Optional[bool] = None
    timestamp: Optional[str] = None
    canary: bool = False
    modify_index: int = 0


@dataclass
class TaskEvent(APIStruct):
    """One thing that happened to a task, with Nomad's type and display message."""

    type: str = ""
    time: int = 0
    message: str = ""
    display_message: str = ""
    details: dict[str, str] = field(default_factory=dict)
    fails_task: bool = False
    restart_reason: str = ""
    setup_error: str = ""
    driver_error: str = ""
    exit_code: int = 0
    signal: int = 0
    kill_reason: str = ""
    kill_timeout: int = 0
    kill_error: str = ""
    start_delay: int = 0
    download_error: str = ""
    validation_error: str = ""
    failed_sibling: str = ""
    task_signal_reason: str = ""
    task_signal: str = ""
    driver_message: str = ""
    generic_source: str = ""


@dataclass
class TaskState(APIStruct):
    """A task's state on its client: pending, running or dead, and the events so far."""

    state: str = "pending"
    failed: bool = False
    restarts: int = 0
    last_restart: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    events: list[TaskEvent] = field(default_factory=list)


@dataclass
class Allocation(APIStruct):
    """A task group of a job placed on a node; named ``<job>.<group>[<index>]``."""

    id: str = ""
    namespace: str = "default"
    eval_id: str = ""
    name: str = ""
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job: Optional[Job] = None
    task_group: str = ""
    resources: Optional[Resources] = None
    task_resources: dict[str, Resources] = field(default_factory=dict)
    allocated_resources: Optional[AllocatedResources] = None
    metrics: Optional[AllocMetric] = None
    desired_status: str = "run"
    desired_description: str = ""
    desired_transition: DesiredTransition = field(default_factory=DesiredTransition)
    client_status: str = "pending"
    client_description: str = ""
    task_states: dict[str, TaskState] = field(default_factory=dict)
    deployment_id: str = ""
    deployment_status: Optional[AllocDeploymentStatus] = None
    reschedule_tracker: Optional[RescheduleTracker] = None
    previous_allocation: str = ""
    next_allocation: str = ""
    followup_eval_id: str = ""
    preempted_allocations: list[str] = field(default_factory=list)
    preempted_by_allocation: str = ""
    create_index: int = 0
    modify_index: int = 0
    alloc_modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    @property
    def index(self) -> int:
        """The ``N`` of ``job.group[N]``: the alloc's slot in its group (``NOMAD_ALLOC_INDEX``)."""
        try:
            return int(self.name[self.name.rindex("[") + 1:-1])
        except ValueError:
            return 0

    # Nomad's three terminal rules (structs.go), the one place they are written.
    def server_terminal_status(self) -> bool:
        """Told to stop or evicted: the server will not run it again."""
        return self.desired_status in SERVER_TERMINAL_STATUSES

    def client_terminal_status(self) -> bool:
        """Its tasks finished, failed or were lost on the client."""
        return self.client_status in CLIENT_TERMINAL_STATUSES

    def terminal_status(self) -> bool:
        """Nomad's Allocation.TerminalStatus: either of the two above."""
        return self.server_terminal_status() or self.client_terminal_status()
