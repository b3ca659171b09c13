"""The reconciler: what must change so a service or batch job's allocations match the job.

A port of Nomad's ``allocReconciler`` (``scheduler/reconcile.go``, ``reconcile_util.go``),
with deployments and canaries. Per task group it sorts the existing allocations into
named buckets by set operations --

* **ignore**: already stopped by the server, or terminal batch allocs of older versions;
* **lost**: on a node that is down, disconnected or gone;
* **migrate**: marked by a drain (``DesiredTransition.Migrate``);
* **reschedule now / later**: failed and allowed another attempt by the group's
  ``reschedule`` policy, now or after its delay;
* **untainted**: everything else, which counts towards ``count``

-- and decides what to **place** (lowest free name indexes first; replacements keep the
old alloc's name and point at it), **stop** (highest indexes first on a count decrease),
update **in place** or **destructively**, and which **follow-up evaluations** must wake up
the scheduler when delayed reschedules fall due. It reads no clock and touches no state:
the result is a plain value the scheduler turns into a plan.

Deployments: a job version whose groups have an ``update`` block gets a deployment when
something must change (its first registration too). Destructive updates go
``max_parallel`` at a time, less the deployment's allocs not yet healthy; ``canary``
places canaries first and leaves the old allocs alone until the deployment is promoted;
a paused or failed deployment places nothing new (lost and failed allocs aside). The
deployment is marked successful once every group has placed and is healthy, and an
older version's active deployment is cancelled. The result carries the deployment and
the status updates, so the plan commits them together with the allocations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Mapping, Optional, Sequence

from ..structs import (Allocation, DesiredUpdates, Job, Node, RescheduleTracker, TaskGroup,
                       UpdateStrategy)
from ..structs.deployment import (DESCRIPTION_NEWER_JOB, DESCRIPTION_RUNNING,
                                  DESCRIPTION_STOPPED_JOB, DESCRIPTION_SUCCESSFUL, Deployment,
                                  DeploymentState, DeploymentStatusUpdate)
from ..structs.duration import SECOND
from .reschedule import (RESCHEDULE_WINDOW, next_reschedule_time, next_reschedule_tracker,
                         penalty_node_ids)
from .tasks_updated import tasks_updated

__all__ = [
    "reconcile", "ReconcileResult", "Placement", "StopDecision", "DestructiveUpdate",
    "DesiredUpdates", "FollowupEval", "AllocUpdateFn", "generic_alloc_update", "alloc_name",
    "NameIndex", "ALLOC_NOT_NEEDED", "ALLOC_MIGRATING", "ALLOC_UPDATING", "ALLOC_LOST",
    "ALLOC_RESCHEDULED", "ALLOC_NODE_TAINTED", "BATCHED_FAILED_ALLOC_WINDOW",
    "RESCHEDULING_FOLLOWUP_EVAL_DESC",
]

# Nomad's descriptions, word for word (scheduler/generic_sched.go).
ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"
ALLOC_NODE_TAINTED = "alloc not needed as node is tainted"
RESCHEDULING_FOLLOWUP_EVAL_DESC = "created for delayed rescheduling"

#: Failed allocs due within this window of each other share one follow-up evaluation.
BATCHED_FAILED_ALLOC_WINDOW = 5 * SECOND


def alloc_name(job_id: str, group: str, index: int) -> str:
    """Nomad's ``AllocName``: ``<job>.<group>[<index>]``."""
    return f"{job_id}.{group}[{index}]"


@dataclass(frozen=True)
class Placement:
    """A new allocation to place; a replacement names the alloc it replaces.

    ``reschedule`` marks the replacement of a failed alloc; it carries the reschedule
    tracker for the new alloc and the nodes the node-reschedule penalty applies to.
    ``lost`` marks the replacement of an alloc on a lost node. ``node_id`` is set only
    by the system reconciler, whose placements are pinned to one node each.
    ``canary`` places a canary of the deployment; ``downgrade_non_canary`` replaces an
    old allocation while canaries are unpromoted, so the replacement runs the old
    allocation's job version (Nomad's downgradeNonCanary).
    """

    name: str
    task_group: str
    previous_alloc: Optional[Allocation] = None
    reschedule: bool = False
    lost: bool = False
    canary: bool = False
    downgrade_non_canary: bool = False
    reschedule_tracker: Optional[RescheduleTracker] = None
    penalty_node_ids: frozenset[str] = frozenset()
    node_id: str = ""

    @property
    def index(self) -> int:
        return int(self.name[self.name.rindex("[") + 1:-1])


@dataclass(frozen=True)
class StopDecision:
    """An allocation to stop, with Nomad's description and, for lost allocs, ``lost``."""

    alloc: Allocation
    description: str
    client_status: str = ""


