"""The node drainer: moves allocations off draining nodes a few at a time.

A port of Nomad's ``nomad/drainer``.  Draining a node does not mark everything to migrate
at once: per job and task group, at most ``migrate.max_parallel`` allocations are marked
(``DesiredTransition.Migrate``) while the group is short of healthy allocations, and the
next ones only once their replacements report health (the client decides with the
group's ``migrate`` block: ``health_check``, ``min_healthy_time``, ``healthy_deadline``).

* batch allocations are not migrated; they are waited for until the deadline;
* system allocations go last, once everything else has left the node, and not at all
  with ``ignore_system_jobs`` (``nomad node drain -ignore-system``);
* at the deadline (``-deadline``; ``-force`` is a deadline now) every remaining
  allocation is marked at once;
* when nothing is left, the drain is over: the strategy is cleared, the node stays
  ineligible, and its events say "Node drain complete".

Each pass writes the transitions and one ``node-drain`` evaluation per job in one
transaction.  Like the deployment watcher it keeps nothing the store does not hold, so it
carries on after a restart; the server calls :meth:`NodeDrainer.tick` on every step.
"""

from __future__ import annotations

from typing import Callable, Optional

from ..structs import Allocation, DesiredTransition, Evaluation, Job, Node, NodeEvent
from ..structs.timestamps import format_rfc3339, parse_rfc3339
from .state import StateStore

__all__ = ["NodeDrainer", "DRAIN_COMPLETE", "DRAIN_SUBSYSTEM", "TRIGGER"]

#: Nomad's NodeDrainEventComplete and NodeEventSubsystemDrain.
DRAIN_COMPLETE = "Node drain complete"
DRAIN_SUBSYSTEM = "Drain"
#: Nomad's EvalTriggerNodeDrain.
TRIGGER = "node-drain"
_SYSTEM_TYPES = ("system", "sysbatch")


def _healthy_for_migration(alloc: Allocation) -> bool:
    """Running with a health verdict, and not itself on its way out (Nomad's drainer
    counts ``DeploymentStatus.HasHealth``; one already marked to migrate is leaving)."""
    return not alloc.terminal_status() and not alloc.desired_transition.migrate and \
        alloc.deployment_status is not None and alloc.deployment_status.healthy is not None


