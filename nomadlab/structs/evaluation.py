"""Evaluations, the server's unit of work, and the placement metrics they record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ._base import APIStruct, internal_field
from .resources import Resources

__all__ = ["Evaluation", "AllocMetric", "NodeScoreMeta", "EVAL_STATUSES", "EVAL_TRIGGERS"]

EVAL_STATUSES = ("blocked", "pending", "complete", "failed", "canceled")
EVAL_TRIGGERS = (
    "job-register", "job-deregister", "periodic-job", "node-drain", "node-update",
    "alloc-stop", "scheduled", "rolling-update", "deployment-watcher", "failed-follow-up",
    "max-plan-attempts", "alloc-failure", "queued-allocs", "preemption", "job-scaling",
    "max-disconnect-timeout", "reconnect", "alloc-reschedule",
)


@dataclass
class NodeScoreMeta(APIStruct):
    """One node's scores per ranker and the normalised score (Nomad keeps the top 5)."""

    node_id: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    norm_score: float = 0.0


@dataclass
class AllocMetric(APIStruct):
    """Nomad's AllocationMetric: counts of what the placement stack filtered and scored.

    In nomadlab it is derived from an evaluation's trace, never kept separately.
    """

    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_in_pool: int = 0
    node_pool: str = ""
    nodes_available: dict[str, int] = field(default_factory=dict)
    class_filtered: dict[str, int] = field(default_factory=dict)
    constraint_filtered: dict[str, int] = field(default_factory=dict)
    nodes_exhausted: int = 0
    class_exhausted: dict[str, int] = field(default_factory=dict)
    dimension_exhausted: dict[str, int] = field(default_factory=dict)
    quota_exhausted: list[str] = field(default_factory=list)
    resources_exhausted: dict[str, Resources] = field(default_factory=dict)
    score_meta_data: list[NodeScoreMeta] = field(default_factory=list)
    allocation_time: int = 0
    coalesced_failures: int = 0


@dataclass
class Evaluation(APIStruct):
    """Why the server looked at a job again, and what that look decided."""

    id: str = ""
    namespace: str = "default"
    priority: int = 50
    type: str = ""
    triggered_by: str = ""
    job_id: str = ""
    job_modify_index: int = 0
    node_id: str = ""
    node_modify_index: int = 0
    deployment_id: str = ""
    status: str = "pending"
    status_description: str = ""
    wait: int = 0
    wait_until: Optional[str] = None
    next_eval: str = ""
    previous_eval: str = ""
    blocked_eval: str = ""
    failed_tg_allocs: dict[str, AllocMetric] = field(default_factory=dict)
    class_eligibility: dict[str, bool] = field(default_factory=dict)
    quota_limit_reached: str = ""
    escaped_computed_class: bool = False
    annotate_plan: bool = False
    queued_allocations: dict[str, int] = field(default_factory=dict)
    snapshot_index: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0
    #: What the scheduler decided and why, per task group and node; exists only
    #: in-process, never in the API JSON.
    trace: Optional[EvalTrace] = internal_field()


# At the end: the trace's records use AllocMetric above, and the dataclass annotation is
# resolved lazily (typing.get_type_hints), so importing it here breaks the cycle.
from .trace import EvalTrace  # noqa: E402