@dataclass(frozen=True)
class DestructiveUpdate:
    """Stop ``alloc`` and place a new one of the same name with the new job, atomically."""

    alloc: Allocation
    name: str
    task_group: str
    description: str = ALLOC_UPDATING


@dataclass(frozen=True)
class FollowupEval:
    """An evaluation to create now that waits until ``wait_until`` (a delayed reschedule).

    Each alloc in ``alloc_ids`` should get the new evaluation's ID as its
    ``followup_eval_id``, so later evaluations do not create another one for it.
    """

    task_group: str
    wait_until: int
    alloc_ids: tuple[str, ...]
    triggered_by: str = "alloc-failure"
    status_description: str = RESCHEDULING_FOLLOWUP_EVAL_DESC


@dataclass(frozen=True)
class ReconcileResult:
    """What the scheduler must do for one job. Every list is in a deterministic order."""

    place: tuple[Placement, ...] = ()
    stop: tuple[StopDecision, ...] = ()
    inplace_update: tuple[Allocation, ...] = ()
    destructive_update: tuple[DestructiveUpdate, ...] = ()
    ignore: tuple[Allocation, ...] = ()
    desired_tg_updates: dict[str, DesiredUpdates] = field(default_factory=dict)
    followup_evals: tuple[FollowupEval, ...] = ()
    #: A deployment this evaluation creates, to be committed with the plan.
    deployment: Optional[Deployment] = None
    #: Status changes of deployments: successful, or cancelled by a stop or a newer version.
    deployment_updates: tuple[DeploymentStatusUpdate, ...] = ()
    #: The active deployment that placements and in-place updates belong to ("" if none).
    deployment_id: str = ""
    #: System jobs: destructive updates were held back by ``max_parallel``; the rest
    #: follow after ``stagger`` (Nomad's limitReached).
    limit_reached: bool = False

    def desired_tg_updates_api(self) -> dict[str, dict[str, int]]:
        """``Annotations.DesiredTGUpdates`` as Nomad's plan endpoint returns it."""
        return {group: u.to_api() for group, u in sorted(self.desired_tg_updates.items())}

    @property
    def is_empty(self) -> bool:
        """Nothing to place, stop or update (ignored allocs and follow-ups aside)."""
        return not (self.place or self.stop or self.inplace_update or self.destructive_update
                    or self.deployment or self.deployment_updates)


#: ``(existing alloc, new job, new group) -> ("ignore" | "inplace" | "destructive", updated)``.
#: For "inplace", ``updated`` is the alloc as it will be after the update (or None to keep
#: the existing one). The scheduler passes one that also asks the stack whether the alloc
#: still fits its node, as Nomad's ``genericAllocUpdateFn`` does.
AllocUpdateFn = Callable[[Allocation, Job, TaskGroup], tuple[str, Optional[Allocation]]]


def generic_alloc_update(existing: Allocation, new_job: Job,
                         new_group: TaskGroup) -> tuple[str, Optional[Allocation]]:
    """The node-independent part of Nomad's ``genericAllocUpdateFn``.

    Same job version: ignore. Destructive change (``tasks_updated``): destructive.
    A terminal alloc is never updated in place: ignore. Otherwise in place.
    """
    old_job = existing.job
    if old_job is None or (old_job.version == new_job.version
                           and old_job.job_modify_index == new_job.job_modify_index):
        return "ignore", None
    if tasks_updated(new_job, old_job, new_group.name):
        return "destructive", None
    if existing.terminal_status():
        return "ignore", None
    return "inplace", None


AllocSet = dict[str, Allocation]



def _ran_successfully(alloc: Allocation) -> bool:
    return bool(alloc.task_states) and all(
        s.state == "dead" and not s.failed for s in alloc.task_states.values())


def _ordered(allocs: Iterable[Allocation]) -> list[Allocation]:
    return sorted(allocs, key=lambda a: (a.index, a.id))


def _difference(a: AllocSet, *others: AllocSet) -> AllocSet:
    return {k: v for k, v in a.items() if not any(k in o for o in others)}


def _union(*sets: AllocSet) -> AllocSet:
    out: AllocSet = {}
    for s in sets:
        out.update(s)
    return out


