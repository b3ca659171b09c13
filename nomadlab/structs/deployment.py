"""Deployments: the progress of a service job's rolling update, per task group.

A deployment is made for a job version whose groups have an ``update`` block when the
scheduler has something to change; it counts, per group, the allocations placed for it
and how many of them turned healthy or unhealthy, the canaries it placed and whether they
were promoted.  Statuses and their descriptions are Nomad's (``structs.Deployment*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct

__all__ = ["Deployment", "DeploymentState", "DEPLOYMENT_STATUSES", "ACTIVE_STATUSES",
           "DESCRIPTION_RUNNING", "DESCRIPTION_RUNNING_NEEDS_PROMOTION",
           "DESCRIPTION_RUNNING_AUTO_PROMOTION", "DESCRIPTION_PAUSED",
           "DESCRIPTION_SUCCESSFUL", "DESCRIPTION_STOPPED_JOB", "DESCRIPTION_NEWER_JOB",
           "DESCRIPTION_FAILED_ALLOCATIONS", "DESCRIPTION_PROGRESS_DEADLINE",
           "DESCRIPTION_FAILED_BY_USER", "description_rollback", "description_rollback_noop",
           "description_no_rollback_target", "DeploymentStatusUpdate"]

DEPLOYMENT_STATUSES = ("running", "paused", "failed", "successful", "cancelled",
                       "initializing", "pending", "blocked", "unblocking")
#: Nomad's Deployment.Active(): the statuses in which a deployment still moves.
ACTIVE_STATUSES = ("running", "paused", "blocked", "unblocking", "initializing", "pending")

# Nomad's DeploymentStatusDescription* constants, word for word.
DESCRIPTION_RUNNING = "Deployment is running"
DESCRIPTION_RUNNING_NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
DESCRIPTION_RUNNING_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
DESCRIPTION_PAUSED = "Deployment is paused"
DESCRIPTION_SUCCESSFUL = "Deployment completed successfully"
DESCRIPTION_STOPPED_JOB = "Cancelled because job is stopped"
DESCRIPTION_NEWER_JOB = "Cancelled due to newer version of job"
DESCRIPTION_FAILED_ALLOCATIONS = "Failed due to unhealthy allocations"
DESCRIPTION_PROGRESS_DEADLINE = "Failed due to progress deadline"
DESCRIPTION_FAILED_BY_USER = "Deployment marked as failed"


def description_rollback(base: str, version: int) -> str:
    """Nomad's DeploymentStatusDescriptionRollback."""
    return f"{base} - rolling back to job version {version}"


def description_rollback_noop(base: str, version: int) -> str:
    """Nomad's DeploymentStatusDescriptionRollbackNoop."""
    return (f"{base} - not rolling back to stable job version {version} as current job has "
            "same specification")


def description_no_rollback_target(base: str) -> str:
    """Nomad's DeploymentStatusDescriptionNoRollbackTarget."""
    return f"{base} - no stable job version to auto revert to"


@dataclass
class DeploymentState(APIStruct):
    """One task group's part of a deployment (Nomad's DeploymentState)."""

    auto_revert: bool = False
    auto_promote: bool = False
    promoted: bool = False
    placed_canaries: list[str] = field(default_factory=list)
    desired_canaries: int = 0
    desired_total: int = 0
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0
    progress_deadline: int = 0
    require_progress_by: Optional[str] = None


@dataclass
class Deployment(APIStruct):
    id: str = ""
    namespace: str = "default"
    job_id: str = ""
    job_version: int = 0
    job_modify_index: int = 0
    job_spec_modify_index: int = 0
    job_create_index: int = 0
    is_multiregion: bool = False
    task_groups: dict[str, DeploymentState] = field(default_factory=dict)
    status: str = "running"
    status_description: str = ""
    eval_priority: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    def active(self) -> bool:
        """Nomad's Deployment.Active: not yet successful, failed or cancelled."""
        return self.status in ACTIVE_STATUSES

    def requires_promotion(self) -> bool:
        """A running deployment with a group whose canaries are not promoted yet."""
        return self.status == "running" and any(
            s.desired_canaries > 0 and not s.promoted for s in self.task_groups.values())

    def has_auto_promote(self) -> bool:
        """Every group with canaries promotes by itself (Nomad's HasAutoPromote)."""
        canaried = [s for s in self.task_groups.values() if s.desired_canaries > 0]
        return bool(canaried) and all(s.auto_promote for s in canaried)

    def has_placed_canaries(self) -> bool:
        return any(s.placed_canaries for s in self.task_groups.values())

    def running_description(self) -> str:
        """What a running deployment says: whether it waits for (automatic) promotion."""
        if self.requires_promotion():
            return DESCRIPTION_RUNNING_AUTO_PROMOTION if self.has_auto_promote() else \
                DESCRIPTION_RUNNING_NEEDS_PROMOTION
        return DESCRIPTION_RUNNING


@dataclass
class DeploymentStatusUpdate(APIStruct):
    """A deployment's new status and why (Nomad's DeploymentStatusUpdate): what the
    reconciler hands the plan and the deployment watcher hands the state store."""

    deployment_id: str = ""
    status: str = ""
    status_description: str = ""