class NodeDrainer:
    """Drains every node with a drain strategy; writes through ``state`` only, hands the
    evaluations it creates to ``hand_off``."""

    def __init__(self, state: StateStore, clock: Callable[[], int],
                 new_eval: Callable[[Job, str], Evaluation],
                 hand_off: Callable[[list[Evaluation]], object],
                 log: Callable[[str, str], None]) -> None:
        self.state = state
        self.clock = clock
        self.new_eval = new_eval
        self.hand_off = hand_off
        self.log = log
        self._seen: tuple[int, int] = (-1, -1)
        self._nodes_seen = -1
        self._draining: list[str] = []
        self._next_deadline: Optional[int] = None

    def tick(self) -> None:
        """One pass, when nodes or allocations changed or a drain deadline fell due; free
        while no node drains."""
        nodes_index = self.state.table_index("nodes")
        if nodes_index != self._nodes_seen:
            self._nodes_seen = nodes_index
            self._draining = [n.id for n in self.state.nodes() if n.drain_strategy is not None]
        if not self._draining:
            return
        seen = (nodes_index, self.state.table_index("allocs"))
        now = self.clock()
        due = self._next_deadline is not None and now >= self._next_deadline
        if seen == self._seen and not due:
            return
        self._seen = seen
        draining = [n for n in (self.state.node(i) for i in self._draining)
                    if n is not None and n.drain_strategy is not None]
        deadlines = [d for n in draining
                     for d in [parse_rfc3339(n.drain_strategy.force_deadline)] if d > now]
        self._next_deadline = min(deadlines, default=None)
        marks: dict[str, Allocation] = {}
        done: list[Node] = []
        live: list[Node] = []
        for node in draining:
            strategy = node.drain_strategy
            assert strategy is not None
            if strategy.deadline < 0 or 0 < parse_rfc3339(strategy.force_deadline) <= now:
                for alloc in self._remaining(node):
                    marks.setdefault(alloc.id, alloc)
                done.append(node)
            else:
                live.append(node)
        for alloc in self._drain_jobs(live):
            marks.setdefault(alloc.id, alloc)
        for node in live:
            allocs = self.state.allocs_by_node(node.id, terminal=False)
            if any(a.job is not None and (a.job.type or "service") not in _SYSTEM_TYPES
                   and not a.client_terminal_status() for a in allocs):
                continue
            remaining = self._remaining(node)
            if not remaining:
                done.append(node)
            for alloc in remaining:
                marks.setdefault(alloc.id, alloc)
        self._mark(marks)
        for node in done:
            self.state.update_node_drain(node.id, None, event=NodeEvent(
                message=DRAIN_COMPLETE, subsystem=DRAIN_SUBSYSTEM,
                timestamp=format_rfc3339(self.clock())), completed=True)
            self.log("node-drain-complete", f'node "{node.name}": {DRAIN_COMPLETE}')

    def _remaining(self, node: Node) -> list[Allocation]:
        """Nomad's RemainingAllocs: what still runs on the node (system allocs only
        without ``ignore_system_jobs``), less what is already marked."""
        ignore_system = node.drain_strategy is not None and \
            node.drain_strategy.ignore_system_jobs
        return [a for a in self.state.allocs_by_node(node.id, terminal=False)
                if not a.client_terminal_status() and not a.desired_transition.migrate
                and a.desired_status == "run"
                and not (ignore_system and a.job is not None and a.job.type in _SYSTEM_TYPES)]

    def _drain_jobs(self, nodes: list[Node]) -> list[Allocation]:
        """Nomad's handleTaskGroup, for every service job with allocs on ``nodes``."""
        if not nodes:
            return []
        draining = {n.id for n in nodes}
        jobs: dict[tuple[str, str], Job] = {}
        for node in nodes:
            for alloc in self.state.allocs_by_node(node.id, terminal=False):
                job = self.state.job(alloc.namespace, alloc.job_id)
                if job is not None and (job.type or "service") == "service":
                    jobs[(alloc.namespace, alloc.job_id)] = job
        chosen: list[Allocation] = []
        for (namespace, job_id), job in sorted(jobs.items()):
            allocs = self.state.allocs(job_id, namespace)
            for group in job.task_groups:
                members = [a for a in allocs if a.task_group == group.name]
                healthy = sum(1 for a in members if _healthy_for_migration(a))
                drainable = [a for a in members if a.node_id in draining
                             and not a.client_terminal_status() and a.desired_status == "run"
                             and not a.desired_transition.migrate]
                max_parallel = (group.migrate.max_parallel if group.migrate else None) or 1
                n = min(len(drainable), healthy - ((group.count or 0) - max_parallel))
                chosen.extend(drainable[:max(n, 0)])
        return chosen

    def _mark(self, marks: dict[str, Allocation]) -> None:
        """Mark allocations to migrate, with one evaluation per job, in one transaction."""
        if not marks:
            return
        jobs: dict[tuple[str, str], Job] = {}
        for alloc in marks.values():
            job = self.state.job(alloc.namespace, alloc.job_id) or alloc.job
            if job is not None:
                jobs[(alloc.namespace, alloc.job_id)] = job
        evals = [self.new_eval(job, TRIGGER) for _, job in sorted(jobs.items())]
        self.state.update_alloc_desired_transition(
            {alloc_id: DesiredTransition(migrate=True) for alloc_id in sorted(marks)}, evals)
        self.hand_off([self.state.eval(ev.id) or ev for ev in evals])
        self.log("allocs-migrating", f"{len(marks)} allocation(s) marked to migrate off "
                 "draining nodes")