class NameIndex:
    """Which ``<job>.<group>[i]`` names are taken (Nomad's ``allocNameIndex`` bitmap)."""

    def __init__(self, job_id: str, group: str, count: int, allocs: Iterable[Allocation]):
        self.job_id, self.group, self.count = job_id, group, count
        self.used: set[int] = {a.index for a in allocs}

    def next(self, n: int) -> list[str]:
        """The ``n`` lowest free names below ``count``; then reused low ones if short."""
        names: list[str] = []
        for i in range(self.count):
            if len(names) == n:
                return names
            if i not in self.used:
                self.used.add(i)
                names.append(alloc_name(self.job_id, self.group, i))
        for i in range(n - len(names)):
            self.used.add(i)
            names.append(alloc_name(self.job_id, self.group, i))
        return names

    def next_canaries(self, n: int, existing: AllocSet, destructive: AllocSet) -> list[str]:
        """Nomad's NextCanaries: names of allocs being replaced first (no duplicate names
        once they are), then free ones, then past ``count`` so canaries do not overlap."""
        taken = {a.name for a in existing.values()}
        names: list[str] = []
        if n <= 0:
            return names
        preferred = sorted({a.index for a in destructive.values() if a.index < self.count})
        for i in [*preferred, *(i for i in range(self.count) if i not in self.used)]:
            name = alloc_name(self.job_id, self.group, i)
            if name in taken or name in names:
                continue
            self.used.add(i)
            names.append(name)
            if len(names) == n:
                return names
        for i in range(self.count, self.count + n - len(names)):
            names.append(alloc_name(self.job_id, self.group, i))
        return names

    def highest(self, n: int) -> set[str]:
        """Release and return the ``n`` highest taken names."""
        chosen = sorted(self.used, reverse=True)[:n]
        self.used.difference_update(chosen)
        return {alloc_name(self.job_id, self.group, i) for i in chosen}

    def unset(self, index: int) -> None:
        self.used.discard(index)


