"""The server: every write a user or client makes, and the worker that schedules.

All writes (notebook magics, the CLI and the HTTP API alike) come through the methods of
:class:`Server`, so the flow never skips a stage: register -> evaluation -> broker ->
scheduler -> plan applier -> state.  The worker is a generator that yields a
:class:`StepRecord` at each stage; step mode advances it one stage per ``step()``, auto
mode runs it on a background thread.  Both are the same code.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from ..structs.diff import job_diff
from ..scheduler.disconnect import needs_to_reconnect, node_status_after_missed_heartbeats
from ..scheduler.generic import schedule
from ..scheduler.node_class import computed_class
from ..structs.timestamps import format_rfc3339, parse_rfc3339
from ..structs import (Allocation, DesiredTransition, DrainStrategy, Evaluation, Job,
                       JobPlanResponse, Node, NodeEvent, Plan)
from ..errors import ClusterError, Invalid, NotFound
from ..jobspec.validate import count_problem
from ..structs import Identity, SchedulerConfig, ServiceRegistration
from ..structs.deployment import Deployment
from ..structs.operator import SCHEDULER_ALGORITHMS
from ..structs.trace import EvalTrace
from .blocked import BlockedEvals
from ..structs.periodic import next_launch
from .launch import dispatched_job, periodic_child
from .broker import FAILED_QUEUE, SCHEDULER_TYPES, EvalBroker
from .deployment_watcher import DeploymentWatcher
from .drainer import DRAIN_SUBSYSTEM, NodeDrainer
from .plan_apply import evaluate_plan
from .service_registrations import service_problems
from .state import ObjectNotFound, StateSnapshot, StateStore, job_spec_changed

__all__ = ["Server", "StepRecord", "MAX_PLAN_ATTEMPTS"]

MAX_PLAN_ATTEMPTS = 5
#: How long a node may go without a heartbeat before it is marked down (seconds). Nomad's
#: default is 10s plus a 10s grace; in-process clients heartbeat every 0.5s.
HEARTBEAT_TTL = 3.0
#: A dev agent is one region.
REGION = "global"
#: After a restart, how long every node known to be up has to heartbeat again before it is
#: marked down (seconds): Nomad's failover heartbeat TTL, shortened for in-process clients.
RESTORE_HEARTBEAT_GRACE = 10.0


@dataclass
class StepRecord:
    """One stage of the flow: what happened, to which evaluation, at which state index."""

    stage: str
    eval_id: str = ""
    job_id: str = ""
    detail: str = ""
    index: int = 0
    data: dict = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        ident = f" {self.eval_id[:8]}" if self.eval_id else ""
        job = f' (job "{self.job_id}")' if self.job_id else ""
        return f"[{self.index}] {self.stage}{ident}{job}: {self.detail}"


class Server:
    """A single Nomad-style server: state, broker, blocked evals and one scheduling worker."""

    def __init__(self, *, seed: int = 0, clock: Optional[Callable[[], int]] = None) -> None:
        self.seed = seed
        self.clock = clock or time.time_ns
        self._ids = random.Random(seed)
        self.state = StateStore(clock=self.clock)
        self.broker = EvalBroker()
        self.blocked = BlockedEvals()
        self.log: list[StepRecord] = []
        self._delayed: list[Evaluation] = []
        self._work: Optional[Iterator[StepRecord]] = None
        self._heartbeats: dict[str, int] = {}
        self.heartbeat_ttl = HEARTBEAT_TTL
        self._periodic: dict[tuple[str, str], int] = {}  # job -> next launch (ns)
        self._lock = threading.RLock()
        self.deployments = DeploymentWatcher(
            self.state, lambda: self.clock(), self.new_id, self._hand_off,
            lambda stage, job_id, detail: self.log.append(
                StepRecord(stage, "", job_id, detail, self.state.index)))
        self.drainer = NodeDrainer(
            self.state, lambda: self.clock(), self._new_eval, self._hand_off,
            lambda stage, detail: self.log.append(
                StepRecord(stage, "", "", detail, self.state.index)))

    # -- identities -------------------------------------------------------------------

    def new_id(self) -> str:
        """A UUID from the seeded generator: the same seed gives the same IDs."""
        with self._lock:
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # -- restart ----------------------------------------------------------------------

    def restore(self, directory: str) -> int:
        """Persist the state store in ``directory``, restoring what it holds; returns the
        restored index.  Call it once, on a new server, before any client starts.

        What the server keeps outside the store is then rebuilt from it, as Nomad's
        leader does when it takes over (restoreEvals, restorePeriodicDispatcher,
        initializeHeartbeatTimers): pending evaluations go back to the broker (those
        with a future ``wait_until`` wait again), blocked ones to the blocked evals,
        periodic jobs get their next launch, and every node that was up gets a fresh
        heartbeat grace so it is not marked down before its client is back.
        """
        with self._lock:
            restored = self.state.open_log(directory)
            if restored.index:
                # The seeded generator would hand out the IDs it gave before the restart.
                self._ids = random.Random(f"{self.seed}:{restored.index}")
            self._restore_evals()
            now = self.clock()
            for job in self.state.jobs():
                launch = next_launch(job, now)
                if launch is not None:
                    self._periodic[(job.namespace, job.id)] = launch
            grace = time.monotonic_ns() + int(max(self.heartbeat_ttl,
                                                  RESTORE_HEARTBEAT_GRACE) * 1e9)
            for node in self.state.nodes():
                if node.status != "down":
                    self._heartbeats[node.id] = grace
            return restored.index

    def _restore_evals(self) -> None:
        now = self.clock()
        for ev in self.state.evals():
            if ev.status == "pending":
                if ev.wait_until and parse_rfc3339(ev.wait_until) > now:
                    self._delayed.append(ev)
                else:
                    self._cancel(self.broker.enqueue(ev),
                                 "superseded by a newer evaluation of the job")
            elif ev.status == "blocked":
                outcome = self.blocked.block(ev)
                self._cancel(outcome.canceled, "superseded by a newer blocked evaluation")
                self._requeue_unblocked(list(outcome.unblocked))

    # -- evaluations ------------------------------------------------------------------

    def _new_eval(self, job: Job, triggered_by: str, **extra: object) -> Evaluation:
        now = self.clock()
        fields: dict[str, object] = {"status": "pending", **extra}
        return Evaluation(id=self.new_id(), namespace=job.namespace or "default",
                          priority=job.priority or 50, type=job.type or "service",
                          triggered_by=triggered_by, job_id=job.id,
                          job_modify_index=job.job_modify_index,
                          create_time=now, modify_time=now, **fields)  # type: ignore[arg-type]

    def _enqueue(self, evals: list[Evaluation]) -> list[Evaluation]:
        """Write evaluations, then hand the ready ones to the broker (delayed ones wait)."""
        if not evals:
            return []
        return self._hand_off(self.state.upsert_evals(evals))

    def _hand_off(self, stored: list[Evaluation]) -> list[Evaluation]:
        """Give committed pending evaluations to the broker (delayed ones wait)."""
        now = self.clock()
        for ev in stored:
            if ev.status != "pending":
                continue
            if ev.wait_until and parse_rfc3339(ev.wait_until) > now:
                self._delayed.append(ev)
                continue
            self._cancel(self.broker.enqueue(ev), "superseded by a newer evaluation of the job")
        return stored

    def _cancel(self, evals: list[Evaluation] | tuple[Evaluation, ...], why: str) -> None:
        if evals:
            self.state.upsert_evals([dataclasses.replace(e, status="canceled",
                                                         status_description=why)
                                     for e in evals])

    def _promote_delayed(self) -> None:
        now = self.clock()
        due = [ev for ev in self._delayed if parse_rfc3339(ev.wait_until or "") <= now]
        self._delayed = [ev for ev in self._delayed if ev not in due]
        for ev in due:
            self._cancel(self.broker.enqueue(ev), "superseded by a newer evaluation of the job")

    # -- jobs -------------------------------------------------------------------------

    def validate_job(self, job: Job) -> list[str]:
        """Nomad's Job.Validate on the server: what the job spec layer cannot see, as one
        list (register and plan refuse a job with any; ``job validate`` shows them).

        A Job built in Python skipped the job spec checks, so the count limit is checked
        again; services nomadlab cannot run (Consul's, script checks) are named.
        """
        problems = [f'task group "{g.name}": {count_problem(g.count or 0)}'
                    for g in job.task_groups if count_problem(g.count or 0)]
        return problems + service_problems(job)

    def register_job(self, job: Job, triggered_by: str = "job-register",
                     enforce_index: Optional[int] = None, submission: Any = None) -> Evaluation:
        """Nomad's Job.Register: store a new version and create a job-register evaluation.

        ``enforce_index`` (``nomad job run -check-index N``) registers only if the job's
        JobModifyIndex is still ``N`` (0: only if the job does not exist yet).
        """
        problems = self.validate_job(job)
        if problems:
            raise Invalid("; ".join(problems))
        with self._lock:
            if enforce_index is not None:
                _check_index(self.state.job(job.namespace or "default", job.id), enforce_index)

            def evaluation(stored: Job) -> list[Evaluation]:
                if stored.is_periodic or stored.is_parameterized:
                    return [self._new_eval(stored, triggered_by, status="complete",
                                           status_description="periodic and parameterized "
                                           "jobs are launched by their dispatcher, not "
                                           "scheduled directly")]
                return [self._new_eval(stored, triggered_by)]

            stored, evals = self.state.register_job(
                dataclasses.replace(job, submit_time=self.clock()), evaluation, submission)
            key = (stored.namespace, stored.id)
            self._periodic.pop(key, None)
            if stored.is_periodic or stored.is_parameterized:
                launch = next_launch(stored, self.clock())
                if launch is not None:
                    self._periodic[key] = launch
                return evals[0]
            return self._hand_off(evals)[0]

    def deregister_job(self, namespace: str, job_id: str, purge: bool = False) -> Evaluation:
        """Nomad's Job.Deregister: stop (or purge) the job; its evaluation stops the allocs."""
        with self._lock:
            job = self.state.delete_job(namespace, job_id, purge)
            self._periodic.pop((namespace, job_id), None)
            self._cancel(self.blocked.untrack(namespace, job_id), "job deregistered")
            stopped = dataclasses.replace(job, stop=True)
            return self._enqueue([self._new_eval(stopped, "job-deregister")])[0]

    def _existing_job(self, namespace: str, job_id: str) -> Job:
        job = self.state.job(namespace, job_id)
        if job is None:
            raise ObjectNotFound("job not found")
        return job

    def evaluate_job(self, namespace: str, job_id: str) -> Evaluation:
        """``nomad job eval``: a fresh job-register evaluation of the current version."""
        with self._lock:
            job = self._existing_job(namespace, job_id)
            if job.is_periodic or job.is_parameterized:
                raise Invalid("can't evaluate periodic or parameterized job")
            return self._enqueue([self._new_eval(job, "job-register")])[0]

    def scale_job(self, namespace: str, job_id: str, group: str, count: int,
                  message: str = "") -> Evaluation:
        """``nomad job scale``: a new job version with the group's count changed."""
        with self._lock:
            job = self._existing_job(namespace, job_id)
            if job.stop:
                raise Invalid("job is stopped; cannot scale")
            if count < 0:
                raise Invalid("scaling action count can't be negative")
            if count_problem(count):
                raise Invalid(str(count_problem(count)))
            groups = [g for g in job.task_groups if g.name == group]
            if not groups:
                raise Invalid(f'task group "{group}" specified for scaling does not exist '
                                 "in job")
            scaled = dataclasses.replace(job, task_groups=[
                dataclasses.replace(g, count=count) if g.name == group else g
                for g in job.task_groups])
            return self.register_job(scaled, "job-scaling")

    def revert_job(self, namespace: str, job_id: str, version: int,
                   enforce_prior_version: Optional[int] = None) -> Evaluation:
        """``nomad job revert``: register an older version's spec as the newest version."""
        with self._lock:
            current = self._existing_job(namespace, job_id)
            if enforce_prior_version is not None and current.version != enforce_prior_version:
                raise Invalid(f"Current job has version {current.version}; enforcing "
                                 f"version {enforce_prior_version}")
            if version == current.version:
                raise Invalid(f"can't revert to current version {version}")
            old = self.state.job_by_version(namespace, job_id, version)
            if old is None:
                raise ObjectNotFound(f'job "{job_id}" in namespace "{namespace}" at version '
                                     f"{version} not found")
            return self.register_job(dataclasses.replace(old, stop=False))

    def dispatch_job(self, namespace: str, job_id: str, payload: Optional[str] = None,
                     meta: Optional[dict[str, str]] = None) -> tuple[Job, Evaluation]:
        """``nomad job dispatch``: register a child of a parameterized job and evaluate it."""
        with self._lock:
            parent = self._existing_job(namespace, job_id)
            child = dispatched_job(parent, payload, dict(meta or {}), self.clock(),
                                   self.new_id()[:8])
            ev = self.register_job(child)
            stored = self.state.job(namespace, child.id)
            assert stored is not None
            return stored, ev

    def force_periodic(self, namespace: str, job_id: str) -> tuple[Job, Evaluation]:
        """``nomad job periodic force``: launch a periodic job's child now."""
        with self._lock:
            parent = self._existing_job(namespace, job_id)
            if not parent.is_periodic or parent.stop:
                raise Invalid("can't force launch non-periodic job")
            return self._launch_periodic(parent, self.clock())

    def _launch_periodic(self, parent: Job, launch_ns: int) -> tuple[Job, Evaluation]:
        child = periodic_child(parent, launch_ns)
        ev = self.register_job(child, "periodic-job")
        stored = self.state.job(parent.namespace, child.id)
        assert stored is not None
        return stored, ev

    def launch_due_periodic(self) -> list[Evaluation]:
        """The periodic dispatcher: launch every periodic job whose next time has come
        (skipping a launch while a child still runs when ``prohibit_overlap`` is set)."""
        now = self.clock()
        launched = []
        with self._lock:
            for key, due in sorted(self._periodic.items(), key=lambda kv: kv[1]):
                if due > now:
                    continue
                parent = self.state.job(*key)
                upcoming = next_launch(parent, due) if parent is not None else None
                if upcoming is None:
                    del self._periodic[key]
                    continue
                self._periodic[key] = upcoming
                assert parent is not None
                if parent.periodic is not None and parent.periodic.prohibit_overlap and any(
                        j.parent_id == parent.id and j.status != "dead"
                        for j in self.state.jobs(parent.namespace)):
                    continue
                launched.append(self._launch_periodic(parent, due)[1])
        return launched

    def next_periodic_launch(self, namespace: str, job_id: str) -> Optional[int]:
        return self._periodic.get((namespace, job_id))

    # -- nodes ------------------------------------------------------------------------

    def register_node(self, node: Node) -> Node:
        """A node joins (or re-fingerprints): unblock its class and run system jobs on it."""
        with self._lock:
            stored = self.state.upsert_node(node)
            if stored.status == "ready":
                self._capacity_changed(stored, f'node "{stored.name}" joined')
            return stored

    def update_node_status(self, node_id: str, status: str) -> Node:
        """Heartbeat verdicts: a node going down makes its jobs re-evaluate (lost allocs)."""
        with self._lock:
            node = self.state.update_node_status(node_id, status, updated_at=self.clock())
            if status == "ready":
                self._capacity_changed(node, f'node "{node.name}" became ready')
            else:
                self._node_update_evals(node, "node-update")
            return node

    def heartbeat(self, node_id: str) -> None:
        """A client's heartbeat: the node stays ready for another TTL (a down node returns)."""
        # Liveness is real time (a lab may move the scheduling clock forward).  The common
        # case takes no lock: a busy server must never starve heartbeats into "down".
        self._heartbeats[node_id] = time.monotonic_ns() + int(self.heartbeat_ttl * 1e9)
        node = self.state.node(node_id)
        if node is not None and node.status in ("down", "disconnected"):
            with self._lock:
                node = self.state.node(node_id)
                if node is not None and node.status in ("down", "disconnected"):
                    self.update_node_status(node_id, "ready")

    def check_heartbeats(self) -> list[Node]:
        """Mark nodes whose heartbeat TTL ran out as down (their allocations become lost)."""
        now = time.monotonic_ns()
        expired = [(n, deadline) for n, deadline in list(self._heartbeats.items())
                   if deadline < now]
        downed = []
        for node_id, deadline in expired:
            if self._heartbeats.get(node_id) != deadline:
                continue  # a heartbeat arrived meanwhile
            self._heartbeats.pop(node_id, None)
            node = self.state.node(node_id)
            if node is not None and node.status not in ("down", "disconnected"):
                status = self.missed_heartbeats_status(node_id)
                downed.append(self.update_node_status(node_id, status))
                self.log.append(StepRecord("node-down", "", "", f'node "{node.name}" missed its '
                                           f"heartbeats and was marked {status}",
                                           self.state.index))
        return downed

    def missed_heartbeats_status(self, node_id: str) -> str:
        """``disconnected`` if an allocation on the node may wait out the disconnect
        (``disconnect.lost_after``), else ``down`` (Nomad's heartbeat invalidation)."""
        return node_status_after_missed_heartbeats(
            self.state.allocs_by_node(node_id, terminal=False), self.clock())

    def update_node_eligibility(self, node_id: str, eligible: bool) -> Node:
        with self._lock:
            node = self.state.update_node_eligibility(
                node_id, "eligible" if eligible else "ineligible")
            if eligible:
                self._capacity_changed(node, f'node "{node.name}" became eligible')
            return node

    def drain_node(self, node_id: str, deadline: int = 0, ignore_system: bool = False,
                   meta: Optional[dict[str, str]] = None, accessor_id: str = "") -> Node:
        """Start draining: the node takes no new work and the drainer migrates its
        allocations away, ``migrate.max_parallel`` at a time per group.

        ``deadline`` as in Nomad's DrainSpec (ns): -1 forces every allocation off now,
        0 sets no deadline, more marks whatever is left once that long has passed.
        ``ignore_system`` leaves system jobs' allocations running on the node.
        ``meta`` is the operator's drain metadata (``-m``, ``-meta``), kept in LastDrain.
        """
        with self._lock:
            now = self.clock()
            current = self.state.node(node_id)
            strategy = DrainStrategy(
                deadline=deadline, ignore_system_jobs=ignore_system,
                started_at=format_rfc3339(now),
                force_deadline=format_rfc3339(now + deadline) if deadline > 0 else None)
            message = "Node drain strategy updated" if current is not None and \
                current.drain_strategy is not None else "Node drain strategy set"
            node = self.state.update_node_drain(node_id, strategy, event=NodeEvent(
                message=message, subsystem=DRAIN_SUBSYSTEM), meta=meta,
                accessor_id=accessor_id)
            return node

    def cancel_drain(self, node_id: str, mark_eligible: bool = False,
                     meta: Optional[dict[str, str]] = None, accessor_id: str = "") -> Node:
        """Stop draining; the node stays ineligible unless ``mark_eligible``."""
        with self._lock:
            node = self.state.update_node_drain(node_id, None, mark_eligible=mark_eligible,
                                                event=NodeEvent(message="Node drain disabled",
                                                                subsystem=DRAIN_SUBSYSTEM),
                                                meta=meta, accessor_id=accessor_id)
            if mark_eligible:
                self._capacity_changed(node, f'node "{node.name}" finished draining')
            return node

    def deregister_node(self, node_id: str) -> list[Evaluation]:
        """``nomad node purge``: forget the node; its jobs re-evaluate (allocs lost)."""
        with self._lock:
            node = self.state.delete_node(node_id)
            self._heartbeats.pop(node_id, None)
            return self._node_update_evals(node, "node-update")

    def evaluate_node(self, node_id: str) -> list[Evaluation]:
        """``nomad node eval``: re-evaluate every job with work on the node."""
        with self._lock:
            node = self.state.node(node_id)
            if node is None:
                raise ObjectNotFound("node not found")
            return self._node_update_evals(node, "node-update")

    def _node_update_evals(self, node: Node, trigger: str) -> list[Evaluation]:
        """One evaluation per job with allocations on the node (Nomad's createNodeEvals)."""
        jobs: dict[tuple[str, str], Job] = {}
        for alloc in self.state.allocs_by_node(node.id, terminal=False):
            job = self.state.job(alloc.namespace, alloc.job_id)
            if job is not None:
                jobs[(alloc.namespace, alloc.job_id)] = job
        for job in self.state.jobs():
            if job.type in ("system", "sysbatch") and not job.stop:
                jobs[(job.namespace or "default", job.id)] = job
        return self._enqueue([self._new_eval(job, trigger, node_id=node.id,
                                             node_modify_index=node.modify_index)
                              for job in jobs.values()])

    def _capacity_changed(self, node: Node, reason: str) -> None:
        woken = self.blocked.unblock_node(node.id, computed_class(node), self.state.index, reason)
        self._requeue_unblocked(woken)
        if any(j.type in ("system", "sysbatch") and not j.stop for j in self.state.jobs()):
            self._node_update_evals(node, "node-update")

    def _requeue_unblocked(self, woken: list[Evaluation]) -> None:
        for ev in woken:
            self.log.append(StepRecord("eval-unblocked", ev.id, ev.job_id,
                                       self.blocked.unblocked_by(ev.id) or "capacity changed",
                                       self.state.index))
        self._enqueue([dataclasses.replace(ev, status="pending",
                                           status_description=f"unblocked: "
                                           f"{self.blocked.unblocked_by(ev.id) or ''}")
                       for ev in woken])

    # -- allocations (what clients report) ---------------------------------------------

    def update_allocs_from_client(self, allocs: list[Allocation]) -> None:
        """Client status reports; a finished allocation frees capacity, a failed one is
        rescheduled by an alloc-failure evaluation."""
        with self._lock:
            before = {a.id: self.state.alloc(a.id) for a in allocs}
            updated = self.state.update_allocs_from_client(allocs)
            failed_jobs: dict[tuple[str, str], Job] = {}
            reconnected: dict[tuple[str, str], Job] = {}
            for alloc in updated:
                old = before.get(alloc.id)
                if alloc.client_status == "running" and old is not None \
                        and old.client_status != "running" and needs_to_reconnect(old):
                    job = self.state.job(alloc.namespace, alloc.job_id)
                    if job is not None:
                        reconnected[(alloc.namespace, alloc.job_id)] = job
                if alloc.client_terminal_status() and old is not None \
                        and old.client_status != alloc.client_status:
                    node = self.state.node(alloc.node_id)
                    if node is not None:
                        self._requeue_unblocked(self.blocked.unblock(
                            computed_class(node), self.state.index,
                            f'allocation "{alloc.id[:8]}" stopped on node "{node.name}"'))
                    if alloc.client_status == "failed":
                        job = self.state.job(alloc.namespace, alloc.job_id)
                        if job is not None and not job.stop:
                            failed_jobs[(alloc.namespace, alloc.job_id)] = job
            self._enqueue([self._new_eval(job, "alloc-failure") for job in failed_jobs.values()]
                          + [self._new_eval(job, "reconnect") for job in reconnected.values()])
            self.deployments.allocs_changed(updated)

    # -- deployments (what an operator asks; the watcher does the work) ---------------

    def promote_deployment(self, deployment_id: str,
                           groups: Optional[list[str]] = None) -> Evaluation:
        """``nomad deployment promote``: promote the canaries of ``groups`` (None: all)."""
        with self._lock:
            return self.deployments.promote(deployment_id, groups)

    def fail_deployment(self, deployment_id: str) -> Evaluation:
        """``nomad deployment fail``: fail it (and auto-revert where the job says so)."""
        with self._lock:
            return self.deployments.fail(deployment_id)

    def pause_deployment(self, deployment_id: str, pause: bool) -> Optional[Evaluation]:
        """``nomad deployment pause`` / ``resume``: resuming evaluates the job again."""
        with self._lock:
            return self.deployments.pause(deployment_id, pause)

    def unblock_deployment(self, deployment_id: str) -> Evaluation:
        """``nomad deployment unblock``: only a blocked (multi-region) deployment."""
        with self._lock:
            return self.deployments.unblock(deployment_id)

    def set_alloc_health(self, deployment_id: str, healthy: list[str],
                         unhealthy: list[str]) -> Evaluation:
        """Nomad's /v1/deployment/allocation-health (``health_check = "manual"``)."""
        with self._lock:
            return self.deployments.set_alloc_health(deployment_id, list(healthy),
                                                     list(unhealthy))

    def stop_alloc(self, alloc_id: str) -> Evaluation:
        """``nomad alloc stop``: the alloc is stopped and its job re-evaluated (replaced)."""
        with self._lock:
            alloc = self.state.alloc(alloc_id)
            if alloc is None:
                raise KeyError(f'allocation "{alloc_id}" not found')
            self.state.update_alloc_desired_transition({alloc.id: DesiredTransition(migrate=True)})
            job = self.state.job(alloc.namespace, alloc.job_id) or alloc.job
            assert job is not None
            return self._enqueue([self._new_eval(job, "alloc-stop")])[0]

    # -- service registrations (clients write them; the API may delete one) -----------

    def upsert_service_registrations(self, regs: list[ServiceRegistration]
                                     ) -> list[ServiceRegistration]:
        """A client registers the services of an allocation's running tasks."""
        return self.state.upsert_service_registrations(regs)

    def delete_service_registrations(self, reg_ids: list[str]) -> int:
        """A client removes the services of stopped tasks (already gone ones are skipped)."""
        return self.state.delete_service_registrations(reg_ids)

    def delete_service_registration(self, namespace: str, name: str, reg_id: str) -> int:
        """``DELETE /v1/service/:name/:id``: remove one instance; 404 when there is none."""
        reg = self.state.service_registration(reg_id)
        if reg is None or reg.namespace != namespace or reg.service_name != name:
            raise NotFound("service registration not found")
        return self.state.delete_service_registrations([reg_id])

    # -- dry runs --------------------------------------------------------------------

    # -- identity, operator, explaining ----------------------------------------------

    def authorize(self, identity: Identity, capability: str, namespace: str) -> None:
        """The one place a request's identity is checked before a write.

        A dev agent is the single region ``global``; ACLs are not enabled yet, so any
        token may do anything (as in a Nomad cluster without ``acl { enabled = true }``).
        """
        if identity.region and identity.region != REGION:
            raise ClusterError("No path to region", status=500)

    def set_scheduler_config(self, config: SchedulerConfig,
                             cas_index: Optional[int] = None) -> tuple[bool, int]:
        """``nomad operator scheduler set-config``; with ``cas_index`` (``?cas=``) only if
        the stored configuration's ModifyIndex is still that.  (updated, state index)."""
        with self._lock:
            current = self.state.scheduler_config()
            if cas_index is not None and current.modify_index != cas_index:
                return False, self.state.index
            if config.scheduler_algorithm not in SCHEDULER_ALGORITHMS:
                raise Invalid(f"invalid scheduler algorithm {config.scheduler_algorithm!r}: "
                              f"must be one of {', '.join(SCHEDULER_ALGORITHMS)}")
            self.state.set_scheduler_config(config)
            return True, self.state.index

    def explain(self, eval_id: str) -> EvalTrace:
        """Re-run an evaluation against the snapshot it saw, checking and scoring every
        node.  It writes nothing and draws its IDs from a generator of its own, so
        explaining never changes the IDs the cluster hands out next."""
        ev = self.state.eval(eval_id)
        if ev is None:
            raise NotFound(f'evaluation "{eval_id}" not found')
        snapshot = self.state.snapshot_at(ev.snapshot_index) if ev.snapshot_index else \
            self.state.snapshot()
        original = dataclasses.replace(ev, status="pending", failed_tg_allocs={},
                                       blocked_eval="")
        ids = random.Random(f"{self.seed}:{eval_id}")
        result = schedule(original, snapshot, seed=self.seed,
                          new_id=lambda: str(uuid.UUID(int=ids.getrandbits(128), version=4)),
                          now=ev.modify_time or ev.create_time, explain=True)
        return result.trace

    def plan(self, job: Job, nodes: Optional[list[Node]] = None, diff: bool = True,
             contextual: bool = False) -> JobPlanResponse:
        """Nomad's job plan: what registering ``job`` would do, with nothing committed.

        ``nodes`` replaces the cluster's nodes for a what-if.  Returns the API's
        JobPlanResponse (Annotations.DesiredTGUpdates, FailedTGAllocs, Diff, ...) plus the
        trace under the key ``"Trace"`` (nomadlab only).
        """
        problems = self.validate_job(job)
        if problems:
            raise Invalid("; ".join(problems))
        snapshot = self.state.snapshot()
        namespace = job.namespace or "default"
        current = snapshot.job(namespace, job.id)
        planned = dataclasses.replace(
            job, namespace=namespace,
            version=(current.version + 1) if current is not None else 0,
            job_modify_index=snapshot.index + 1, modify_index=snapshot.index + 1,
            create_index=current.create_index if current is not None else snapshot.index + 1)
        if current is not None and not job_spec_changed(current, job):
            planned = current
        view = _PlanView(snapshot, planned, nodes)
        ev = Evaluation(id=self.new_id(), namespace=namespace, priority=job.priority or 50,
                        type=job.type or "service", triggered_by="job-register", job_id=job.id,
                        job_modify_index=planned.job_modify_index, annotate_plan=True)
        result = schedule(ev, view, seed=self.seed, new_id=self.new_id, now=self.clock())
        updates = result.trace.desired_updates
        annotations: dict[str, dict[str, list[str]]] = {}
        if current is not None and result.reconcile is not None:
            replaced = {u.task_group for u in result.reconcile.destructive_update} | \
                {p.task_group for p in result.reconcile.place if p.canary}
            for group_name in sorted(replaced):
                for task in job.group(group_name).tasks:
                    annotations.setdefault(group_name, {})[task.name] = \
                        ["forces create/destroy update"]
        response = JobPlanResponse({
            "Annotations": {"DesiredTGUpdates": updates},
            "FailedTGAllocs": {g: m.to_api() for g, m in result.eval.failed_tg_allocs.items()},
            "JobModifyIndex": current.job_modify_index if current is not None else 0,
            "CreatedEvals": [e.to_api() for e in result.new_evals if e.status == "blocked"],
            "Diff": job_diff(current.to_api() if current is not None else None, job.to_api(),
                             contextual, updates, annotations) if diff else None,
            "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
            "Warnings": "",
            "Trace": result.trace,
        }, job_type=job.type or "service")
        return response

    # -- the worker -------------------------------------------------------------------

    def step(self) -> Optional[StepRecord]:
        """Advance one stage; None when there is nothing to do."""
        with self._lock:
            self.check_heartbeats()
            if self._periodic:
                self.launch_due_periodic()
            self.deployments.tick()
            self.drainer.tick()
            record = next(self._work, None) if self._work is not None else None
            if record is None:  # the evaluation in hand is done: take the next one
                self._promote_delayed()
                self._work = self._process_next()
                record = next(self._work, None)
            if record is None:
                self._work = None
                return None
            self.log.append(record)
            return record

    def busy(self) -> bool:
        return self._work is not None

    def _process_next(self) -> Iterator[StepRecord]:
        failed = self.broker.dequeue([FAILED_QUEUE], timeout=0)
        if failed is not None:  # Nomad's leader reaps these: mark failed, free the job
            ev, token = failed
            limit = self.broker.delivery_limit
            self.state.upsert_evals([dataclasses.replace(
                ev, status="failed", modify_time=self.clock(),
                status_description=f"evaluation reached delivery limit ({limit})")])
            self.broker.ack(ev.id, token)
            yield StepRecord("eval-failed", ev.id, ev.job_id,
                             f"the scheduler failed on it {limit} times", self.state.index)
            return
        picked = self.broker.dequeue(SCHEDULER_TYPES, timeout=0)
        if picked is None:
            return
        ev, token = picked
        yield StepRecord("eval-dequeued", ev.id, ev.job_id,
                         f"{ev.type} evaluation triggered by {ev.triggered_by}", self.state.index)
        try:
            yield from self._run_scheduler(ev)
        except Exception as err:  # a scheduler bug must not wedge the broker
            self.broker.nack(ev.id, token)
            yield StepRecord("eval-nacked", ev.id, ev.job_id, f"{type(err).__name__}: {err}",
                             self.state.index)
            return
        self.broker.ack(ev.id, token)

    def _run_scheduler(self, ev: Evaluation) -> Iterator[StepRecord]:
        snapshot = self.state.snapshot()
        for attempt in range(1, MAX_PLAN_ATTEMPTS + 1):
            result = schedule(ev, snapshot, seed=self.seed, new_id=self.new_id, now=self.clock())
            plan = result.plan
            yield StepRecord("plan-submitted", ev.id, ev.job_id, _plan_summary(plan),
                             snapshot.index, {"plan": plan, "trace": result.trace})
            latest = self.state.snapshot()
            outcome, reasons = evaluate_plan(latest, plan)
            stops = [a for allocs in outcome.node_update.values() for a in allocs]
            places = [a for allocs in outcome.node_allocation.values() for a in allocs]
            if not outcome.rejected_nodes:
                index = self.state.apply_plan_results(
                    places, stops, deployment=outcome.deployment,
                    deployment_updates=outcome.deployment_updates)
                yield StepRecord("plan-applied", ev.id, ev.job_id, _plan_summary(plan), index)
                yield from self._finish(result.eval, result.new_evals)
                return
            index = self.state.apply_plan_results(
                places, stops, deployment=outcome.deployment,
                deployment_updates=outcome.deployment_updates) \
                if (places or stops or outcome.deployment or outcome.deployment_updates) \
                else self.state.index
            yield StepRecord("plan-partially-applied", ev.id, ev.job_id,
                             "rejected on " + ", ".join(f"{n[:8]} ({r})" for n, r in reasons.items())
                             + f"; refreshing (attempt {attempt})", index)
            snapshot = self.state.snapshot()
        failed = dataclasses.replace(ev, status="failed",
                                     status_description=f"maximum attempts reached "
                                     f"({MAX_PLAN_ATTEMPTS})")
        yield from self._finish(failed, [])

    def _finish(self, ev: Evaluation, new_evals: list[Evaluation]) -> Iterator[StepRecord]:
        blocked = [e for e in new_evals if e.status == "blocked"]
        others = [e for e in new_evals if e.status != "blocked"]
        self.state.upsert_evals([ev])
        if ev.status == "complete" and not ev.failed_tg_allocs:
            # everything placed: a blocked eval of the job has nothing left to wait for
            self._cancel(self.blocked.untrack(ev.namespace, ev.job_id),
                         "the job's allocations were all placed")
        self._enqueue(others)
        for b in self.state.upsert_evals(blocked):
            outcome = self.blocked.block(b)
            self._cancel(outcome.canceled, "superseded by a newer blocked evaluation")
            yield StepRecord("blocked-eval-created", b.id, b.job_id,
                             f"waiting for capacity for {_failed_summary(ev)}", self.state.index)
            self._requeue_unblocked(list(outcome.unblocked))
        yield StepRecord("eval-completed", ev.id, ev.job_id, f'status "{ev.status}"',
                         self.state.index)

    def run_until_idle(self, timeout: float = 30.0) -> list[StepRecord]:
        """Step until nothing is ready or in flight (delayed evaluations wait)."""
        deadline = time.monotonic() + timeout
        records = []
        while time.monotonic() < deadline:
            record = self.step()
            if record is None:
                return records
            records.append(record)
        raise TimeoutError(f"the server was still busy after {timeout} s")


class _PlanView:
    """A snapshot seen as if ``job`` were registered (and, for a what-if, other nodes)."""

    def __init__(self, snapshot: StateSnapshot, job: Job, nodes: Optional[list[Node]]) -> None:
        self._snapshot = snapshot
        self._job = job
        self._nodes = {n.id: n for n in nodes} if nodes is not None else None

    @property
    def index(self) -> int:
        return self._snapshot.index

    def job(self, namespace: str, job_id: str) -> Optional[Job]:
        if (namespace, job_id) == (self._job.namespace or "default", self._job.id):
            return self._job
        return self._snapshot.job(namespace, job_id)

    def allocs(self, job_id: Optional[str] = None, namespace: str = "default") -> list[Allocation]:
        return self._snapshot.allocs(job_id, namespace)

    def nodes(self) -> list[Node]:
        return list(self._nodes.values()) if self._nodes is not None else self._snapshot.nodes()

    def node(self, node_id: str) -> Optional[Node]:
        if self._nodes is not None:
            return self._nodes.get(node_id)
        return self._snapshot.node(node_id)

    def scheduler_config(self) -> object:
        return self._snapshot.scheduler_config()

    def latest_deployment(self, namespace: str, job_id: str) -> Optional[Deployment]:
        return self._snapshot.latest_deployment(namespace, job_id)


#: Nomad's api.RegisterEnforceIndexErrPrefix: the CLI recognises these errors by it.
ENFORCE_INDEX_PREFIX = "Enforcing job modify index"


def _check_index(current: Optional[Job], expected: int) -> None:
    """Refuse a register whose ``-check-index`` no longer matches (Nomad's messages)."""
    if current is None:
        if expected != 0:
            raise Invalid(f"{ENFORCE_INDEX_PREFIX} {expected}: job does not exist")
        return
    if expected == 0:
        raise Invalid(f"{ENFORCE_INDEX_PREFIX} 0: job already exists")
    if current.job_modify_index != expected:
        raise Invalid(f"{ENFORCE_INDEX_PREFIX} {expected}: job exists with conflicting "
                         f"job modify index: {current.job_modify_index}")


def _plan_summary(plan: Plan) -> str:
    places = sum(len(v) for v in plan.node_allocation.values())
    stops = sum(len(v) for v in plan.node_update.values())
    return f"{places} to place or update, {stops} to stop"


def _failed_summary(ev: Evaluation) -> str:
    return ", ".join(f'group "{g}" ({m.coalesced_failures + 1} unplaced)'
                     for g, m in ev.failed_tg_allocs.items()) or "remaining allocations"
