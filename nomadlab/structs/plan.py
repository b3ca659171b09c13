"""Plans: what a scheduler wants changed, and what the plan applier let through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct, api_field
from .allocation import Allocation
from .deployment import Deployment, DeploymentStatusUpdate
from .evaluation import AllocMetric
from .job import Job

__all__ = ["Plan", "PlanResult", "DesiredUpdates", "PlanAnnotations", "JobPlanResponse"]


@dataclass
class DesiredUpdates(APIStruct):
    """Per task group: how many allocations the plan places, stops, updates or leaves."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    inplace_update: int = api_field("InPlaceUpdate", default=0)
    destructive_update: int = 0
    canary: int = 0
    preemptions: int = 0


@dataclass
class PlanAnnotations(APIStruct):
    desired_tg_updates: dict[str, DesiredUpdates] = field(default_factory=dict)


@dataclass
class Plan(APIStruct):
    """A scheduler's proposal: allocations to stop (``node_update``) and to place or update
    (``node_allocation``), keyed by node ID, checked by the plan applier before commit."""

    eval_id: str = ""
    eval_token: str = ""
    priority: int = 50
    all_at_once: bool = False
    job: Optional[Job] = None
    node_update: dict[str, list[Allocation]] = field(default_factory=dict)
    node_allocation: dict[str, list[Allocation]] = field(default_factory=dict)
    annotations: Optional[PlanAnnotations] = None
    #: A deployment the plan creates or whose group states it changes, committed with it.
    deployment: Optional[Deployment] = None
    #: Status changes of deployments (successful, cancelled), committed with the plan.
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    snapshot_index: int = 0

    def append_stop(self, alloc: Allocation) -> None:
        self.node_update.setdefault(alloc.node_id, []).append(alloc)

    def append_alloc(self, alloc: Allocation) -> None:
        self.node_allocation.setdefault(alloc.node_id, []).append(alloc)

    def is_no_op(self) -> bool:
        return not any(self.node_update.values()) and not any(
            self.node_allocation.values()) and self.deployment is None and \
            not self.deployment_updates


@dataclass
class PlanResult(APIStruct):
    """What was committed; nodes whose part was rejected make the scheduler refresh."""

    node_update: dict[str, list[Allocation]] = field(default_factory=dict)
    node_allocation: dict[str, list[Allocation]] = field(default_factory=dict)
    rejected_nodes: list[str] = field(default_factory=list)
    #: The plan's deployment and deployment status updates, committed with it.
    deployment: Optional[Deployment] = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    refresh_index: int = 0
    alloc_index: int = 0
    failed_tg_allocs: dict[str, AllocMetric] = field(default_factory=dict)

    def fully_committed(self) -> bool:
        return not self.rejected_nodes


class JobPlanResponse(dict):
    """Nomad's JobPlanResponse (``nomad job plan``) as the API's JSON: a plain dict, so
    ``plan["Annotations"]["DesiredTGUpdates"]`` reads as in Nomad's docs, that also knows
    the job's type, so a notebook can show it the way ``nomad job plan`` prints it."""

    def __init__(self, data: dict, job_type: str = "service") -> None:
        super().__init__(data)
        self.job_type = job_type
