"""The evaluation broker, after Nomad's ``nomad/eval_broker.go``.

Evaluations wait in one ready queue per scheduler type, highest priority first and, at
equal priority, oldest (lowest CreateIndex) first.  A worker dequeues one together with a
token and must ``ack`` it when its plan is committed or ``nack`` it to give it back.

At most one evaluation per job is outstanding (ready or unacked) at a time, so two
workers never schedule the same job at once.  Later evaluations of that job wait; only
the newest waiting one is kept, because it sees the latest state anyway, and the older
ones are handed back to the caller to be written as ``canceled``.

Ordering never depends on a clock; only the optional nack timeout reads the injected one.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from ..structs import Evaluation

__all__ = ["EvalBroker", "BrokerError", "BrokerDisabled", "SCHEDULER_TYPES", "CORE_QUEUE",
           "FAILED_QUEUE", "DEFAULT_DELIVERY_LIMIT"]

CORE_QUEUE = "_core"
FAILED_QUEUE = "_failed"
SCHEDULER_TYPES = ("service", "batch", "system", "sysbatch", CORE_QUEUE)
DEFAULT_DELIVERY_LIMIT = 3


class BrokerError(Exception):
    """An ack or nack the broker cannot accept (unknown evaluation, wrong token)."""


class BrokerDisabled(BrokerError):
    """The broker is disabled (Nomad: only the leader's broker is enabled)."""


@dataclass
class _Unacked:
    eval: Evaluation
    token: str
    deadline: Optional[float]


def _counter_tokens() -> Callable[[], str]:
    """Deterministic, UUID-shaped tokens, so a notebook run twice shows the same ones."""
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012x}"


