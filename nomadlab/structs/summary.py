"""Nomad's JobSummary: per job and task group, how many allocations are in each state.

The state store keeps one per job, updated on every allocation write, so ``nomad job
status`` and ``/v1/job/:id/summary`` read counts instead of walking allocations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._base import APIStruct

__all__ = ["TaskGroupSummary", "JobSummary"]


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
