"""The service and batch schedulers (Nomad's GenericScheduler), as a pure function.

``schedule`` reads one immutable snapshot, reconciles the job's desired and existing
allocations, asks the placement stack for a node per placement, and returns a
:class:`SchedulerResult`: the plan, the updated evaluation, the evaluations it creates
(blocked, follow-up) and the trace.  It starts no threads and reads no clock: ``now``,
the ID generator and the seed are given.  Submitting the plan and retrying on a refreshed
snapshot is the worker's job (see ``nomadlab.server.worker``).
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence

from ..structs import (AllocDeploymentStatus, AllocMetric, Allocation, Evaluation, Job, Node,
                       Plan, PlanAnnotations, RescheduleEvent, RescheduleTracker, TaskGroup)
from ..structs.deployment import Deployment
from ..structs.timestamps import format_rfc3339
from .reconcile import ReconcileResult, reconcile
from .reconcile_system import reconcile_system
from .stack import GenericStack, candidate_nodes
from ..structs.trace import EvalTrace

__all__ = ["SchedulerResult", "State", "schedule", "tainted_nodes", "BLOCKED_DESCRIPTION"]

BLOCKED_DESCRIPTION = "created to place remaining allocations"
FOLLOWUP_DESCRIPTION = "created for delayed rescheduling"


class State(Protocol):
    """The read-only view a scheduler needs (nomadlab.server.state.StateSnapshot has it)."""

    @property
    def index(self) -> int: ...
    def job(self, namespace: str, job_id: str) -> Optional[Job]: ...
    def allocs(self, job_id: Optional[str] = None, namespace: str = "default") -> list[Allocation]: ...
    def nodes(self) -> list[Node]: ...
    def node(self, node_id: str) -> Optional[Node]: ...
    def scheduler_config(self) -> Any: ...
    def latest_deployment(self, namespace: str, job_id: str) -> Optional[Deployment]: ...


@dataclass
class SchedulerResult:
    """Everything one run of a scheduler decided."""

    eval: Evaluation
    plan: Plan
    trace: EvalTrace
    new_evals: list[Evaluation] = field(default_factory=list)
    reconcile: Optional[ReconcileResult] = None


def _seed(seed: int, ev: Evaluation, index: int) -> int:
    """Node shuffling depends on the agent seed, the eval and the snapshot (as Nomad's does)."""
    return zlib.crc32(f"{seed}:{ev.id}:{index}".encode())


def tainted_nodes(state: State, allocs: Sequence[Allocation]) -> dict[str, Optional[Node]]:
    """Nodes of ``allocs`` that are down, disconnected, draining, or gone (None)."""
    tainted: dict[str, Optional[Node]] = {}
    for alloc in allocs:
        if not alloc.node_id or alloc.node_id in tainted:
            continue
        node = state.node(alloc.node_id)
        if node is None or node.status in ("down", "disconnected") or node.drain or \
                node.drain_strategy is not None:
            tainted[alloc.node_id] = node
    return tainted


def _existing_by_node(state: State) -> dict[str, list[Allocation]]:
    """Live allocations per node: what fit, ports and anti-affinity look at."""
    out: dict[str, list[Allocation]] = {}
    for alloc in state.allocs():
        if alloc.desired_status == "run" and alloc.client_status not in ("complete", "failed",
                                                                           "lost"):
            out.setdefault(alloc.node_id, []).append(alloc)
    return out


def schedule(ev: Evaluation, state: State, *, seed: int, new_id: Callable[[], str], now: int,
             explain: bool = False) -> SchedulerResult:
    """Run the scheduler of ``ev.type`` for ``ev`` against ``state``; commit nothing."""
    namespace = ev.namespace or "default"
    job = state.job(namespace, ev.job_id)
    allocs = state.allocs(ev.job_id, namespace)
    rng = random.Random(_seed(seed, ev, state.index))
    trace = EvalTrace(eval_id=ev.id, job_id=ev.job_id, snapshot_index=state.index,
                      explained=explain)
    plan = Plan(eval_id=ev.id, priority=ev.priority, job=job, snapshot_index=state.index,
                all_at_once=bool(job and job.all_at_once))
    tainted = tainted_nodes(state, allocs)
    system = ev.type in ("system", "sysbatch")
    nodes = state.nodes()
    deployment_id = ""
    if system:
        ready = candidate_nodes(nodes, job)[0] if job is not None and not job.stop else []
        ready_ids = {n.id for n in ready}
        not_ready = [n.id for n in nodes if n.id not in ready_ids and n.id not in tainted]
        result = reconcile_system(job, ev.job_id, allocs, ready, tainted,
                                  not_ready_node_ids=not_ready, sysbatch=ev.type == "sysbatch")
    else:
        result = reconcile(job, ev.job_id, allocs, tainted, now=now, batch=ev.type == "batch",
                           eval_id=ev.id, deployment=state.latest_deployment(namespace,
                                                                             ev.job_id),
                           eval_priority=ev.priority, new_id=new_id)
    trace.desired_updates = result.desired_tg_updates_api()
    plan.annotations = PlanAnnotations(desired_tg_updates=dict(result.desired_tg_updates))
    plan.deployment = result.deployment
    plan.deployment_updates = list(result.deployment_updates)
    deployment_id = result.deployment_id

    new_evals: list[Evaluation] = []
    followup_of: dict[str, str] = {}
    if result.limit_reached and job is not None and job.update is not None:
        # Nomad's NextRollingEval: the next max_parallel after the stagger period.
        wait = job.update.stagger or 0
        new_evals.append(Evaluation(
            id=new_id(), namespace=namespace, priority=ev.priority, type=ev.type,
            triggered_by="rolling-update", job_id=ev.job_id,
            job_modify_index=ev.job_modify_index, status="pending", wait=wait,
            wait_until=format_rfc3339(now + wait), previous_eval=ev.id, create_time=now,
            modify_time=now))
    for followup in result.followup_evals:
        fev = Evaluation(id=new_id(), namespace=namespace, priority=ev.priority, type=ev.type,
                         triggered_by=followup.triggered_by, job_id=ev.job_id,
                         job_modify_index=ev.job_modify_index, status="pending",
                         status_description=followup.status_description,
                         wait_until=format_rfc3339(followup.wait_until), previous_eval=ev.id,
                         create_time=now, modify_time=now)
        new_evals.append(fev)
        for alloc_id in followup.alloc_ids:
            followup_of[alloc_id] = fev.id

    for decision in result.stop:
        plan.append_stop(dataclasses.replace(
            decision.alloc, desired_status="stop", desired_description=decision.description,
            client_status=decision.client_status or decision.alloc.client_status,
            followup_eval_id=followup_of.get(decision.alloc.id, decision.alloc.followup_eval_id)))
    for alloc in result.inplace_update:
        if job is not None:
            moved = alloc.deployment_id != deployment_id
            plan.append_alloc(dataclasses.replace(
                alloc, job=job, eval_id=ev.id, modify_time=now, deployment_id=deployment_id,
                deployment_status=None if moved else alloc.deployment_status))
    for alloc_id, eval_id in followup_of.items():
        if not any(a.id == alloc_id for stops in plan.node_update.values() for a in stops):
            alloc = next((a for a in allocs if a.id == alloc_id), None)
            if alloc is not None:
                plan.append_alloc(dataclasses.replace(alloc, followup_eval_id=eval_id))

    for update in result.destructive_update:
        plan.append_stop(dataclasses.replace(
            update.alloc, desired_status="stop", desired_description=update.description))

    failed: dict[str, AllocMetric] = {}
    queued: dict[str, int] = {g.name: 0 for g in job.task_groups} if job is not None else {}
    if job is not None and not job.stop:
        placements = [(p.name, p.task_group, p.previous_alloc, p.reschedule,
                       p.reschedule_tracker, tuple(p.penalty_node_ids), p.node_id, p.canary,
                       p.downgrade_non_canary) for p in result.place]
        placements += [(u.name, u.task_group, u.alloc, False, None, (), "", False, False)
                       for u in result.destructive_update]
        stack = GenericStack(job, nodes, _existing_by_node(state), rng, batch=ev.type == "batch",
                             algorithm=_algorithm(state), explain=explain)
        for name, group_name, previous, reschedule, tracker, penalty, pinned, canary, \
                downgrade in placements:
            # While canaries are unpromoted an old allocation is replaced by its own version.
            alloc_job = previous.job if downgrade and previous is not None and \
                previous.job is not None and any(
                    g.name == group_name for g in previous.job.task_groups) else job
            group = alloc_job.group(group_name)
            if group_name in failed and not explain:
                failed[group_name].coalesced_failures += 1
                queued[group_name] = queued.get(group_name, 0) + 1
                continue
            selection, placement_trace = _select(stack, group, name, plan, penalty, pinned, nodes)
            trace.placements.append(placement_trace)
            if selection is None and pinned and not any(
                    r.outcome == "exhausted" for r in placement_trace.nodes):
                continue  # Nomad's system scheduler: a node the job cannot use is no failure
            if selection is None:
                failed[group_name] = placement_trace.metric()
                queued[group_name] = queued.get(group_name, 0) + 1
                continue
            alloc = Allocation(
                id=new_id(), namespace=namespace, eval_id=ev.id, name=name,
                node_id=selection.node.id, node_name=selection.node.name, job_id=job.id,
                job=alloc_job,
                task_group=group_name, allocated_resources=selection.fit.allocated,
                metrics=placement_trace.metric(), desired_status="run", client_status="pending",
                previous_allocation=previous.id if previous is not None else "",
                reschedule_tracker=_tracker(tracker, previous, reschedule, now),
                deployment_id=deployment_id,
                deployment_status=AllocDeploymentStatus(canary=True)
                if canary and deployment_id else None,
                create_time=now, modify_time=now)
            plan.append_alloc(alloc)
        ev_classes = stack.eligibility.classes()
        escaped = stack.eligibility.escaped
    else:
        ev_classes, escaped = {}, False

    done = dataclasses.replace(ev, status="complete", failed_tg_allocs=failed,
                               queued_allocations=queued, snapshot_index=state.index,
                               modify_time=now,
                               # Nomad's setStatus records the deployment the eval worked on
                               deployment_id=deployment_id or ev.deployment_id,
                               # keep "unblocked: <what freed capacity>" for the record
                               status_description=ev.status_description
                               if ev.status_description.startswith("unblocked: ") else "")
    if failed:
        blocked = Evaluation(
            id=new_id(), namespace=namespace, priority=ev.priority, type=ev.type,
            triggered_by="queued-allocs", job_id=ev.job_id, job_modify_index=ev.job_modify_index,
            status="blocked", status_description=BLOCKED_DESCRIPTION, previous_eval=ev.id,
            class_eligibility=ev_classes, escaped_computed_class=escaped,
            snapshot_index=state.index, create_time=now, modify_time=now)
        new_evals.append(blocked)
        done.blocked_eval = blocked.id
    done.trace = trace
    return SchedulerResult(eval=done, plan=plan, trace=trace, new_evals=new_evals,
                           reconcile=result)


def _select(stack: GenericStack, group: TaskGroup, name: str, plan: Plan,
            penalty: Sequence[str], pinned: str, nodes: Sequence[Node]) -> Any:
    """One placement; a system placement is pinned to its node (Nomad's SystemStack)."""
    if not pinned:
        return stack.select(group, name, plan.node_allocation, plan.node_update, penalty)
    saved, saved_offset = stack.source, stack.offset
    stack.source = [n for n in nodes if n.id == pinned]
    stack.offset = 0
    try:
        return stack.select(group, name, plan.node_allocation, plan.node_update, penalty)
    finally:
        stack.source, stack.offset = saved, saved_offset


def _tracker(tracker: Optional[RescheduleTracker], previous: Optional[Allocation],
             reschedule: bool, now: int) -> Optional[RescheduleTracker]:
    if tracker is not None:
        return tracker
    if not reschedule or previous is None:
        return None
    events = list(previous.reschedule_tracker.events) if previous.reschedule_tracker else []
    events.append(RescheduleEvent(reschedule_time=now, prev_alloc_id=previous.id,
                                  prev_node_id=previous.node_id))
    return RescheduleTracker(events=events)


def _algorithm(state: State) -> str:
    config = state.scheduler_config()
    return getattr(config, "scheduler_algorithm", "binpack") or "binpack"
