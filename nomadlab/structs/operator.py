"""Nomad's SchedulerConfiguration: the cluster-wide settings ``nomad operator scheduler``
reads and writes (placement algorithm, preemption, registration and broker switches)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._base import APIStruct

__all__ = ["PreemptionConfig", "SchedulerConfig", "SCHEDULER_ALGORITHMS"]

SCHEDULER_ALGORITHMS = ("binpack", "spread")


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
