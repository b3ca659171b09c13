"""The system and sysbatch reconciler: one allocation per task group on every eligible node.

A port of Nomad's ``diffSystemAllocs`` / ``diffSystemAllocsForNode``
(``scheduler/scheduler_system_util.go`` in older trees, ``reconcile_node.go`` in newer) and of
how ``SystemScheduler.computeJobAllocs`` turns the diff into decisions. Per node and per
required name ``<job>.<group>[i]`` (``i < count``, normally just ``[0]``):

* no allocation there and the node is eligible: **place** one pinned to the node;
* an allocation whose group left the job, or on a node no longer eligible: **stop**;
* marked for migration by a drain: **stop** ("alloc not needed as node is tainted"; system
  allocs are not moved elsewhere);
* on a node that is down, disconnected or gone: **stop** as lost, with no replacement;
* on a node that is not ready (e.g. draining) or for a current job version: **ignore**;
* for an older job version: update **in place** or **destructively**
  (``tasks_updated``), destructive ones ``update.max_parallel`` at a time;
* sysbatch: a finished allocation on a node is not run again unless the job changed
  destructively.

The result is the same :class:`~nomadlab.scheduler.reconcile.ReconcileResult` the generic
reconciler returns; its placements carry ``node_id``.
"""

from __future__ import annotations

from typing import Collection, Mapping, Optional, Sequence

from ..structs import Allocation, Job, Node, TaskGroup
from .reconcile import (ALLOC_LOST, ALLOC_NODE_TAINTED, ALLOC_NOT_NEEDED, AllocUpdateFn,
                        DestructiveUpdate, Placement, ReconcileResult, StopDecision, _Counts,
                        _ordered, _ran_successfully, alloc_name,
                        generic_alloc_update)

__all__ = ["reconcile_system"]


def _required(job: Optional[Job], job_id: str) -> dict[str, TaskGroup]:
    """Nomad's ``materializeSystemTaskGroups``: every alloc name the job wants per node."""
    if job is None or job.stop:
        return {}
    prefix = job.name or job_id
    return {alloc_name(prefix, g.name, i): g for g in job.task_groups for i in range(g.count or 0)}


def _newest_first(alloc: Allocation) -> tuple[int, int]:
    modify = alloc.job.job_modify_index if alloc.job is not None else 0
    return (-modify, -alloc.create_index)


