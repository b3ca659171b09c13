"""Blocked evaluations, after Nomad's ``nomad/blocked_evals.go``.

An evaluation that could not place everything leaves a ``blocked`` evaluation behind.
It waits here until capacity changes somewhere it could use: a node joins, is updated,
becomes eligible, or an allocation stops.  The scheduler recorded, per computed node
class, whether the job could run there at all (``class_eligibility``); a change on a
class known to be ineligible cannot help, so it does not wake the evaluation.  An
evaluation whose constraints look at something unique to a node (``escaped_computed_class``)
cannot be judged by class, so any change wakes it.

Each evaluation handed back records what woke it (:meth:`BlockedEvals.unblocked_by`),
so a learner can see why a stuck job suddenly got placed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple, Optional

from ..structs import Evaluation

__all__ = ["BlockedEvals", "BlockResult"]

# How many "what unblocked it" reasons are remembered.
MAX_UNBLOCK_REASONS = 10_000


class BlockResult(NamedTuple):
    """What :meth:`BlockedEvals.block` decided.

    ``canceled``: evaluations made redundant (write them with status ``canceled``);
    ``unblocked``: evaluations to enqueue right away because capacity already changed.
    """

    canceled: tuple[Evaluation, ...] = ()
    unblocked: tuple[Evaluation, ...] = ()


class BlockedEvals:
    """Blocked evaluations by job and class, and the index of each class's last change."""

    def __init__(self, enabled: bool = True) -> None:
        self._lock = threading.Lock()
        self._enabled = enabled
        self._reasons: OrderedDict[str, str] = OrderedDict()
        self._reset()

    def _reset(self) -> None:
        self._captured: dict[str, Evaluation] = {}    # eval id -> eval judged by class
        self._escaped: dict[str, Evaluation] = {}     # eval id -> eval any change may help
        self._system: dict[str, dict[tuple[str, str], Evaluation]] = {}  # node -> job -> eval
        self._jobs: dict[tuple[str, str], str] = {}   # job -> its blocked eval id
        self._unblock_indexes: dict[str, int] = {}    # computed class -> last change index

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Enable, or disable and forget everything (the state store still has the evals)."""
        with self._lock:
            self._enabled = enabled
            if not enabled:
                self._reset()

    def block(self, ev: Evaluation) -> BlockResult:
        """Track a blocked evaluation; at most one per job is kept, the newest.

        If capacity changed on a class the evaluation could use after the state it was
        computed from (its ``snapshot_index``), the change happened while it was being
        scheduled and would never wake it, so it is unblocked at once instead.
        """
        with self._lock:
            if not self._enabled:
                return BlockResult()
            job = (ev.namespace, ev.job_id)
            if ev.type == "system" and ev.node_id:
                on_node = self._system.setdefault(ev.node_id, {})
                previous = on_node.get(job)
                on_node[job] = ev
                return BlockResult(canceled=(previous,) if previous else ())
            canceled: tuple[Evaluation, ...] = ()
            existing_id = self._jobs.get(job)
            if existing_id is not None and existing_id != ev.id:
                existing = self._captured.get(existing_id) or self._escaped[existing_id]
                if existing.create_index > ev.create_index:
                    return BlockResult(canceled=(ev,))
                self._remove(existing)
                canceled = (existing,)
            missed = self._missed_unblock(ev)
            if missed is not None:
                self._remember(ev.id, missed)
                return BlockResult(canceled=canceled, unblocked=(ev,))
            self._jobs[job] = ev.id
            (self._escaped if ev.escaped_computed_class else self._captured)[ev.id] = ev
            return BlockResult(canceled=canceled)

    def _missed_unblock(self, ev: Evaluation) -> Optional[str]:
        """Why ``ev`` must not block (Nomad's missedUnblock), or None if it may."""
        newest_class, newest_index = "", 0
        for computed_class, index in self._unblock_indexes.items():
            if index > newest_index:
                newest_class, newest_index = computed_class, index
            if ev.snapshot_index >= index:
                continue
            eligible = ev.class_eligibility.get(computed_class)
            if eligible is None:
                return (f"class {computed_class} changed at index {index}, after the "
                        f"evaluation's snapshot (index {ev.snapshot_index}), and the "
                        "evaluation never saw that class")
            if eligible:
                return (f"class {computed_class}, which the job can use, changed at index "
                        f"{index}, after the evaluation's snapshot (index {ev.snapshot_index})")
        if ev.escaped_computed_class and ev.snapshot_index < newest_index:
            return (f"class {newest_class} changed at index {newest_index}, after the "
                    f"evaluation's snapshot (index {ev.snapshot_index}), and the evaluation "
                    "escaped class-based tracking")
        return None

    def unblock(self, computed_class: str, index: int,
                reason: Optional[str] = None) -> list[Evaluation]:
        """Capacity changed on ``computed_class`` at ``index``: the evaluations to enqueue.

        Woken are those whose eligibility for the class is True or unknown, and every
        escaped evaluation.
        """
        reason = reason or f"capacity changed on class {computed_class} at index {index}"
        with self._lock:
            if not self._enabled:
                return []
            self._unblock_indexes[computed_class] = max(
                index, self._unblock_indexes.get(computed_class, 0))
            woken = list(self._escaped.values()) + [
                ev for ev in self._captured.values()
                if ev.class_eligibility.get(computed_class, True)]
            return self._release(woken, reason)

    def unblock_node(self, node_id: str, computed_class: str, index: int,
                     reason: Optional[str] = None) -> list[Evaluation]:
        """A node joined, changed or became eligible: its class's evals, and system evals
        blocked on that very node."""
        reason = reason or f'node "{node_id[:8]}" changed (class {computed_class})'
        with self._lock:
            system = list(self._system.pop(node_id, {}).values()) if self._enabled else []
            for ev in system:
                self._remember(ev.id, reason)
        return system + self.unblock(computed_class, index, reason)

    def unblock_failed(self, reason: str = "retrying after the maximum plan attempts"
                       ) -> list[Evaluation]:
        """Wake evaluations blocked because their plans kept failing (max-plan-attempts)."""
        with self._lock:
            woken = [ev for ev in [*self._captured.values(), *self._escaped.values()]
                     if ev.triggered_by == "max-plan-attempts"]
            return self._release(woken, reason)

    def untrack(self, namespace: str, job_id: str) -> list[Evaluation]:
        """Forget a deregistered job's blocked evaluations; returns them (to cancel)."""
        job = (namespace, job_id)
        with self._lock:
            removed = []
            eval_id = self._jobs.get(job)
            if eval_id is not None:
                removed.append(self._captured.get(eval_id) or self._escaped[eval_id])
                self._remove(removed[0])
            for on_node in self._system.values():
                if job in on_node:
                    removed.append(on_node.pop(job))
            return removed

    def _release(self, woken: list[Evaluation], reason: str) -> list[Evaluation]:
        woken.sort(key=lambda ev: (-ev.priority, ev.create_index, ev.id))
        for ev in woken:
            self._remove(ev)
            self._remember(ev.id, reason)
        return woken

    def _remove(self, ev: Evaluation) -> None:
        self._captured.pop(ev.id, None)
        self._escaped.pop(ev.id, None)
        if self._jobs.get((ev.namespace, ev.job_id)) == ev.id:
            del self._jobs[(ev.namespace, ev.job_id)]

    def _remember(self, eval_id: str, reason: str) -> None:
        self._reasons[eval_id] = reason
        self._reasons.move_to_end(eval_id)
        while len(self._reasons) > MAX_UNBLOCK_REASONS:
            self._reasons.popitem(last=False)

    def unblocked_by(self, eval_id: str) -> Optional[str]:
        """What woke this evaluation, in words; None if it was never unblocked."""
        with self._lock:
            return self._reasons.get(eval_id)

    def blocked(self) -> list[Evaluation]:
        """Every evaluation waiting here, oldest first."""
        with self._lock:
            evals = [*self._captured.values(), *self._escaped.values(),
                     *(ev for on_node in self._system.values() for ev in on_node.values())]
        return sorted(evals, key=lambda ev: (ev.create_index, ev.id))

    def unblock_indexes(self) -> dict[str, int]:
        """Computed class -> index of the last capacity change seen on it."""
        with self._lock:
            return dict(self._unblock_indexes)

    def stats(self) -> dict[str, int]:
        """Nomad's BlockedStats: TotalBlocked (all waiting) and TotalEscaped."""
        with self._lock:
            system = sum(len(on_node) for on_node in self._system.values())
            return {"TotalBlocked": len(self._captured) + len(self._escaped) + system,
                    "TotalEscaped": len(self._escaped),
                    "TotalCaptured": len(self._captured),
                    "TotalSystem": system}
