"""Small builders for reconciler tests: canonical jobs, their versions, allocs and nodes."""

from __future__ import annotations

import copy
import itertools
from typing import Any, Optional

from nomadlab.jobspec.defaults import canonicalize
from nomadlab.structs import (Allocation, DesiredTransition, Job, Node, ReschedulePolicy,
                              RescheduleEvent, RescheduleTracker, Resources, Task, TaskGroup,
                              TaskState)
from nomadlab.structs.duration import SECOND

_ids = itertools.count(1)

#: A fixed "now" far from zero so that times before it stay positive.
NOW = 1_700_000_000 * SECOND


def make_job(count: int = 3, *, job_id: str = "web", type: str = "service",
             groups: tuple[str, ...] = ("web",), version: int = 0,
             reschedule: Optional[ReschedulePolicy] = None, **fields: Any) -> Job:
    """A canonical job whose groups each run one docker task ``server`` ``count`` times."""
    job = Job(id=job_id, type=type, version=version, job_modify_index=100 + version,
              **fields)
    for name in groups:
        task = Task(name="server", driver="docker", config={"image": "nginx:1.25"},
                    resources=Resources(cpu=100, memory_mb=128))
        job.task_groups.append(TaskGroup(name=name, count=count, tasks=[task],
                                         reschedule_policy=copy.deepcopy(reschedule)))
    return canonicalize(job)


def new_version(job: Job, **changes: Any) -> Job:
    """The next version of ``job``; ``changes`` set group fields (``count=5``) on every group."""
    nxt = copy.deepcopy(job)
    nxt.version += 1
    nxt.job_modify_index += 1
    for group in nxt.task_groups:
        for key, value in changes.items():
            setattr(group, key, copy.deepcopy(value))
    return nxt


def make_alloc(job: Job, index: int, node_id: str = "node-1", *, group: Optional[str] = None,
               client_status: str = "running", desired_status: str = "run",
               version: Optional[int] = None, failed_at: Optional[int] = None,
               reschedule_events: Optional[list[RescheduleEvent]] = None,
               migrate: bool = False, alloc_id: Optional[str] = None,
               **fields: Any) -> Allocation:
    """An alloc of ``job`` named ``<job>.<group>[index]`` on ``node_id``.

    ``version`` places it with that job version (a copy of ``job`` with the version
    changed); ``failed_at`` makes it a failed alloc whose last task finished then.
    """
    group = group or job.task_groups[0].name
    alloc_job = copy.deepcopy(job)
    if version is not None:
        alloc_job.version = version
        alloc_job.job_modify_index = 100 + version
    alloc = Allocation(
        id=alloc_id or f"a{next(_ids):04d}", name=f"{job.id}.{group}[{index}]",
        node_id=node_id, job_id=job.id, job=alloc_job, task_group=group,
        client_status=client_status, desired_status=desired_status,
        desired_transition=DesiredTransition(migrate=True if migrate else None), **fields)
    if failed_at is not None:
        alloc.client_status = "failed"
        alloc.modify_time = failed_at
    if client_status == "complete":
        alloc.task_states = {"server": TaskState(state="dead", failed=False)}
    if reschedule_events is not None:
        alloc.reschedule_tracker = RescheduleTracker(events=list(reschedule_events))
    return alloc


def make_node(node_id: str, status: str = "ready", **fields: Any) -> Node:
    return Node(id=node_id, name=node_id, status=status, **fields)