class EvalBroker:
    """Ready queues per scheduler type, one outstanding evaluation per job, a failed queue.

    ``delivery_limit`` is how many times an evaluation may be dequeued before a nack
    sends it to the failed queue (``FAILED_QUEUE``) instead of back to its ready queue;
    the leader dequeues from there to mark it failed.  ``nack_timeout`` (seconds on
    ``clock``) bounds how long a worker may hold an evaluation before
    :meth:`reap_nack_timeouts` takes it back; None disables that.
    """

    def __init__(self, delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
                 nack_timeout: Optional[float] = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 token_factory: Optional[Callable[[], str]] = None,
                 enabled: bool = True) -> None:
        self.delivery_limit = delivery_limit
        self.nack_timeout = nack_timeout
        self._clock = clock
        self._new_token = token_factory or _counter_tokens()
        self._cond = threading.Condition()
        self._enabled = enabled
        self._seq = itertools.count()
        self._reset()

    def _reset(self) -> None:
        self._deliveries: dict[str, int] = {}                   # tracked eval id -> dequeues
        self._ready: dict[str, list[tuple[int, int, int, Evaluation]]] = {}
        self._unacked: dict[str, _Unacked] = {}
        self._job_evals: dict[tuple[str, str], str] = {}        # job -> its outstanding eval
        self._pending: dict[tuple[str, str], Evaluation] = {}   # job -> newest waiting eval

    # ---- enabling -------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Enable, or disable and forget everything (Nomad flushes on losing leadership).

        Evaluations live in the state store, so a new leader restores the broker from
        there; nothing is lost by flushing.
        """
        with self._cond:
            self._enabled = enabled
            if not enabled:
                self._reset()
            self._cond.notify_all()

    # ---- enqueue / dequeue ----------------------------------------------------------

    def enqueue(self, ev: Evaluation) -> list[Evaluation]:
        """Queue an evaluation; returns the evaluations it makes redundant (to cancel).

        A disabled broker ignores the evaluation, as Nomad's does on a follower.
        """
        with self._cond:
            if not self._enabled or ev.id in self._deliveries:
                return []
            self._deliveries[ev.id] = 0
            return self._enqueue_locked(ev, ev.type)

    def enqueue_all(self, evals: Iterable[Evaluation]) -> list[Evaluation]:
        canceled: list[Evaluation] = []
        for ev in evals:
            canceled.extend(self.enqueue(ev))
        return canceled

    def _enqueue_locked(self, ev: Evaluation, queue: str) -> list[Evaluation]:
        job = (ev.namespace, ev.job_id)
        outstanding = self._job_evals.setdefault(job, ev.id)
        if outstanding != ev.id:
            waiting = self._pending.get(job)
            if waiting is not None and _newer(waiting, ev):
                self._deliveries.pop(ev.id, None)
                return [ev]
            self._pending[job] = ev
            if waiting is None:
                return []
            self._deliveries.pop(waiting.id, None)
            return [waiting]
        heapq.heappush(self._ready.setdefault(queue, []),
                       (-ev.priority, ev.create_index, next(self._seq), ev))
        self._cond.notify_all()
        return []

    def dequeue(self, schedulers: Iterable[str],
                timeout: Optional[float] = 0) -> Optional[tuple[Evaluation, str]]:
        """The next ready evaluation for one of ``schedulers``, with its token.

        ``timeout=0`` never blocks (step mode); a positive timeout waits that long for
        work and None waits forever (worker threads).  Across queues the highest
        priority wins, then the oldest, then the scheduler named first.
        """
        schedulers = list(schedulers)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if not self._enabled:
                    raise BrokerDisabled("eval broker disabled")
                picked = self._pick_locked(schedulers)
                if picked is not None:
                    return picked
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def _pick_locked(self, schedulers: list[str]) -> Optional[tuple[Evaluation, str]]:
        best: Optional[str] = None
        for name in schedulers:
            queue = self._ready.get(name)
            if queue and (best is None or queue[0][:2] < self._ready[best][0][:2]):
                best = name
        if best is None:
            return None
        ev = heapq.heappop(self._ready[best])[3]
        token = self._new_token()
        self._deliveries[ev.id] += 1
        deadline = None if self.nack_timeout is None else self._clock() + self.nack_timeout
        self._unacked[ev.id] = _Unacked(ev, token, deadline)
        return ev, token

    # ---- ack / nack -----------------------------------------------------------------

    def _take_unacked(self, eval_id: str, token: str) -> _Unacked:
        unacked = self._unacked.get(eval_id)
        if unacked is None:
            raise BrokerError(f'evaluation "{eval_id}" is not outstanding')
        if unacked.token != token:
            raise BrokerError(f'token does not match for evaluation "{eval_id}"')
        return self._unacked.pop(eval_id)

    def ack(self, eval_id: str, token: str) -> None:
        """The evaluation is done; the job's newest waiting evaluation becomes ready."""
        with self._cond:
            ev = self._take_unacked(eval_id, token).eval
            del self._deliveries[eval_id]
            job = (ev.namespace, ev.job_id)
            if self._job_evals.get(job) == eval_id:
                del self._job_evals[job]
            waiting = self._pending.pop(job, None)
            if waiting is not None:
                self._enqueue_locked(waiting, waiting.type)

    def nack(self, eval_id: str, token: str) -> None:
        """Give the evaluation back; after ``delivery_limit`` deliveries it goes to failed."""
        with self._cond:
            ev = self._take_unacked(eval_id, token).eval
            queue = FAILED_QUEUE if self._deliveries[eval_id] >= self.delivery_limit else ev.type
            heapq.heappush(self._ready.setdefault(queue, []),
                           (-ev.priority, ev.create_index, next(self._seq), ev))
            self._cond.notify_all()

    def outstanding_reset(self, eval_id: str, token: str) -> None:
        """Restart an unacked evaluation's nack timeout (a worker still busy planning)."""
        with self._cond:
            unacked = self._unacked.get(eval_id)
            if unacked is None or unacked.token != token:
                raise BrokerError(f'evaluation "{eval_id}" is not outstanding with that token')
            if self.nack_timeout is not None:
                unacked.deadline = self._clock() + self.nack_timeout

    def reap_nack_timeouts(self) -> list[str]:
        """Nack every evaluation held past its nack timeout; returns their IDs.

        Nomad runs a timer per evaluation; here the agent calls this from its loop (or
        a lab from ``step()``), which keeps the broker free of threads of its own.
        """
        now = self._clock()
        with self._cond:
            expired = [(i, u.token) for i, u in self._unacked.items()
                       if u.deadline is not None and u.deadline <= now]
        for eval_id, token in expired:
            self.nack(eval_id, token)
        return [eval_id for eval_id, _ in expired]

    # ---- inspection -----------------------------------------------------------------

    def outstanding(self) -> dict[str, str]:
        """Unacked evaluation ID -> its token."""
        with self._cond:
            return {eval_id: u.token for eval_id, u in self._unacked.items()}

    def ready(self, scheduler: str) -> list[Evaluation]:
        """The ready queue of one scheduler type, in the order it will be dequeued."""
        with self._cond:
            return [entry[3] for entry in sorted(self._ready.get(scheduler, []))]

    def failed(self) -> list[Evaluation]:
        """Evaluations nacked ``delivery_limit`` times, waiting to be marked failed."""
        return self.ready(FAILED_QUEUE)

    def pending(self) -> list[Evaluation]:
        """Evaluations waiting for their job's outstanding evaluation to be acked."""
        with self._cond:
            return list(self._pending.values())

    def stats(self) -> dict[str, object]:
        """Nomad's BrokerStats; TotalBlocked counts evaluations waiting behind their job's."""
        with self._cond:
            by_scheduler: dict[str, dict[str, int]] = {}
            for name, queue in self._ready.items():
                if queue:
                    by_scheduler.setdefault(name, {"Ready": 0, "Unacked": 0})["Ready"] = len(queue)
            for unacked in self._unacked.values():
                counts = by_scheduler.setdefault(unacked.eval.type, {"Ready": 0, "Unacked": 0})
                counts["Unacked"] += 1
            return {"TotalReady": sum(len(q) for q in self._ready.values()),
                    "TotalUnacked": len(self._unacked),
                    "TotalBlocked": len(self._pending),
                    "TotalFailedQueue": len(self._ready.get(FAILED_QUEUE, [])),
                    "ByScheduler": by_scheduler}


def _newer(a: Evaluation, b: Evaluation) -> bool:
    """Is ``a`` a more recent evaluation than ``b``? (later writes have higher indexes)."""
    return (a.modify_index, a.create_index) > (b.modify_index, b.create_index)