@dataclass
class _Counts:
    place: int = 0
    stop: int = 0
    migrate: int = 0
    inplace_update: int = 0
    destructive_update: int = 0
    ignore: int = 0
    canary: int = 0

    def freeze(self) -> DesiredUpdates:
        return DesiredUpdates(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass
class _Delayed:
    alloc: Allocation
    reschedule_time: int


def _update_empty(update: Optional[UpdateStrategy]) -> bool:
    """Nomad's UpdateStrategy.IsEmpty: no update block, or one with max_parallel 0."""
    return update is None or not (update.max_parallel or 0)


def _healthy(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.healthy is True


def _unhealthy(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.healthy is False


def _is_canary(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.canary


class _Reconciler:
    def __init__(self, job: Optional[Job], job_id: str, allocs: Sequence[Allocation],
                 tainted_nodes: Mapping[str, Optional[Node]], now: int, batch: bool,
                 eval_id: str, update_fn: AllocUpdateFn, deployment: Optional[Deployment],
                 eval_priority: int, new_id: Callable[[], str]):
        self.job, self.job_id, self.allocs = job, job_id, allocs
        self.tainted, self.now, self.batch = tainted_nodes, now, batch
        self.eval_id, self.update_fn = eval_id, update_fn
        self.eval_priority, self.new_id = eval_priority, new_id
        #: The job's latest deployment while it is the current version's and unfinished.
        self.deployment: Optional[Deployment] = copy.deepcopy(deployment)
        self.old_deployment: Optional[Deployment] = None
        self.deployment_paused = False
        self.deployment_failed = False
        #: The deployment the plan must write in full (a new one).
        self.result_deployment: Optional[Deployment] = None
        self.deployment_updates: list[DeploymentStatusUpdate] = []
        self.place: list[Placement] = []
        self.stop: list[StopDecision] = []
        self.inplace: list[Allocation] = []
        self.destructive: list[DestructiveUpdate] = []
        self.ignore: list[Allocation] = []
        self.counts: dict[str, _Counts] = {}
        self.followups: list[FollowupEval] = []

    def compute(self) -> ReconcileResult:
        matrix: dict[str, AllocSet] = {}
        for alloc in self.allocs:
            matrix.setdefault(alloc.task_group, {})[alloc.id] = alloc
        stopped = self.job is None or self.job.stop
        self._cancel_unneeded_deployments(stopped)
        if stopped:
            for name in sorted(matrix):
                self._handle_stop(name, matrix[name])
        else:
            assert self.job is not None
            for group in self.job.task_groups:
                matrix.setdefault(group.name, {})
            if self.deployment is not None:
                self.deployment_paused = self.deployment.status in ("paused", "pending")
                self.deployment_failed = self.deployment.status == "failed"
            complete = True
            for name in sorted(matrix):
                complete = self._compute_group(name, matrix[name]) and complete
            self._compute_deployment_updates(complete)
        active = self.deployment is not None and self.deployment.active()
        return ReconcileResult(
            place=tuple(self.place), stop=tuple(self.stop), inplace_update=tuple(self.inplace),
            destructive_update=tuple(self.destructive), ignore=tuple(self.ignore),
            desired_tg_updates={g: c.freeze() for g, c in self.counts.items()},
            followup_evals=tuple(self.followups), deployment=self.result_deployment,
            deployment_updates=tuple(self.deployment_updates),
            deployment_id=self.deployment.id if active and self.deployment else "")

    # -- deployments -----------------------------------------------------------------

    def _cancel_unneeded_deployments(self, stopped: bool) -> None:
        """Nomad's cancelUnneededDeployments: a stopped job or a newer version cancels the
        active deployment; a finished one is no longer the current deployment."""
        d = self.deployment
        if d is None:
            return
        if stopped:
            if d.active():
                self.deployment_updates.append(DeploymentStatusUpdate(
                    d.id, "cancelled", DESCRIPTION_STOPPED_JOB))
            self.old_deployment, self.deployment = d, None
            return
        assert self.job is not None
        if d.job_create_index != self.job.create_index or d.job_version != self.job.version:
            if d.active():
                self.deployment_updates.append(DeploymentStatusUpdate(
                    d.id, "cancelled", DESCRIPTION_NEWER_JOB))
            self.old_deployment, self.deployment = d, None
        elif d.status == "successful":
            self.old_deployment, self.deployment = d, None

    def _initialize_deployment_state(self, name: str, group: TaskGroup
                                     ) -> tuple[DeploymentState, bool]:
        if self.deployment is not None and name in self.deployment.task_groups:
            return self.deployment.task_groups[name], True
        state = DeploymentState()
        if not _update_empty(group.update):
            assert group.update is not None
            state.auto_revert = bool(group.update.auto_revert)
            state.auto_promote = bool(group.update.auto_promote)
            state.progress_deadline = group.update.progress_deadline or 0
        return state, False

    def _create_deployment(self, name: str, group: TaskGroup, existing: bool,
                           dstate: DeploymentState, all_allocs: AllocSet,
                           destructive: AllocSet) -> None:
        """Nomad's createDeployment: a deployment for a version with something to roll out."""
        assert self.job is not None
        if existing or self.batch or _update_empty(group.update) or dstate.desired_total == 0:
            return
        updating_spec = bool(destructive) or bool(self.inplace)
        had_running = any(a.job is not None and a.job.version == self.job.version
                          and a.job.create_index == self.job.create_index
                          for a in all_allocs.values())
        if had_running and not updating_spec:
            return
        if self.deployment is None:
            job = self.job
            self.deployment = Deployment(
                id=self.new_id(), namespace=job.namespace or "default", job_id=job.id,
                job_version=job.version, job_modify_index=job.modify_index,
                job_spec_modify_index=job.job_modify_index, job_create_index=job.create_index,
                status="running", status_description=DESCRIPTION_RUNNING,
                eval_priority=self.eval_priority, create_time=self.now, modify_time=self.now)
            self.result_deployment = self.deployment
        self.deployment.task_groups[name] = dstate

    def _compute_deployment_updates(self, complete: bool) -> None:
        d = self.deployment
        if d is not None and complete and d.active():
            self.deployment_updates.append(DeploymentStatusUpdate(
                d.id, "successful", DESCRIPTION_SUCCESSFUL))
        if self.result_deployment is not None:
            self.result_deployment.status_description = \
                self.result_deployment.running_description()

    def _cancel_unneeded_canaries(self, original: AllocSet, counts: _Counts
                                  ) -> tuple[AllocSet, AllocSet]:
        """(canaries, all): unpromoted canaries of an older or failed deployment stop; the
        current deployment's canaries on tainted nodes stop (not counted, as in Nomad)."""
        stop_ids: list[str] = []
        for d in (self.old_deployment,
                  self.deployment if self.deployment_failed else None):
            if d is None:
                continue
            for dstate in d.task_groups.values():
                if not dstate.promoted:
                    stop_ids.extend(dstate.placed_canaries)
        stop_set = {i: original[i] for i in stop_ids if i in original
                    and not original[i].terminal_status()}
        self._mark_stop(stop_set.values(), ALLOC_NOT_NEEDED)
        counts.stop += len(stop_set)
        all_allocs = _difference(original, stop_set)
        canaries: AllocSet = {}
        if self.deployment is not None:
            ids = {i for s in self.deployment.task_groups.values() for i in s.placed_canaries}
            current = {k: a for k, a in all_allocs.items() if k in ids}
            untainted, migrate, lost, _ = self._filter_by_tainted(current)
            self._mark_stop(migrate.values(), ALLOC_MIGRATING)
            self._mark_stop(lost.values(), ALLOC_LOST, "lost")
            canaries = untainted
            all_allocs = _difference(all_allocs, migrate, lost)
        return canaries, all_allocs

    # -- buckets ---------------------------------------------------------------------

    def _filter_by_tainted(self, allocs: AllocSet) -> tuple[AllocSet, AllocSet, AllocSet, AllocSet]:
        """(untainted, migrate, lost, ignore), Nomad's ``filterByTainted`` without reconnects.

        Nodes that are disconnected count as down: nomadlab has no disconnect grace
        period, which is what Nomad does when ``disconnect.lost_after`` is not set.
        """
        untainted: AllocSet = {}
        migrate: AllocSet = {}
        lost: AllocSet = {}
        ignore: AllocSet = {}
        for alloc in _ordered(allocs.values()):
            if alloc.terminal_status():
                (ignore if alloc.server_terminal_status() else untainted)[alloc.id] = alloc
                continue
            if alloc.desired_transition.migrate:
                migrate[alloc.id] = alloc
                continue
            if alloc.node_id not in self.tainted:
                untainted[alloc.id] = alloc
                continue
            node = self.tainted[alloc.node_id]
            if node is None or node.status in ("down", "disconnected"):
                lost[alloc.id] = alloc
            else:
                untainted[alloc.id] = alloc
        return untainted, migrate, lost, ignore

    def _should_filter(self, alloc: Allocation) -> tuple[bool, bool]:
        """(untainted, ignore): Nomad's ``shouldFilter`` for rescheduling."""
        if self.batch:
            if alloc.desired_transition.reschedule:
                return False, False
            if alloc.desired_status == "stop":
                return _ran_successfully(alloc), not _ran_successfully(alloc)
            if alloc.desired_status == "evict":
                return False, True
            return alloc.client_status != "failed", False
        if alloc.server_terminal_status() or alloc.client_status in ("complete", "lost"):
            return False, True
        return False, False

    def _filter_by_rescheduleable(self, allocs: AllocSet, group: TaskGroup
                                  ) -> tuple[AllocSet, AllocSet, list[_Delayed]]:
        """(untainted, reschedule now, reschedule later), Nomad's ``filterByRescheduleable``."""
        untainted: AllocSet = {}
        now_set: AllocSet = {}
        later: list[_Delayed] = []
        for alloc in allocs.values():
            if alloc.next_allocation and alloc.terminal_status():
                continue
            is_untainted, ignore = self._should_filter(alloc)
            if is_untainted:
                untainted[alloc.id] = alloc
                continue
            if ignore:
                continue
            now_ok, later_ok, when = self._update_by_reschedulable(alloc, group)
            if now_ok:
                now_set[alloc.id] = alloc
                continue
            untainted[alloc.id] = alloc
            if later_ok:
                later.append(_Delayed(alloc, when))
        return untainted, now_set, later

    def _policy_of(self, alloc: Allocation, group: TaskGroup):
        """The reschedule policy the alloc was placed with (its own job version's group)."""
        job = alloc.job
        if job is not None:
            for g in job.task_groups:
                if g.name == alloc.task_group:
                    return g.reschedule_policy
            return None
        return group.reschedule_policy

    def _update_by_reschedulable(self, alloc: Allocation, group: TaskGroup
                                 ) -> tuple[bool, bool, int]:
        d = self.deployment
        if d is not None and alloc.deployment_id == d.id and d.active() and \
                not alloc.desired_transition.reschedule:
            # An active deployment's allocs are replaced only once the deployment
            # watcher allows it (it marks them ``DesiredTransition.Reschedule``).
            return False, False, 0
        force = bool(alloc.desired_transition.force_reschedule)
        job_type = (alloc.job.type if alloc.job is not None else None) or \
            ("batch" if self.batch else "service")
        when, eligible = next_reschedule_time(alloc, self._policy_of(alloc, group), job_type)
        followup_due = bool(alloc.followup_eval_id) and alloc.followup_eval_id == self.eval_id
        if eligible and (followup_due or when - self.now <= RESCHEDULE_WINDOW):
            return True, False, when
        return force, eligible and not alloc.followup_eval_id, when

    # -- decisions -------------------------------------------------------------------

    def _mark_stop(self, allocs: Iterable[Allocation], description: str,
                   client_status: str = "") -> int:
        n = 0
        for alloc in _ordered(allocs):
            self.stop.append(StopDecision(alloc, description, client_status))
            n += 1
        return n

    def _filter_and_stop_all(self, allocs: AllocSet) -> int:
        untainted, migrate, lost, _ = self._filter_by_tainted(allocs)
        return (self._mark_stop(untainted.values(), ALLOC_NOT_NEEDED)
                + self._mark_stop(migrate.values(), ALLOC_NOT_NEEDED)
                + self._mark_stop(lost.values(), ALLOC_LOST, "lost"))

    def _handle_stop(self, name: str, allocs: AllocSet) -> None:
        counts = self.counts.setdefault(name, _Counts())
        live = {k: a for k, a in allocs.items() if not a.terminal_status()}
        counts.stop += self._filter_and_stop_all(live)

    def _compute_group(self, name: str, all_allocs: AllocSet) -> bool:
        """Decide one group; True when its part of the deployment is complete."""
        assert self.job is not None
        job = self.job
        counts = self.counts.setdefault(name, _Counts())
        group = next((g for g in job.task_groups if g.name == name), None)
        if group is None:
            counts.stop += self._filter_and_stop_all(all_allocs)
            return True
        dstate, existing_deployment = self._initialize_deployment_state(name, group)

        all_allocs, old_terminal = self._filter_old_terminal(all_allocs)
        self._ignore(counts, old_terminal.values())
        canaries, all_allocs = self._cancel_unneeded_canaries(all_allocs, counts)

        untainted, migrate, lost, ignore = self._filter_by_tainted(all_allocs)
        self._ignore(counts, ignore.values())

        untainted, reschedule_now, reschedule_later = \
            self._filter_by_rescheduleable(untainted, group)
        self._create_followup_evals(name, reschedule_later)

        names = NameIndex(self.job_id, name, group.count or 0,
                          _union(untainted, migrate, reschedule_now, lost).values())

        is_canarying = dstate.desired_canaries != 0 and not dstate.promoted
        stop = self._compute_stop(group, names, untainted, migrate, lost, canaries,
                                  is_canarying)
        counts.stop += len(stop)
        untainted = _difference(untainted, stop)
        migrate = _difference(migrate, stop)

        ignore_updates, inplace, destructive = self._compute_updates(group, untainted)
        self._ignore(counts, ignore_updates)
        counts.inplace_update += len(inplace)
        if not existing_deployment:
            dstate.desired_total += len(destructive) + len(inplace)

        if is_canarying:
            untainted = _difference(untainted, canaries)
        requires_canaries = self._requires_canaries(group, dstate, destructive, canaries)
        if requires_canaries:
            self._compute_canaries(group, dstate, destructive, canaries, counts, names)

        is_canarying = dstate.desired_canaries != 0 and not dstate.promoted
        under_provisioned_by = self._under_provisioned_by(group, untainted, destructive,
                                                          migrate, is_canarying)
        place = self._compute_placements(group, names, untainted, migrate, reschedule_now,
                                         lost, is_canarying)
        if not existing_deployment:
            dstate.desired_total += len(place)

        place_ready = not self.deployment_paused and not self.deployment_failed and \
            not is_canarying
        under_provisioned_by = self._compute_replacements(
            place_ready, counts, place, reschedule_now, lost, under_provisioned_by)

        ordered = _ordered(destructive.values())
        n = min(len(destructive), under_provisioned_by) if place_ready else 0
        counts.destructive_update += n
        for alloc in ordered[:n]:
            self.destructive.append(DestructiveUpdate(alloc, alloc.name, name))
        self._ignore(counts, ordered[n:])

        counts.migrate += len(migrate)
        for alloc in _ordered(migrate.values()):
            self.stop.append(StopDecision(alloc, ALLOC_MIGRATING))
            self.place.append(Placement(alloc.name, name, previous_alloc=alloc,
                                        canary=_is_canary(alloc),
                                        downgrade_non_canary=is_canarying
                                        and not _is_canary(alloc),
                                        penalty_node_ids=penalty_node_ids(alloc)))

        self._create_deployment(name, group, existing_deployment, dstate, all_allocs,
                                destructive)
        complete = not (destructive or inplace or place or migrate or reschedule_now
                        or reschedule_later or requires_canaries)
        if not complete or self.deployment is None:
            return False
        state = self.deployment.task_groups.get(name)
        if state is not None and (
                state.healthy_allocs < max(state.desired_total, state.desired_canaries)
                or (state.desired_canaries > 0 and not state.promoted)):
            return False
        return True

    def _requires_canaries(self, group: TaskGroup, dstate: DeploymentState,
                           destructive: AllocSet, canaries: AllocSet) -> bool:
        return group.update is not None and bool(destructive) and \
            len(canaries) < (group.update.canary or 0) and not dstate.promoted

    def _compute_canaries(self, group: TaskGroup, dstate: DeploymentState,
                          destructive: AllocSet, canaries: AllocSet, counts: _Counts,
                          names: NameIndex) -> None:
        assert group.update is not None
        dstate.desired_canaries = group.update.canary or 0
        if self.deployment_paused or self.deployment_failed:
            return
        n = dstate.desired_canaries - len(canaries)
        counts.canary += n
        for name in names.next_canaries(n, canaries, destructive):
            self.place.append(Placement(name, group.name, canary=True))

    def _compute_replacements(self, place_ready: bool, counts: _Counts,
                              place: list[Placement], reschedule_now: AllocSet,
                              lost: AllocSet, under_provisioned_by: int) -> int:
        """Nomad's computeReplacements: what may be placed while a deployment holds back.

        Ready: everything.  Paused, failed or canarying: lost allocs are still replaced,
        and failed ones rescheduled unless they belong to the failed deployment.
        """
        if place_ready:
            counts.place += len(place)
            self.place.extend(place)
            counts.stop += self._mark_stop(reschedule_now.values(), ALLOC_RESCHEDULED)
            return under_provisioned_by - min(len(place), under_provisioned_by)
        placed: set[str] = set()
        if lost:
            for p in place[:min(len(lost), len(place))]:
                placed.add(p.name)
                self.place.append(p)
                counts.place += 1
        for p in place:
            prev = p.previous_alloc
            if not p.reschedule or prev is None or p.name in placed:
                continue
            if self.deployment_failed and self.deployment is not None and \
                    prev.deployment_id == self.deployment.id:
                continue
            self.place.append(p)
            counts.place += 1
            if prev.id in reschedule_now:
                self.stop.append(StopDecision(prev, ALLOC_RESCHEDULED))
                counts.stop += 1
        return under_provisioned_by

    def _ignore(self, counts: _Counts, allocs: Iterable[Allocation]) -> None:
        ordered = _ordered(allocs)
        counts.ignore += len(ordered)
        self.ignore.extend(ordered)

    def _filter_old_terminal(self, allocs: AllocSet) -> tuple[AllocSet, AllocSet]:
        """Batch only: terminal allocs of an older job version are ignored."""
        if not self.batch:
            return allocs, {}
        assert self.job is not None
        remain: AllocSet = {}
        ignored: AllocSet = {}
        for key, alloc in allocs.items():
            older = alloc.job is not None and (alloc.job.version < self.job.version
                                               or alloc.job.create_index < self.job.create_index)
            (ignored if older and alloc.terminal_status() else remain)[key] = alloc
        return remain, ignored

    def _create_followup_evals(self, group: str, later: list[_Delayed]) -> None:
        """Batch delayed reschedules into evaluations ``BATCHED_FAILED_ALLOC_WINDOW`` wide."""
        batch: list[str] = []
        start = 0
        for item in sorted(later, key=lambda d: (d.reschedule_time, d.alloc.id)):
            if batch and item.reschedule_time - start >= BATCHED_FAILED_ALLOC_WINDOW:
                self.followups.append(FollowupEval(group, start, tuple(batch)))
                batch = []
            if not batch:
                start = item.reschedule_time
            batch.append(item.alloc.id)
        if batch:
            self.followups.append(FollowupEval(group, start, tuple(batch)))

    def _compute_stop(self, group: TaskGroup, names: NameIndex, untainted: AllocSet,
                      migrate: AllocSet, lost: AllocSet, canaries: AllocSet,
                      is_canarying: bool) -> AllocSet:
        """Lost allocs, then the excess over ``count``: once canaries are promoted the old
        allocs of their names first, then migrating ones, then the highest names."""
        stop: AllocSet = dict(lost)
        self._mark_stop(lost.values(), ALLOC_LOST, "lost")
        if is_canarying:
            untainted = _difference(untainted, canaries)
        remove = len(untainted) + len(migrate) - (group.count or 0)
        if remove <= 0:
            return stop
        candidates = {k: a for k, a in untainted.items() if not a.terminal_status()}

        if not is_canarying and canaries:
            canary_names = {a.name for a in canaries.values()}
            for alloc in _ordered(_difference(candidates, canaries).values()):
                if alloc.name in canary_names:
                    self.stop.append(StopDecision(alloc, ALLOC_NOT_NEEDED))
                    stop[alloc.id] = alloc
                    del candidates[alloc.id]
                    remove -= 1
                    if remove == 0:
                        return stop

        if migrate:
            migrating = NameIndex(self.job_id, group.name, group.count or 0, migrate.values())
            remove_names = migrating.highest(remove)
            for alloc in _ordered(migrate.values()):
                if alloc.name in remove_names and remove > 0:
                    self.stop.append(StopDecision(alloc, ALLOC_NOT_NEEDED))
                    stop[alloc.id] = alloc
                    names.unset(alloc.index)
                    remove -= 1
            if remove == 0:
                return stop

        remove_names = names.highest(remove)
        for alloc in _ordered(candidates.values()):
            if alloc.name in remove_names and remove > 0:
                self.stop.append(StopDecision(alloc, ALLOC_NOT_NEEDED))
                stop[alloc.id] = alloc
                del candidates[alloc.id]
                remove -= 1
        # Duplicate names can leave too many: stop the highest remaining ones.
        for alloc in reversed(_ordered(candidates.values())):
            if remove <= 0:
                break
            self.stop.append(StopDecision(alloc, ALLOC_NOT_NEEDED))
            stop[alloc.id] = alloc
            remove -= 1
        return stop

    def _compute_updates(self, group: TaskGroup, untainted: AllocSet
                         ) -> tuple[list[Allocation], list[Allocation], AllocSet]:
        assert self.job is not None
        ignore: list[Allocation] = []
        inplace: list[Allocation] = []
        destructive: AllocSet = {}
        for alloc in _ordered(untainted.values()):
            kind, updated = self.update_fn(alloc, self.job, group)
            if kind == "ignore":
                ignore.append(alloc)
            elif kind == "destructive":
                destructive[alloc.id] = alloc
            elif kind == "inplace":
                inplace.append(alloc)
                self.inplace.append(updated if updated is not None else alloc)
            else:
                raise ValueError(f"alloc update function returned {kind!r}; expected "
                                 "'ignore', 'inplace' or 'destructive'")
        return ignore, inplace, destructive

    def _under_provisioned_by(self, group: TaskGroup, untainted: AllocSet,
                              destructive: AllocSet, migrate: AllocSet,
                              is_canarying: bool) -> int:
        """How many destructive updates may go ahead in this evaluation (Nomad's
        computeUnderProvisionedBy): ``count`` when nothing is replaced or there is no
        update block; ``max_parallel`` for a new deployment; nothing while the deployment
        is paused, failed or canarying; else ``max_parallel`` less the deployment's
        allocs not yet healthy, and nothing at all once one of them is unhealthy."""
        update = group.update
        if _update_empty(update) or not (destructive or migrate):
            return group.count or 0
        assert update is not None
        if self.deployment is None:
            return update.max_parallel or 0
        if self.deployment_paused or self.deployment_failed or is_canarying:
            return 0
        under = update.max_parallel or 0
        for alloc in untainted.values():
            if alloc.deployment_id != self.deployment.id:
                continue
            if _unhealthy(alloc):
                return 0
            if not _healthy(alloc):
                under -= 1
        return max(under, 0)

    def _compute_placements(self, group: TaskGroup, names: NameIndex, untainted: AllocSet,
                            migrate: AllocSet, reschedule: AllocSet, lost: AllocSet,
                            is_canarying: bool) -> list[Placement]:
        place: list[Placement] = []
        for alloc in _ordered(reschedule.values()):
            policy = self._policy_of(alloc, group)
            place.append(Placement(
                alloc.name, group.name, previous_alloc=alloc, reschedule=True,
                canary=_is_canary(alloc),
                downgrade_non_canary=is_canarying and not _is_canary(alloc),
                reschedule_tracker=next_reschedule_tracker(alloc, policy, self.now),
                penalty_node_ids=penalty_node_ids(alloc)))
        count = group.count or 0
        existing = len(untainted) + len(migrate) + len(reschedule)
        for alloc in _ordered(lost.values()):
            if existing >= count:
                break
            existing += 1
            place.append(Placement(alloc.name, group.name, previous_alloc=alloc, lost=True,
                                   canary=_is_canary(alloc),
                                   downgrade_non_canary=is_canarying and not _is_canary(alloc),
                                   penalty_node_ids=penalty_node_ids(alloc)))
        if existing < count:
            for name in names.next(count - existing):
                place.append(Placement(name, group.name))
        return place



def reconcile(job: Optional[Job], job_id: str, allocs: Sequence[Allocation],
              tainted_nodes: Mapping[str, Optional[Node]], *, now: int,
              batch: Optional[bool] = None, eval_id: str = "",
              update_fn: AllocUpdateFn = generic_alloc_update,
              deployment: Optional[Deployment] = None, eval_priority: int = 50,
              new_id: Callable[[], str] = lambda: "") -> ReconcileResult:
    """Decide what must change so ``allocs`` (every version of ``job_id``'s allocs) match ``job``.

    ``job`` is None (or has ``stop`` set) when the job was deregistered or stopped: every
    alloc is stopped. ``tainted_nodes`` maps the IDs of nodes that are down, draining or
    disconnected to the node, and of nodes that are gone to None. ``now`` (nanoseconds)
    decides which failed allocs are due for rescheduling; ``eval_id`` is the evaluation
    running, so allocs whose follow-up evaluation it is are rescheduled now. ``batch``
    defaults to whether ``job`` is a batch job. ``deployment`` is the job's latest
    deployment (Nomad's LatestDeploymentByJobID); a new one gets its ID from ``new_id``
    and ``eval_priority`` as its EvalPriority.
    """
    if batch is None:
        batch = job is not None and job.type == "batch"
    return _Reconciler(job, job_id, allocs, tainted_nodes, now, batch, eval_id, update_fn,
                       deployment, eval_priority, new_id).compute()
