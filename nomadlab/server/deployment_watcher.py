"""The deployment watcher: moves deployments along as their allocations turn healthy.

Nomad's ``nomad/deploymentwatcher`` runs a goroutine per active deployment that blocks on
the deployment's allocations.  Here the server calls :meth:`DeploymentWatcher.allocs_changed`
after every client report and :meth:`DeploymentWatcher.tick` on every step, and the
watcher decides what Nomad's would, reading only the state store:

* a healthy allocation the scheduler has not seen yet: an evaluation
  (``TriggeredBy: deployment-watcher``) to place the next ``max_parallel``;
* an unhealthy one: the deployment fails ("Failed due to unhealthy allocations") -- unless
  the group has a ``progress_deadline`` and the allocation may still be rescheduled, in
  which case it is marked for rescheduling instead;
* every canary healthy and ``auto_promote`` on every group: promotion;
* the ``progress_deadline`` passed without enough healthy allocations: the deployment
  fails ("Failed due to progress deadline");
* a failure with ``auto_revert``: the latest stable job version is registered again,
  in the same transaction ("... - rolling back to job version N").

It keeps nothing the store does not have, so after a restart it simply carries on.
The operator's requests (promote, fail, pause, unblock, allocation health) are here too;
the server's methods of those names check the request and call them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Optional

from ..errors import Invalid, NotFound
from ..scheduler.reschedule import last_event_time, reschedule_eligible
from ..structs import Allocation, Evaluation, Job
from ..structs.deployment import (DESCRIPTION_FAILED_ALLOCATIONS, DESCRIPTION_FAILED_BY_USER,
                                  DESCRIPTION_PAUSED, DESCRIPTION_PROGRESS_DEADLINE,
                                  DESCRIPTION_SUCCESSFUL, Deployment, DeploymentStatusUpdate,
                                  description_no_rollback_target, description_rollback,
                                  description_rollback_noop)
from ..structs.allocation import DesiredTransition
from ..structs.timestamps import parse_rfc3339
from .state import StateStore, job_spec_changed

__all__ = ["DeploymentWatcher", "TRIGGER"]

#: Nomad's EvalTriggerDeploymentWatcher.
TRIGGER = "deployment-watcher"


class DeploymentWatcher:
    """Watches every active deployment in ``state``; writes only through the store's
    one-transaction deployment methods and hands new evaluations to ``hand_off``."""

    def __init__(self, state: StateStore, clock: Callable[[], int], new_id: Callable[[], str],
                 hand_off: Callable[[list[Evaluation]], object],
                 log: Callable[[str, str, str], None]) -> None:
        self.state = state
        self.clock = clock
        self.new_id = new_id
        self.hand_off = hand_off
        self.log = log
        self._deadlines_at = -1
        self._deadlines: list[tuple[int, str]] = []

    # -- reacting to allocations ------------------------------------------------------

    def allocs_changed(self, allocs: Iterable[Allocation]) -> None:
        """Nomad's handleAllocUpdate, for each active deployment ``allocs`` belong to.

        Only a health verdict can move a deployment, so reports without one (a task
        starting) cost nothing."""
        for deployment_id in sorted({a.deployment_id for a in allocs if a.deployment_id
                                     and a.deployment_status is not None
                                     and a.deployment_status.healthy is not None}):
            deployment = self.state.deployment(deployment_id)
            if deployment is not None and deployment.active():
                self._handle_alloc_update(deployment)

    def _allocs_of(self, deployment: Deployment) -> list[Allocation]:
        return [a for a in self.state.allocs(deployment.job_id, deployment.namespace)
                if a.deployment_id == deployment.id]

    def _handle_alloc_update(self, deployment: Deployment) -> None:
        job = self.state.job(deployment.namespace, deployment.job_id)
        if job is None:
            return
        allocs = self._allocs_of(deployment)
        latest_eval = self._latest_eval_index(job)
        create_eval = fail = rollback = False
        allow: list[str] = []
        for alloc in allocs:
            dstate = deployment.task_groups.get(alloc.task_group)
            status = alloc.deployment_status
            if dstate is None or status is None:
                continue
            fail_early = status.healthy is False and self._should_fail_early(
                deployment, job, alloc, dstate.progress_deadline)
            if status.healthy is False and not fail_early and \
                    not alloc.desired_transition.reschedule:
                allow.append(alloc.id)
                continue
            if status.healthy is True and status.modify_index > latest_eval:
                create_eval = True
            if fail_early:
                fail = True
                rollback = rollback or dstate.auto_revert
        if fail:
            self._fail(deployment, job, DESCRIPTION_FAILED_ALLOCATIONS, rollback)
            return
        if self._auto_promote(deployment, allocs):
            return
        if create_eval or allow:
            ev = self._eval(deployment, job)
            self.state.update_alloc_desired_transition(
                {i: DesiredTransition(reschedule=True) for i in allow}, [ev])
            self.hand_off([self.state.eval(ev.id) or ev])

    def _should_fail_early(self, deployment: Deployment, job: Job, alloc: Allocation,
                           progress_deadline: int) -> bool:
        """Fail at once without a progress deadline, or when the allocation has no
        reschedule attempt left to get healthy with."""
        if not progress_deadline:
            return True
        group = next((g for g in job.task_groups if g.name == alloc.task_group), None)
        policy = group.reschedule_policy if group is not None else None
        return not reschedule_eligible(alloc.reschedule_tracker, policy,
                                       last_event_time(alloc) or self.clock())

    def _latest_eval_index(self, job: Job) -> int:
        """Nomad's jobEvalStatus: the newest state any non-cancelled evaluation saw."""
        latest = 0
        for ev in self.state.evals(job.id, job.namespace or "default"):
            if ev.status == "canceled":
                continue
            latest = max(latest, ev.snapshot_index or ev.create_index)
        return latest

    def _auto_promote(self, deployment: Deployment, allocs: list[Allocation]) -> bool:
        """Promote when every group with canaries auto-promotes and has them all healthy."""
        if deployment.status != "running" or not deployment.has_placed_canaries() or \
                not deployment.requires_promotion():
            return False
        healthy = {a.id for a in allocs if a.deployment_status is not None
                   and a.deployment_status.healthy is True}
        for dstate in deployment.task_groups.values():
            if not dstate.auto_promote or dstate.desired_canaries != len(dstate.placed_canaries):
                return False
            if sum(1 for c in dstate.placed_canaries if c in healthy) != dstate.desired_canaries:
                return False
        self.promote(deployment.id, None)
        self.log("deployment-promoted", deployment.job_id,
                 f'deployment "{deployment.id[:8]}" promoted automatically: every canary is '
                 "healthy")
        return True

    # -- progress deadlines -----------------------------------------------------------

    def tick(self) -> None:
        """Fail running deployments whose progress deadline has passed (Nomad's deadline
        timer), reading the store only when a deadline is due."""
        if self._deadlines_at != self.state.table_index("deployments"):
            self._deadlines_at = self.state.table_index("deployments")
            self._deadlines = sorted(
                (by, d.id) for d in self.state.deployments(None)
                if d.status == "running"
                for by in [min((parse_rfc3339(s.require_progress_by)
                                for s in d.task_groups.values()
                                if parse_rfc3339(s.require_progress_by)), default=0)]
                if by)
        now = self.clock()
        for by, deployment_id in self._deadlines:
            if by > now:
                break
            deployment = self.state.deployment(deployment_id)
            if deployment is None or deployment.status != "running":
                continue
            cutoff = self._progress_cutoff(deployment)
            if not cutoff or cutoff > now:
                continue
            job = self.state.job(deployment.namespace, deployment.job_id)
            if job is None:
                continue
            fail, rollback = self._should_fail(deployment, job)
            if fail:
                self._fail(deployment, job, DESCRIPTION_PROGRESS_DEADLINE, rollback)

    def next_deadline(self) -> Optional[int]:
        """When the earliest progress deadline falls (ns), if any deployment has one."""
        return self._deadlines[0][0] if self._deadlines else None

    def _progress_cutoff(self, deployment: Deployment) -> int:
        """The earliest RequireProgressBy of the groups not yet done (0: none)."""
        healthy: dict[str, int] = {}
        for alloc in self._allocs_of(deployment):
            if not alloc.terminal_status() and alloc.deployment_status is not None and \
                    alloc.deployment_status.healthy is True:
                healthy[alloc.task_group] = healthy.get(alloc.task_group, 0) + 1
        cutoffs = []
        for name, dstate in deployment.task_groups.items():
            done = not (dstate.desired_canaries and not dstate.promoted) and \
                healthy.get(name, 0) >= dstate.desired_total
            by = parse_rfc3339(dstate.require_progress_by)
            if not done and by:
                cutoffs.append(by)
        return min(cutoffs, default=0)

    @staticmethod
    def _should_fail(deployment: Deployment, job: Job) -> tuple[bool, bool]:
        """Nomad's shouldFail: (fail, roll back) from the groups' healthy counts."""
        fail = False
        for name, dstate in sorted(deployment.task_groups.items()):
            if dstate.desired_canaries > 0 and not dstate.promoted:
                if dstate.healthy_allocs >= dstate.desired_canaries:
                    continue
            elif dstate.healthy_allocs >= dstate.desired_total:
                continue
            fail = True
            group = next((g for g in job.task_groups if g.name == name), None)
            if group is not None and group.update is not None and group.update.auto_revert:
                return True, True
        return fail, False

    # -- failing and rolling back -----------------------------------------------------

    def _latest_stable_job(self, job: Job) -> Optional[Job]:
        return next((j for j in self.state.job_versions(job.namespace or "default", job.id)
                     if j.stable), None)

    def _rollback(self, job: Job, description: str) -> tuple[Optional[Job], str]:
        """The job to register again and the description saying so (Nomad's
        latestStableJob + handleRollbackValidity)."""
        stable = self._latest_stable_job(job)
        if stable is None:
            return None, description_no_rollback_target(description)
        if not job_spec_changed(job, stable):
            return None, description_rollback_noop(description, stable.version)
        return dataclasses.replace(stable, stop=False, stable=False), \
            description_rollback(description, stable.version)

    def _fail(self, deployment: Deployment, job: Job, description: str,
              rollback: bool) -> Evaluation:
        revert: Optional[Job] = None
        if rollback:
            revert, description = self._rollback(job, description)
        ev = self._eval(deployment, job)
        self.state.update_deployment_status(
            DeploymentStatusUpdate(deployment.id, "failed", description), ev, revert)
        self.log("deployment-failed", deployment.job_id,
                 f'deployment "{deployment.id[:8]}": {description}')
        return self._handed(ev)

    def _eval(self, deployment: Deployment, job: Job) -> Evaluation:
        """Nomad's getEval: a deployment-watcher evaluation of the deployment's job."""
        now = self.clock()
        return Evaluation(id=self.new_id(), namespace=job.namespace or "default",
                          priority=deployment.eval_priority or job.priority or 50,
                          type=job.type or "service", triggered_by=TRIGGER, job_id=job.id,
                          job_modify_index=job.job_modify_index, deployment_id=deployment.id,
                          status="pending", create_time=now, modify_time=now)

    def _handed(self, ev: Evaluation) -> Evaluation:
        stored = self.state.eval(ev.id) or ev
        self.hand_off([stored])
        return stored

    # -- what an operator asks --------------------------------------------------------

    def _deployment(self, deployment_id: str) -> tuple[Deployment, Job]:
        if not deployment_id:
            raise Invalid("missing deployment ID")
        deployment = self.state.deployment(deployment_id)
        if deployment is None:
            raise NotFound("deployment not found")
        job = self.state.job(deployment.namespace, deployment.job_id)
        if job is None:
            raise NotFound("job not found")
        return deployment, job

    def promote(self, deployment_id: str, groups: Optional[list[str]]) -> Evaluation:
        """Promote the canaries of ``groups`` (None: all) and evaluate the job."""
        deployment, job = self._deployment(deployment_id)
        if not deployment.active():
            raise Invalid("can't promote terminal deployment")
        ev = self._eval(deployment, job)
        self.state.update_deployment_promotion(deployment.id, groups, ev, self.clock())
        return self._handed(ev)

    def fail(self, deployment_id: str) -> Evaluation:
        """Mark the deployment failed, rolling back when a group has ``auto_revert``."""
        deployment, job = self._deployment(deployment_id)
        if not deployment.active():
            raise Invalid("can't fail terminal deployment")
        rollback = any(s.auto_revert for s in deployment.task_groups.values())
        return self._fail(deployment, job, DESCRIPTION_FAILED_BY_USER, rollback)

    def pause(self, deployment_id: str, pause: bool) -> Optional[Evaluation]:
        """Pause (no evaluation) or resume (an evaluation to carry on) the deployment."""
        deployment, job = self._deployment(deployment_id)
        if not deployment.active():
            raise Invalid("can't pause terminal deployment" if pause
                          else "can't resume terminal deployment")
        if pause:
            self.state.update_deployment_status(
                DeploymentStatusUpdate(deployment.id, "paused", DESCRIPTION_PAUSED))
            return None
        resumed = dataclasses.replace(deployment, status="running")
        ev = self._eval(deployment, job)
        self.state.update_deployment_status(DeploymentStatusUpdate(
            deployment.id, "running", resumed.running_description()), ev)
        return self._handed(ev)

    def unblock(self, deployment_id: str) -> Evaluation:
        """A blocked deployment (the last region of a multi-region one) succeeds."""
        deployment, job = self._deployment(deployment_id)
        if not deployment.active():
            raise Invalid("can't unblock terminal deployment")
        if deployment.status != "blocked":
            raise Invalid(f"can't unblock {deployment.status} deployment")
        ev = self._eval(deployment, job)
        self.state.update_deployment_status(DeploymentStatusUpdate(
            deployment.id, "successful", DESCRIPTION_SUCCESSFUL), ev)
        return self._handed(ev)

    def set_alloc_health(self, deployment_id: str, healthy: list[str],
                         unhealthy: list[str]) -> Evaluation:
        """Mark allocations healthy or unhealthy by hand; an unhealthy one fails the
        deployment (rolling back when its group has ``auto_revert``)."""
        if not deployment_id:
            raise Invalid("missing deployment ID")
        if not healthy and not unhealthy:
            raise Invalid("must specify at least one healthy/unhealthy allocation ID")
        deployment, job = self._deployment(deployment_id)
        if not deployment.active():
            raise Invalid("can't set health of allocations for a terminal deployment")
        update: Optional[DeploymentStatusUpdate] = None
        revert: Optional[Job] = None
        if unhealthy:
            description = DESCRIPTION_FAILED_ALLOCATIONS
            marked = set(unhealthy)
            if any(deployment.task_groups.get(a.task_group) is not None
                   and deployment.task_groups[a.task_group].auto_revert
                   for a in self._allocs_of(deployment) if a.id in marked):
                revert, description = self._rollback(job, description)
            update = DeploymentStatusUpdate(deployment.id, "failed", description)
        ev = self._eval(deployment, job)
        self.state.update_deployment_alloc_health(deployment.id, healthy, unhealthy,
                                                  self.clock(), ev, update, revert)
        if update is not None:
            self.log("deployment-failed", deployment.job_id,
                     f'deployment "{deployment.id[:8]}": {update.status_description}')
        stored = self._handed(ev)
        current = self.state.deployment(deployment.id)
        if current is not None and current.active():
            self._auto_promote(current, self._allocs_of(current))
        return stored
