"""Deployments: the progress of a service job's rolling update, per task group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct

__all__ = ["Deployment", "DeploymentState", "DEPLOYMENT_STATUSES"]

DEPLOYMENT_STATUSES = ("running", "paused", "failed", "successful", "cancelled",
                       "initializing", "pending", "blocked", "unblocking")


@dataclass
class DeploymentState(APIStruct):
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