def reconcile_system(job: Optional[Job], job_id: str, allocs: Sequence[Allocation],
                     nodes: Sequence[Node], tainted_nodes: Mapping[str, Optional[Node]], *,
                     not_ready_node_ids: Collection[str] = (), sysbatch: Optional[bool] = None,
                     update_fn: AllocUpdateFn = generic_alloc_update) -> ReconcileResult:
    """Decide what must change so a system/sysbatch job runs once per group on ``nodes``.

    ``nodes`` are the ready nodes the job should run on (in its datacenters and node pool,
    feasible as far as the caller checked). ``not_ready_node_ids`` are nodes in scope but
    not ready (draining, ineligible): their allocs are left alone and nothing new goes
    there. ``tainted_nodes`` is as for :func:`~nomadlab.scheduler.reconcile.reconcile`.
    ``sysbatch`` defaults to whether ``job`` is a sysbatch job.
    """
    if sysbatch is None:
        sysbatch = job is not None and job.type == "sysbatch"
    required = _required(job, job_id)
    eligible = {n.id for n in nodes}
    not_ready = set(not_ready_node_ids)

    live_by_node: dict[str, list[Allocation]] = {}
    terminal: dict[tuple[str, str], Allocation] = {}
    for alloc in allocs:
        if alloc.terminal_status():
            key = (alloc.node_id, alloc.name)
            seen = terminal.get(key)
            if seen is None or alloc.create_index > seen.create_index:
                terminal[key] = alloc
        else:
            live_by_node.setdefault(alloc.node_id, []).append(alloc)
    for node_id in eligible:
        live_by_node.setdefault(node_id, [])

    counts: dict[str, _Counts] = {}
    place: list[Placement] = []
    stop: list[StopDecision] = []
    inplace: list[Allocation] = []
    destructive: list[DestructiveUpdate] = []
    ignore: list[Allocation] = []

    def count(group: str) -> _Counts:
        return counts.setdefault(group, _Counts())

    def do_stop(alloc: Allocation, description: str, client_status: str = "") -> None:
        stop.append(StopDecision(alloc, description, client_status))
        count(alloc.task_group).stop += 1

    def do_ignore(alloc: Allocation) -> None:
        ignore.append(alloc)
        count(alloc.task_group).ignore += 1

    for group in (job.task_groups if job is not None and not job.stop else []):
        count(group.name)
    pending_updates: list[tuple[str, Allocation, Optional[Allocation]]] = []
    for node_id in sorted(live_by_node):
        tainted = node_id in tainted_nodes
        node = tainted_nodes.get(node_id)
        # Per name: the allocs that would keep running (ignore or update), newest first.
        keep: dict[str, list[tuple[str, Allocation, Optional[Allocation]]]] = {}
        for alloc in _ordered(live_by_node[node_id]):
            group = required.get(alloc.name)
            if group is None:
                do_stop(alloc, ALLOC_NOT_NEEDED)
            elif alloc.desired_transition.migrate:
                stop.append(StopDecision(alloc, ALLOC_NODE_TAINTED))
                count(alloc.task_group).migrate += 1
            elif tainted:
                if sysbatch and _ran_successfully(alloc):
                    do_ignore(alloc)
                elif node is None or node.status in ("down", "disconnected"):
                    do_stop(alloc, ALLOC_LOST, "lost")
                else:
                    do_ignore(alloc)
            elif node_id in not_ready:
                do_ignore(alloc)
            elif node_id not in eligible:
                do_stop(alloc, ALLOC_NOT_NEEDED)
            else:
                assert job is not None
                kind, updated = update_fn(alloc, job, group)
                keep.setdefault(alloc.name, []).append((kind, alloc, updated))
        for name in sorted(keep):
            # Nomad's ensureMaxSystemAllocCount: one alloc per name and node; prefer
            # current ones, then the newest job version and creation.
            ranked = sorted(keep[name], key=lambda t: (t[0] != "ignore", _newest_first(t[1])))
            pending_updates.append(ranked[0])
            for _, extra, _ in ranked[1:]:
                do_stop(extra, ALLOC_NOT_NEEDED)

        existing = {a.name for a in live_by_node[node_id]}
        for name in sorted(required, key=lambda n: (required[n].name, n)):
            if name in existing:
                continue
            group = required[name]
            done = terminal.get((node_id, name))
            if sysbatch and done is not None:
                assert job is not None
                kind, updated = update_fn(done, job, group)
                pending_updates.append((kind, done, updated))
                continue
            if tainted or node_id not in eligible:
                continue
            place.append(Placement(name, group.name, previous_alloc=done, node_id=node_id))
            count(group.name).place += 1

    limit = len(pending_updates)
    limit_reached = False
    update = job.update if job is not None else None
    if update is not None and (update.stagger or 0) > 0 and (update.max_parallel or 0) > 0:
        limit = update.max_parallel or 0
    for kind, alloc, updated in pending_updates:
        if kind == "ignore":
            do_ignore(alloc)
        elif kind == "inplace":
            inplace.append(updated if updated is not None else alloc)
            count(alloc.task_group).inplace_update += 1
        elif kind == "destructive" and limit > 0:
            limit -= 1
            destructive.append(DestructiveUpdate(alloc, alloc.name, alloc.task_group))
            count(alloc.task_group).destructive_update += 1
        elif kind == "destructive":
            limit_reached = True
            do_ignore(alloc)
        else:
            raise ValueError(f"alloc update function returned {kind!r}; expected "
                             "'ignore', 'inplace' or 'destructive'")

    return ReconcileResult(
        place=tuple(place), stop=tuple(stop), inplace_update=tuple(inplace),
        destructive_update=tuple(destructive), ignore=tuple(ignore),
        desired_tg_updates={g: c.freeze() for g, c in sorted(counts.items())},
        limit_reached=limit_reached)
