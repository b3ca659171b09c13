"""Server-side records the state store keeps besides the user-facing structs.

Nomad keeps a JobSummary per job and one SchedulerConfiguration per cluster.  They are
:class:`~nomadlab.structs.APIStruct` dataclasses so ``to_api()`` gives Nomad's JSON.
They live here until ``nomadlab.structs`` grows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..structs import APIStruct

__all__ = ["TaskGroupSummary", "JobSummary", "PreemptionConfig", "SchedulerConfig",
           "SCHEDULER_ALGORITHMS"]

SCHEDULER_ALGORITHMS = ("binpack", "spread")


@dataclass
class TaskGroupSummary(APIStruct):
    """How many allocations of one group are in each state, as ``nomad job status`` shows.

    ``queued`` comes from the last evaluation's QueuedAllocations (placements it could not
    make yet); the others are counts of allocations by client status.
    """

    queued: int = 0
    complete: int = 0
    failed: int = 0
    running: int = 0
    starting: int = 0
    lost: int = 0
    unknown: int = 0


@dataclass
class JobSummary(APIStruct):
    """Nomad's JobSummary: per task group counts, kept up to date on every alloc write."""

    job_id: str = ""
    namespace: str = "default"
    summary: dict[str, TaskGroupSummary] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0


@dataclass
class PreemptionConfig(APIStruct):
    """Which schedulers may preempt lower-priority allocations (Nomad: only system by default)."""

    system_scheduler_enabled: bool = True
    sys_batch_scheduler_enabled: bool = False
    batch_scheduler_enabled: bool = False
    service_scheduler_enabled: bool = False


@dataclass
class SchedulerConfig(APIStruct):
    """Nomad's SchedulerConfiguration: ``binpack`` fills nodes, ``spread`` evens them out."""

    scheduler_algorithm: str = "binpack"
    preemption_config: PreemptionConfig = field(default_factory=PreemptionConfig)
    memory_oversubscription_enabled: bool = False
    reject_job_registration: bool = False
    pause_eval_broker: bool = False
    create_index: int = 0
    modify_index: int = 0
