"""Nomad's state store in miniature: versioned tables, one index, snapshots, a change feed.

Every write is one transaction that bumps the store's ``index`` exactly once and stamps
``create_index``/``modify_index`` on what it wrote, as Nomad's FSM does when it applies a
Raft log entry.  Tables are pyrsistent maps, so a committed state is an immutable value:
:meth:`StateStore.snapshot` is O(1), the scheduler can read one while writers carry on,
and the last ``history`` states are kept so a notebook can look back (``snapshot_at``).

With :meth:`StateStore.open_log` the store persists: each transaction is appended to a
log on disk and fsynced on the one commit path, before the new state is visible, and
the log is compacted into a snapshot now and then (:mod:`nomadlab.server.persist`).

Writes copy what they are given and never change a stored object in place; an object a
reader got from a snapshot stays exactly as it was.  Readers must treat returned objects
as read-only too (they are shared, not copied, which is what keeps reads cheap).
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from ..errors import Invalid, NotFound
from pyrsistent import PMap, PSet, pmap, pset, pvector

from ..structs import (NODE_ELIGIBILITY, NODE_STATUSES, ACLPolicy, ACLToken,
                       AllocDeploymentStatus, Allocation,
                       DesiredTransition, Deployment, DrainStrategy, Evaluation, Job, Node,
                       NodeEvent)
from ..scheduler.node_class import computed_class
from ..structs.deployment import DeploymentStatusUpdate
from ..structs.node import DRAIN_CANCELED, DRAIN_COMPLETE, DRAIN_DRAINING, DrainMetadata
from ..structs.timestamps import format_rfc3339, parse_rfc3339
from .events import Event, EventSubscription
from ..structs.operator import SCHEDULER_ALGORITHMS, SchedulerConfig
from ..structs.summary import JobSummary, TaskGroupSummary
from .persist import PERSISTED_TABLES, LogRecord, Restored, StateLog
from .service_registrations import ServiceReads, ServiceWrites

__all__ = ["StateStore", "StateSnapshot", "StateError", "ObjectNotFound", "HistoryTruncated",
           "job_spec_changed", "eval_terminal", "PREFIX_TABLES"]

log = logging.getLogger(__name__)

JobKey = tuple[str, str]

DEFAULT_NAMESPACE = "default"
# Nomad keeps this many events on a node (MaxRetainedNodeEvents).
MAX_RETAINED_NODE_EVENTS = 10
PREFIX_TABLES = ("jobs", "evals", "allocs", "nodes", "deployments", "acl_policies",
                 "acl_tokens")


class StateError(Invalid):
    """A write the state store refuses; nothing of that transaction was committed."""


class ObjectNotFound(NotFound, StateError):
    """A write named an object (job, node, ...) the state store does not hold."""


class HistoryTruncated(StateError):
    """An index older than the history the store keeps was asked for."""


def eval_terminal(ev: Evaluation) -> bool:
    return ev.status in ("complete", "failed", "canceled")


def job_spec_changed(old: Job, new: Job) -> bool:
    """Nomad's Job.SpecChanged: does ``new`` differ from ``old`` in anything a user wrote?

    Fields the server owns (status, version, indexes, submit time, stability) are ignored,
    which is why re-submitting an unchanged job creates no new version.
    """
    comparable = dataclasses.replace(
        new, namespace=new.namespace or DEFAULT_NAMESPACE, status=old.status,
        status_description=old.status_description, stable=old.stable, version=old.version,
        submit_time=old.submit_time, create_index=old.create_index,
        modify_index=old.modify_index, job_modify_index=old.job_modify_index)
    return comparable != old


@dataclass(frozen=True)
class _Tables:
    """One committed state: every table as a persistent map, plus the index it was made at."""

    index: int
    jobs: PMap                # (namespace, id) -> Job (its latest version)
    job_versions: PMap        # (namespace, id) -> PVector[Job], oldest version first
    job_summaries: PMap       # (namespace, id) -> JobSummary
    job_submissions: PMap     # (namespace, id, version) -> JobSubmission (source as sent)
    evals: PMap               # id -> Evaluation
    evals_by_job: PMap        # (namespace, job id) -> PSet[eval id]
    allocs: PMap              # id -> Allocation
    allocs_by_job: PMap       # (namespace, job id) -> PSet[alloc id]
    allocs_by_node: PMap      # node id -> PSet[alloc id]
    allocs_by_eval: PMap      # eval id -> PSet[alloc id]
    nodes: PMap               # id -> Node
    deployments: PMap         # id -> Deployment
    acl_policies: PMap        # name -> ACLPolicy
    acl_tokens: PMap          # accessor id -> ACLToken
    acl_token_secrets: PMap   # secret id -> accessor id
    services: PMap            # service registration id -> ServiceRegistration
    table_index: PMap         # table name -> index of its last write (Nomad's index table)
    scheduler_config: SchedulerConfig

    @classmethod
    def empty(cls) -> "_Tables":
        names = [f.name for f in dataclasses.fields(cls)
                 if f.name not in ("index", "scheduler_config")]
        return cls(index=0, scheduler_config=SchedulerConfig(), **{n: pmap() for n in names})


def _by_creation(objects: Iterable[Any]) -> list[Any]:
    return sorted(objects, key=lambda o: (o.create_index, o.id))


class _Reads(ServiceReads, abc.ABC):
    """The read API, shared by a frozen :class:`StateSnapshot` and the live store."""

    @abc.abstractmethod
    def _tables(self) -> _Tables:
        """The tables to read: a snapshot's own, or the store's latest."""

    @property
    def index(self) -> int:
        """The index of the last transaction this state includes."""
        return self._tables().index

    def table_index(self, *tables: str) -> int:
        """The index of the last write to any of ``tables`` (what a blocking list query
        answers in X-Nomad-Index: it moves on deletes too, unlike ModifyIndex)."""
        t = self._tables()
        return max((t.table_index.get(name, 0) for name in tables), default=0)

    # Jobs
    def jobs(self, namespace: Optional[str] = None) -> list[Job]:
        """Jobs sorted by (namespace, id); all namespaces when ``namespace`` is None."""
        t = self._tables()
        return [t.jobs[k] for k in sorted(t.jobs) if namespace is None or k[0] == namespace]

    def job(self, namespace: str, job_id: str) -> Optional[Job]:
        return self._tables().jobs.get((namespace, job_id))

    def job_versions(self, namespace: str, job_id: str) -> list[Job]:
        """Every version of the job, newest first (as ``nomad job history`` lists them)."""
        return list(reversed(self._tables().job_versions.get((namespace, job_id), pvector())))

    def job_by_version(self, namespace: str, job_id: str, version: int) -> Optional[Job]:
        for job in self._tables().job_versions.get((namespace, job_id), pvector()):
            if job.version == version:
                return job
        return None

    def job_submission(self, namespace: str, job_id: str, version: int) -> Any:
        """The JobSubmission a version was registered with, or None (built in Python)."""
        return self._tables().job_submissions.get((namespace, job_id, version))

    def job_summary(self, namespace: str, job_id: str) -> Optional[JobSummary]:
        return self._tables().job_summaries.get((namespace, job_id))

    # Evaluations
    def evals(self, job_id: Optional[str] = None,
              namespace: str = DEFAULT_NAMESPACE) -> list[Evaluation]:
        """Evaluations in creation order; of one job when ``job_id`` is given."""
        t = self._tables()
        if job_id is None:
            return _by_creation(t.evals.values())
        return _by_creation(t.evals[i] for i in t.evals_by_job.get((namespace, job_id), ()))

    def eval(self, eval_id: str) -> Optional[Evaluation]:
        return self._tables().evals.get(eval_id)

    # Allocations
    def allocs(self, job_id: Optional[str] = None,
               namespace: str = DEFAULT_NAMESPACE) -> list[Allocation]:
        """Allocations in creation order; of one job when ``job_id`` is given."""
        t = self._tables()
        if job_id is None:
            return _by_creation(t.allocs.values())
        return _by_creation(t.allocs[i] for i in t.allocs_by_job.get((namespace, job_id), ()))

    def allocs_by_node(self, node_id: str, terminal: bool = True) -> list[Allocation]:
        """Allocations placed on a node; ``terminal=False`` leaves out the finished ones."""
        t = self._tables()
        allocs = (t.allocs[i] for i in t.allocs_by_node.get(node_id, ()))
        return _by_creation(a for a in allocs if terminal or not a.terminal_status())

    def allocs_by_eval(self, eval_id: str) -> list[Allocation]:
        t = self._tables()
        return _by_creation(t.allocs[i] for i in t.allocs_by_eval.get(eval_id, ()))

    def alloc(self, alloc_id: str) -> Optional[Allocation]:
        return self._tables().allocs.get(alloc_id)

    # Nodes
    def nodes(self) -> list[Node]:
        return _by_creation(self._tables().nodes.values())

    def node(self, node_id: str) -> Optional[Node]:
        return self._tables().nodes.get(node_id)

    # Deployments
    def deployments(self, job_id: Optional[str] = None,
                    namespace: str = DEFAULT_NAMESPACE) -> list[Deployment]:
        found = self._tables().deployments.values()
        if job_id is not None:
            found = [d for d in found if d.job_id == job_id and d.namespace == namespace]
        return _by_creation(found)

    def deployment(self, deployment_id: str) -> Optional[Deployment]:
        return self._tables().deployments.get(deployment_id)

    def latest_deployment(self, namespace: str, job_id: str) -> Optional[Deployment]:
        """The job's most recently created deployment (Nomad's LatestDeploymentByJobID)."""
        found = self.deployments(job_id, namespace)
        return found[-1] if found else None

    # ACL
    def acl_policies(self) -> list[ACLPolicy]:
        t = self._tables()
        return [t.acl_policies[name] for name in sorted(t.acl_policies)]

    def acl_policy(self, name: str) -> Optional[ACLPolicy]:
        return self._tables().acl_policies.get(name)

    def acl_tokens(self) -> list[ACLToken]:
        t = self._tables()
        return sorted(t.acl_tokens.values(), key=lambda tok: (tok.create_index, tok.accessor_id))

    def acl_token(self, accessor_id: str) -> Optional[ACLToken]:
        return self._tables().acl_tokens.get(accessor_id)

    def acl_token_by_secret(self, secret_id: str) -> Optional[ACLToken]:
        t = self._tables()
        accessor = t.acl_token_secrets.get(secret_id)
        return None if accessor is None else t.acl_tokens.get(accessor)

    def scheduler_config(self) -> SchedulerConfig:
        return self._tables().scheduler_config

    def find_by_prefix(self, table: str, prefix: str,
                       namespace: Optional[str] = None) -> list[Any]:
        """Objects whose ID starts with ``prefix``, as Nomad resolves short IDs.

        ``table`` is one of :data:`PREFIX_TABLES`; jobs, evals, allocs and deployments
        can be narrowed to a ``namespace``.  Callers decide what several matches mean
        (Nomad's CLI lists them and asks for a longer prefix).
        """
        t = self._tables()
        if table not in PREFIX_TABLES:
            raise ValueError(f"no table {table!r} to search by prefix; "
                             f"tables: {', '.join(PREFIX_TABLES)}")
        rows: PMap = getattr(t, table)
        if table == "jobs":
            found = [job for (ns, job_id), job in rows.items() if job_id.startswith(prefix)]
        else:
            found = [obj for key, obj in rows.items() if key.startswith(prefix)]
        if namespace is not None:
            found = [o for o in found if getattr(o, "namespace", namespace) == namespace]
        return sorted(found, key=lambda o: (getattr(o, "namespace", ""),
                                            getattr(o, "id", "") or getattr(o, "name", "")
                                            or getattr(o, "accessor_id", "")))


class StateSnapshot(_Reads):
    """The state as of one index: immutable, so reading it needs no lock."""

    __slots__ = ("_t",)

    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def _tables(self) -> _Tables:
        return self._t

    def __repr__(self) -> str:
        t = self._t
        return (f"<StateSnapshot index={t.index} jobs={len(t.jobs)} evals={len(t.evals)} "
                f"allocs={len(t.allocs)} nodes={len(t.nodes)}>")


_REMOVED = object()


def _tables_from(restored: Restored) -> _Tables:
    """The store's tables from what a data dir held, the lookup tables rebuilt."""
    rows = restored.tables
    by_job: dict[JobKey, set[str]] = {}
    for ev in rows["evals"].values():
        by_job.setdefault((ev.namespace, ev.job_id), set()).add(ev.id)
    allocs_by: dict[str, dict[Any, set[str]]] = {"job": {}, "node": {}, "eval": {}}
    for alloc in rows["allocs"].values():
        allocs_by["job"].setdefault((alloc.namespace, alloc.job_id), set()).add(alloc.id)
        allocs_by["node"].setdefault(alloc.node_id, set()).add(alloc.id)
        allocs_by["eval"].setdefault(alloc.eval_id, set()).add(alloc.id)

    def index(groups: dict[Any, set[str]]) -> PMap:
        return pmap({key: pset(members) for key, members in groups.items()})

    return _Tables(
        index=restored.index,
        jobs=pmap(rows["jobs"]),
        job_versions=pmap({k: pvector(v) for k, v in rows["job_versions"].items()}),
        job_summaries=pmap(rows["job_summaries"]), evals=pmap(rows["evals"]),
        job_submissions=pmap(rows.get("job_submissions", {})),
        evals_by_job=index(by_job), allocs=pmap(rows["allocs"]),
        allocs_by_job=index(allocs_by["job"]), allocs_by_node=index(allocs_by["node"]),
        allocs_by_eval=index(allocs_by["eval"]), nodes=pmap(rows["nodes"]),
        deployments=pmap(rows["deployments"]), acl_policies=pmap(rows["acl_policies"]),
        acl_tokens=pmap(rows["acl_tokens"]),
        acl_token_secrets=pmap({t.secret_id: a for a, t in rows["acl_tokens"].items()}),
        services=pmap(rows["services"]),
        table_index=pmap(restored.table_index),
        scheduler_config=restored.scheduler_config or SchedulerConfig())


@dataclass(frozen=True)
class _HistoryEntry:
    index: int
    tables: _Tables
    events: tuple[Event, ...]


class _Txn:
    """A transaction in progress: working copies of the tables and the changes made so far.

    Each changed object is recorded once (the last write wins) so that one transaction
    yields one event per object, as Nomad's event stream does.
    """

    def __init__(self, tables: _Tables, kind: str) -> None:
        self.index = tables.index + 1
        self.kind = kind
        self.t: dict[str, Any] = {f.name: getattr(tables, f.name)
                                  for f in dataclasses.fields(tables) if f.name != "index"}
        self.changes: dict[tuple[str, str, str], tuple[str, str, Any]] = {}
        self.touched_jobs: dict[JobKey, bool] = {}   # job key -> an eval of it was deleted
        self.touched_tables: set[str] = set()
        #: What the transaction wrote to each persisted table (last write wins), as the
        #: log records it; _REMOVED marks a removal.
        self.writes: dict[str, dict[Any, Any]] = {}
        self.aborted = False

    def get(self, table: str, key: Any) -> Any:
        return self.t[table].get(key)

    def put(self, table: str, key: Any, value: Any) -> None:
        self.t[table] = self.t[table].set(key, value)
        self.touched_tables.add(table)
        if table in PERSISTED_TABLES:
            self.writes.setdefault(table, {})[key] = value

    def remove(self, table: str, key: Any) -> None:
        self.t[table] = self.t[table].discard(key)
        self.touched_tables.add(table)
        if table in PERSISTED_TABLES:
            self.writes.setdefault(table, {})[key] = _REMOVED

    def index_add(self, table: str, key: Any, member: str) -> None:
        self.put(table, key, self.t[table].get(key, pset()).add(member))

    def index_discard(self, table: str, key: Any, member: str) -> None:
        members: PSet = self.t[table].get(key, pset()).discard(member)
        if members:
            self.put(table, key, members)
        else:
            self.remove(table, key)

    def record(self, topic: str, key: str, namespace: str, payload: Any,
               event_type: Optional[str] = None) -> None:
        self.changes[(topic, namespace, key)] = (event_type or self.kind, key, payload)

    def touch_job(self, namespace: str, job_id: str, eval_deleted: bool = False) -> None:
        key = (namespace, job_id)
        self.touched_jobs[key] = self.touched_jobs.get(key, False) or eval_deleted

    def abort(self) -> None:
        """Leave without committing: nothing changes and the index does not move."""
        self.aborted = True

    def freeze(self) -> _Tables:
        stamped = self.t["table_index"].update({t: self.index for t in self.touched_tables})
        return _Tables(index=self.index, **{**self.t, "table_index": stamped})

    def log_record(self, scheduler_config: Any) -> LogRecord:
        """This transaction as one record of the state log (see :mod:`.persist`)."""
        puts: dict[str, list[tuple[Any, Any]]] = {}
        removes: dict[str, list[Any]] = {}
        for table, rows in self.writes.items():
            for key, value in rows.items():
                if value is _REMOVED:
                    removes.setdefault(table, []).append(key)
                else:
                    puts.setdefault(table, []).append(
                        (key, tuple(value) if table == "job_versions" else value))
        config = scheduler_config if "scheduler_config" in self.touched_tables else None
        return (self.index, self.kind, tuple(sorted(self.touched_tables)), puts, removes, config)

    def events(self) -> tuple[Event, ...]:
        return tuple(Event(topic=topic, type=event_type, key=key, namespace=namespace,
                           index=self.index, payload=payload)
                     for (topic, namespace, _), (event_type, key, payload)
                     in self.changes.items())


class StateStore(ServiceWrites, _Reads):
    """The server's single source of truth; reads here are reads of the latest snapshot.

    ``history`` is how many committed states :meth:`snapshot_at` can go back to; their
    events are what :meth:`events` and :meth:`history` return.
    """

    def __init__(self, history: int = 1000, clock: Optional[Callable[[], int]] = None) -> None:
        if history < 1:
            raise ValueError("history must keep at least one state")
        #: Stamps node events (Nomad's NodeEvent.Timestamp); the server passes its clock.
        self.clock = clock or time.time_ns
        self._current = _Tables.empty()
        self._write_lock = threading.Lock()
        self._index_changed = threading.Condition()
        self._history: deque[_HistoryEntry] = deque(maxlen=history)
        self._history.append(_HistoryEntry(0, self._current, ()))
        self._callbacks: list[Callable[[list[Event]], None]] = []
        self._streams: list[EventSubscription] = []
        self._delivering = threading.local()
        self._log: Optional[StateLog] = None

    def _tables(self) -> _Tables:
        return self._current

    def __repr__(self) -> str:
        return f"<StateStore index={self._current.index}>"

    # ---- persistence ----------------------------------------------------------------

    def open_log(self, directory: str, compact_records: int = 10_000,
                 compact_bytes: int = 64 * 1024 * 1024) -> Restored:
        """Restore the state kept in ``directory`` and persist every commit from now on.

        Only an empty store (index 0) can open a log: restoring replaces its tables, and
        the history restarts at the restored index.  Returns what was restored (counts,
        the index, a dropped torn tail).  See :mod:`nomadlab.server.persist` for the
        format and what is fsynced when.
        """
        with self._write_lock:
            if self._log is not None:
                raise StateError(f"the state store already persists to "
                                 f"{self._log.directory}")
            if self._current.index != 0:
                raise StateError(f"a state log can only be opened on an empty store; this "
                                 f"one is at index {self._current.index}")
            state_log = StateLog(directory, compact_records, compact_bytes)
            restored = state_log.load()
            tables = _tables_from(restored)
            with self._index_changed:
                self._current = tables
                self._history.clear()
                self._history.append(_HistoryEntry(tables.index, tables, ()))
                self._index_changed.notify_all()
            self._log = state_log
            return restored

    def close_log(self) -> None:
        """Stop persisting (every commit so far is already on disk)."""
        with self._write_lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _persist(self, txn: _Txn, tables: _Tables) -> None:
        """Append the transaction to the log (fsynced) before anyone can see it; compact
        the log into a snapshot when it has grown enough."""
        assert self._log is not None
        try:
            self._log.append(txn.log_record(tables.scheduler_config))
        except OSError as err:
            raise StateError(f"persisting transaction {txn.index} ({txn.kind}) to "
                             f"{self._log.directory} failed: {err}; nothing was "
                             "committed") from err
        if not self._log.should_compact():
            return
        try:
            self._log.compact(
                tables.index,
                {name: {k: tuple(v) if name == "job_versions" else v
                        for k, v in getattr(tables, name).items()}
                 for name in PERSISTED_TABLES},
                dict(tables.table_index), tables.scheduler_config)
        except OSError as err:   # the log still holds every record: retried next commit
            log.warning("compacting the state log in %s failed: %s", self._log.directory, err)

    # ---- snapshots, history, waiting ------------------------------------------------

    def snapshot(self) -> StateSnapshot:
        """The latest committed state; later writes never show up in it."""
        return StateSnapshot(self._current)

    def snapshot_at(self, index: int) -> StateSnapshot:
        """The state right after transaction ``index`` (kept for the last ``history`` ones)."""
        entries = self._history
        oldest, newest = entries[0].index, entries[-1].index
        if index > newest:
            raise StateError(f"index {index} is in the future; the store is at {newest}")
        if index < oldest:
            raise HistoryTruncated(
                f"index {index} is older than the oldest state kept (index {oldest}); "
                f"the store keeps the last {entries.maxlen} states")
        return StateSnapshot(entries[index - oldest].tables)

    def history(self, since_index: int = -1) -> list[tuple[int, tuple[Event, ...]]]:
        """``(index, events)`` for each kept transaction after ``since_index``, oldest first."""
        return [(e.index, e.events) for e in list(self._history) if e.index > since_index]

    def events(self, since_index: int = 0) -> list[Event]:
        """Every event committed after ``since_index``, in order.

        Raises :class:`HistoryTruncated` rather than silently skipping events that have
        already left the history.
        """
        entries = list(self._history)
        if since_index < entries[0].index - 1:
            raise HistoryTruncated(
                f"events after index {since_index} are no longer kept; the oldest kept "
                f"transaction is index {entries[0].index}")
        return [ev for e in entries if e.index > since_index for ev in e.events]

    def wait_for_index(self, index: int, timeout: Optional[float] = None) -> int:
        """Block until the store's index passes ``index`` or ``timeout`` seconds pass.

        Returns the index then current, which is what a blocking query (``?index=N``)
        answers with in X-Nomad-Index.
        """
        with self._index_changed:
            self._index_changed.wait_for(lambda: self._current.index > index, timeout)
            return self._current.index

    def snapshot_min_index(self, index: int, timeout: Optional[float] = None) -> StateSnapshot:
        """A snapshot that includes at least ``index`` (Nomad's SnapshotMinIndex).

        Workers use it so they never schedule against a state older than the eval's.
        """
        with self._index_changed:
            if not self._index_changed.wait_for(lambda: self._current.index >= index, timeout):
                raise TimeoutError(f"timed out waiting for the state store to reach index "
                                   f"{index} (at {self._current.index})")
            return StateSnapshot(self._current)

    # ---- change feed ----------------------------------------------------------------

    def subscribe(self, callback: Callable[[list[Event]], None]) -> Callable[[], None]:
        """Call ``callback(events)`` after each commit, in commit order; returns an unsubscribe.

        The callback runs on the writer's thread while the write lock is held, so it
        must be quick and must not write to the store (that raises :class:`StateError`).
        """
        with self._write_lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._write_lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)
        return unsubscribe

    def stream(self, maxsize: int = 1024) -> EventSubscription:
        """An iterator over events committed from now on, buffering at most ``maxsize``."""
        subscription = EventSubscription(maxsize, self._close_stream)
        with self._write_lock:
            self._streams.append(subscription)
        return subscription

    def _close_stream(self, subscription: EventSubscription) -> None:
        with self._write_lock:
            if subscription in self._streams:
                self._streams.remove(subscription)

    # ---- transactions ---------------------------------------------------------------

    @contextmanager
    def _transaction(self, kind: str) -> Iterator[_Txn]:
        if getattr(self._delivering, "active", False):
            raise StateError("a change-feed callback may not write to the state store")
        with self._write_lock:
            txn = _Txn(self._current, kind)
            yield txn
            if not txn.aborted:
                self._commit(txn)

    def _commit(self, txn: _Txn) -> None:
        for key, eval_deleted in txn.touched_jobs.items():
            job = txn.get("jobs", key)
            if job is not None:
                status = self._job_status(txn, job, eval_deleted)
                if status != job.status:
                    updated = dataclasses.replace(job, status=status, modify_index=txn.index)
                    txn.put("jobs", key, updated)
                    txn.record("Job", job.id, key[0], updated)
        tables = txn.freeze()
        events = txn.events()
        if self._log is not None:
            self._persist(txn, tables)
        with self._index_changed:
            self._current = tables
            self._history.append(_HistoryEntry(txn.index, tables, events))
            self._index_changed.notify_all()
        self._deliver(list(events))

    def _deliver(self, events: list[Event]) -> None:
        if not events:
            return
        for subscription in list(self._streams):
            subscription._publish(events)
        self._delivering.active = True
        try:
            for callback in list(self._callbacks):
                try:
                    callback(events)
                except Exception:
                    log.exception("state store change-feed callback %r failed", callback)
        finally:
            self._delivering.active = False

    # ---- jobs -----------------------------------------------------------------------

    def upsert_job(self, job: Job) -> Job:
        """Register a job (Nomad's JobRegister) and return the stored copy.

        A changed spec becomes a new version (Version + 1, JobModifyIndex = this index);
        an unchanged re-submission writes nothing and returns the job as stored, as
        Nomad's Job.Register does.
        """
        key = (job.namespace or DEFAULT_NAMESPACE, job.id)
        with self._transaction("JobRegistered") as txn:
            existing = txn.get("jobs", key)
            if existing is not None and not job_spec_changed(existing, job):
                txn.abort()
                return existing
            return self._txn_upsert_job(txn, copy.deepcopy(job))

    def register_job(self, job: Job, make_evals: Callable[[Job], list[Evaluation]],
                     submission: Any = None) -> tuple[Job, list[Evaluation]]:
        """A job and the evaluations it makes, in one transaction (one index), as Nomad
        applies a JobRegisterRequest and its evaluation in one Raft log entry.

        ``make_evals`` is given the job as stored (its new version and JobModifyIndex);
        an unchanged re-submission stores no new version but still gets its evaluation.
        ``submission`` (the spec's source, as sent) is kept under the version stored.
        """
        key = (job.namespace or DEFAULT_NAMESPACE, job.id)
        with self._transaction("JobRegistered") as txn:
            existing = txn.get("jobs", key)
            stored = existing if existing is not None and not job_spec_changed(existing, job) \
                else self._txn_upsert_job(txn, copy.deepcopy(job))
            if submission is not None:
                txn.put("job_submissions", key + (stored.version,), submission)
            evals = [self._txn_upsert_eval(txn, ev) for ev in make_evals(stored)]
            for ev in evals:  # an evaluation's event says EvaluationUpdated, as in Nomad
                txn.record("Evaluation", ev.id, ev.namespace, ev, "EvaluationUpdated")
            return stored, evals

    def delete_job(self, namespace: str, job_id: str, purge: bool = False) -> Job:
        """Deregister a job: mark it stopped (a new version), or with ``purge`` remove it.

        Purging removes the job, its versions and its summary; its evaluations and
        allocations stay until garbage collection, as in Nomad.
        """
        key = (namespace, job_id)
        with self._transaction("JobDeregistered") as txn:
            existing = txn.get("jobs", key)
            if existing is None:
                raise ObjectNotFound(f'job "{job_id}" not found in namespace "{namespace}"')
            if not purge:
                return self._txn_upsert_job(txn, dataclasses.replace(existing, stop=True))
            for version in txn.get("job_versions", key) or ():
                if txn.get("job_submissions", key + (version.version,)) is not None:
                    txn.remove("job_submissions", key + (version.version,))
            for table in ("jobs", "job_versions", "job_summaries"):
                txn.remove(table, key)
            txn.record("Job", job_id, namespace, existing)
            return existing

    def _txn_upsert_job(self, txn: _Txn, job: Job) -> Job:
        namespace = job.namespace or DEFAULT_NAMESPACE
        key = (namespace, job.id)
        existing: Optional[Job] = txn.get("jobs", key)
        job.namespace = namespace
        job.modify_index = job.job_modify_index = txn.index
        job.stable = False  # a new version is stable once a deployment of it succeeds
        if existing is None:
            job.create_index = txn.index
        else:
            job.create_index = existing.create_index
            job.version = max(job.version, existing.version + 1)
        job.status = self._job_status(txn, job, False)
        txn.put("jobs", key, job)
        txn.put("job_versions", key, (txn.get("job_versions", key) or pvector()).append(job))
        summary: Optional[JobSummary] = txn.get("job_summaries", key)
        if summary is None:
            summary = JobSummary(job_id=job.id, namespace=namespace, create_index=txn.index)
        groups = dict(summary.summary)
        for group in job.task_groups:
            groups.setdefault(group.name, TaskGroupSummary())
        txn.put("job_summaries", key,
                dataclasses.replace(summary, summary=groups, modify_index=txn.index))
        txn.record("Job", job.id, namespace, job)
        return job

    @staticmethod
    def _job_status(txn: _Txn, job: Job, eval_deleted: bool) -> str:
        """Nomad's getJobStatus: running while any alloc runs, pending while evals are open.

        System, periodic and parameterized jobs have no natural end, so they are running
        until stopped.  Allocations of an earlier job with the same ID (purged and
        registered again) do not count.
        """
        if job.type == "system" or job.is_periodic or job.is_parameterized:
            return "dead" if job.stop else "running"
        key = (job.namespace or DEFAULT_NAMESPACE, job.id)
        has_alloc = False
        for alloc_id in txn.get("allocs_by_job", key) or ():
            alloc: Allocation = txn.get("allocs", alloc_id)
            if alloc.job is not None and alloc.job.create_index != job.create_index:
                continue
            has_alloc = True
            if not alloc.terminal_status():
                return "running"
        has_eval = False
        for eval_id in txn.get("evals_by_job", key) or ():
            has_eval = True
            if not eval_terminal(txn.get("evals", eval_id)):
                return "pending"
        return "dead" if eval_deleted or has_eval or has_alloc else "pending"

    # ---- evaluations ----------------------------------------------------------------

    def upsert_evals(self, evals: Iterable[Evaluation]) -> list[Evaluation]:
        """Write evaluations (Nomad's EvalUpdate); returns the stored copies."""
        with self._transaction("EvaluationUpdated") as txn:
            return [self._txn_upsert_eval(txn, ev) for ev in evals]

    def delete_evals(self, eval_ids: Iterable[str], alloc_ids: Iterable[str] = ()) -> int:
        """Garbage-collect evaluations and allocations (Nomad's DeleteEval); returns the index."""
        with self._transaction("EvaluationDeleted") as txn:
            for eval_id in eval_ids:
                ev: Optional[Evaluation] = txn.get("evals", eval_id)
                if ev is None:
                    continue
                txn.remove("evals", eval_id)
                txn.index_discard("evals_by_job", (ev.namespace, ev.job_id), eval_id)
                txn.touch_job(ev.namespace, ev.job_id, eval_deleted=True)
                txn.record("Evaluation", eval_id, ev.namespace, ev)
            for alloc_id in alloc_ids:
                alloc: Optional[Allocation] = txn.get("allocs", alloc_id)
                if alloc is None:
                    continue
                txn.remove("allocs", alloc_id)
                self._unindex_alloc(txn, alloc)
                txn.touch_job(alloc.namespace, alloc.job_id, eval_deleted=True)
                txn.record("Allocation", alloc_id, alloc.namespace, alloc, "AllocationDeleted")
            return txn.index

    def _txn_upsert_eval(self, txn: _Txn, ev: Evaluation) -> Evaluation:
        stored = copy.deepcopy(ev)
        existing: Optional[Evaluation] = txn.get("evals", ev.id)
        stored.create_index = existing.create_index if existing else txn.index
        stored.modify_index = txn.index
        key = (stored.namespace, stored.job_id)
        txn.put("evals", stored.id, stored)
        txn.index_add("evals_by_job", key, stored.id)
        txn.touch_job(*key)
        txn.record("Evaluation", stored.id, stored.namespace, stored)

        summary: Optional[JobSummary] = txn.get("job_summaries", key)
        if summary is not None and stored.queued_allocations:
            groups = dict(summary.summary)
            for name, queued in stored.queued_allocations.items():
                if name in groups and groups[name].queued != queued:
                    groups[name] = dataclasses.replace(groups[name], queued=queued)
            if groups != summary.summary:
                txn.put("job_summaries", key, dataclasses.replace(
                    summary, summary=groups, modify_index=txn.index))

        if stored.status == "complete" and not stored.failed_tg_allocs:
            # A successful evaluation makes the job's blocked evaluation pointless.
            for other_id in txn.get("evals_by_job", key):
                other: Evaluation = txn.get("evals", other_id)
                if other.status == "blocked" and other_id != stored.id:
                    canceled = dataclasses.replace(
                        other, status="canceled", modify_index=txn.index,
                        status_description=f'evaluation "{stored.id}" successful')
                    txn.put("evals", other_id, canceled)
                    txn.record("Evaluation", other_id, other.namespace, canceled)
        return stored

    # ---- allocations ----------------------------------------------------------------

    def upsert_allocs(self, allocs: Iterable[Allocation]) -> list[Allocation]:
        """Write allocations as the server decided them (Nomad's AllocUpdate)."""
        with self._transaction("AllocationUpdated") as txn:
            return [self._txn_upsert_alloc(txn, alloc) for alloc in allocs]

    def apply_plan_results(self, allocs_to_upsert: Iterable[Allocation],
                           allocs_to_stop_updates: Iterable[Allocation] = (),
                           deployment: Optional[Deployment] = None,
                           eval_updates: Iterable[Evaluation] = (),
                           deployment_updates: Iterable[DeploymentStatusUpdate] = ()) -> int:
        """Commit a plan as ONE transaction (Nomad's ApplyPlanResults); returns its index.

        ``allocs_to_stop_updates`` are diffs naming existing allocations by ``id``: each
        becomes ``desired_status`` "stop" (or "evict") with its ``desired_description``,
        ``followup_eval_id`` and, when the scheduler says so, client status lost/unknown.
        A new ``deployment`` and ``deployment_updates`` (successful, cancelled) commit with
        the allocations, which update its counts of placed allocations.
        """
        with self._transaction("PlanResult") as txn:
            if deployment is not None:
                self._txn_upsert_deployment(txn, deployment)
            for update in deployment_updates:
                self._txn_update_deployment_status(txn, update)
            for diff in allocs_to_stop_updates:
                existing: Optional[Allocation] = txn.get("allocs", diff.id)
                if existing is None:
                    raise ObjectNotFound(f'allocation "{diff.id}" to stop is not in the state')
                stopped = dataclasses.replace(
                    existing,
                    desired_status=diff.desired_status if diff.desired_status != "run" else "stop",
                    desired_description=diff.desired_description,
                    client_status=diff.client_status,
                    followup_eval_id=diff.followup_eval_id or existing.followup_eval_id)
                self._txn_upsert_alloc(txn, stopped, copy_input=False)
            for alloc in allocs_to_upsert:
                self._txn_upsert_alloc(txn, alloc)
            for ev in eval_updates:
                self._txn_upsert_eval(txn, ev)
            return txn.index

    def update_allocs_from_client(self, allocs: Iterable[Allocation]) -> list[Allocation]:
        """What a client reports (Nomad's AllocClientUpdate): client status, task states.

        Everything else the client sends is ignored, so a client can never change what
        the scheduler decided.  Allocations the store does not know are skipped.
        """
        with self._transaction("AllocationUpdated") as txn:
            updated = []
            for alloc in allocs:
                existing: Optional[Allocation] = txn.get("allocs", alloc.id)
                if existing is None:
                    continue
                deployment_status = existing.deployment_status
                if alloc.deployment_status is not None:
                    deployment_status = dataclasses.replace(
                        deployment_status or alloc.deployment_status,
                        healthy=alloc.deployment_status.healthy,
                        timestamp=alloc.deployment_status.timestamp, modify_index=txn.index)
                stored = dataclasses.replace(
                    existing, client_status=alloc.client_status,
                    client_description=alloc.client_description,
                    task_states=copy.deepcopy(alloc.task_states),
                    deployment_status=deployment_status, modify_index=txn.index,
                    modify_time=alloc.modify_time or existing.modify_time)
                self._update_summary(txn, existing, stored)
                self._txn_update_deployment_with_alloc(txn, stored, existing)
                self._put_alloc(txn, existing, stored)
                if stored.client_terminal_status():
                    self._txn_delete_alloc_services(txn, stored.id)
                updated.append(stored)
            return updated

    def update_alloc_desired_transition(self, transitions: Mapping[str, DesiredTransition],
                                        evals: Iterable[Evaluation] = ()) -> int:
        """Mark allocations to migrate or reschedule (drains, ``alloc stop``) plus their evals.

        Only the fields a transition sets (not None) change; returns the index.
        """
        with self._transaction("AllocationUpdateDesiredStatus") as txn:
            for alloc_id, transition in transitions.items():
                existing: Optional[Allocation] = txn.get("allocs", alloc_id)
                if existing is None:
                    raise ObjectNotFound(f'allocation "{alloc_id}" not found')
                merged = dataclasses.replace(existing.desired_transition, **{
                    name: value for name, value in dataclasses.asdict(transition).items()
                    if value is not None and name != "extra"})
                self._put_alloc(txn, existing, dataclasses.replace(
                    existing, desired_transition=merged, modify_index=txn.index))
            for ev in evals:
                self._txn_upsert_eval(txn, ev)
            return txn.index

    def _txn_upsert_alloc(self, txn: _Txn, alloc: Allocation,
                          copy_input: bool = True) -> Allocation:
        """Nomad's upsertAllocsImpl: the server's view wins, the client's is kept."""
        stored = self._copy_alloc(txn, alloc) if copy_input else alloc
        existing: Optional[Allocation] = txn.get("allocs", alloc.id)
        stored.modify_index = stored.alloc_modify_index = txn.index
        if existing is None:
            stored.create_index = txn.index
            if stored.deployment_status is not None:
                stored.deployment_status = dataclasses.replace(
                    stored.deployment_status, modify_index=txn.index)
            if stored.job is None:
                stored.job = txn.get("jobs", (stored.namespace, stored.job_id))
                if stored.job is None:
                    raise StateError(f'allocation "{stored.id}" names job "{stored.job_id}", '
                                     f'which is not in namespace "{stored.namespace}"')
        else:
            stored.create_index = existing.create_index
            stored.task_states = existing.task_states
            if stored.client_status not in ("lost", "unknown"):
                stored.client_status = existing.client_status
                stored.client_description = existing.client_description
            if stored.job is None:
                stored.job = existing.job
        self._update_summary(txn, existing, stored)
        self._txn_update_deployment_with_alloc(txn, stored, existing)
        self._put_alloc(txn, existing, stored)
        return stored

    @staticmethod
    def _copy_alloc(txn: _Txn, alloc: Allocation) -> Allocation:
        """A deep copy that shares the job when it is already a stored (immutable) version.

        Allocations carry their job as Nomad denormalises it; copying it once per
        allocation would make placing a thousand allocations copy a thousand jobs.
        """
        memo: dict[int, Any] = {}
        job = alloc.job
        if job is not None:
            key = (job.namespace or DEFAULT_NAMESPACE, job.id)
            if txn.get("jobs", key) is job or any(
                    v is job for v in txn.get("job_versions", key) or ()):
                memo[id(job)] = job
        return copy.deepcopy(alloc, memo)

    def _put_alloc(self, txn: _Txn, existing: Optional[Allocation], alloc: Allocation) -> None:
        if existing is not None:
            self._unindex_alloc(txn, existing)
        txn.put("allocs", alloc.id, alloc)
        txn.index_add("allocs_by_job", (alloc.namespace, alloc.job_id), alloc.id)
        txn.index_add("allocs_by_node", alloc.node_id, alloc.id)
        txn.index_add("allocs_by_eval", alloc.eval_id, alloc.id)
        txn.touch_job(alloc.namespace, alloc.job_id)
        txn.record("Allocation", alloc.id, alloc.namespace, alloc)

    @staticmethod
    def _unindex_alloc(txn: _Txn, alloc: Allocation) -> None:
        txn.index_discard("allocs_by_job", (alloc.namespace, alloc.job_id), alloc.id)
        txn.index_discard("allocs_by_node", alloc.node_id, alloc.id)
        txn.index_discard("allocs_by_eval", alloc.eval_id, alloc.id)

    @staticmethod
    def _update_summary(txn: _Txn, existing: Optional[Allocation], alloc: Allocation) -> None:
        """Nomad's updateSummaryWithAlloc: move the alloc between client-status bins.

        A new allocation starts in Starting and takes one from Queued; a changed client
        status moves it from the old bin to the new one.
        """
        key = (alloc.namespace, alloc.job_id)
        summary: Optional[JobSummary] = txn.get("job_summaries", key)
        if summary is None or alloc.task_group not in summary.summary:
            return
        group = summary.summary[alloc.task_group]
        if existing is None:
            if alloc.desired_status != "run" or alloc.client_status != "pending":
                return
            group = dataclasses.replace(group, starting=group.starting + 1,
                                        queued=max(group.queued - 1, 0))
        elif existing.client_status != alloc.client_status:
            bins = {"pending": "starting", "running": "running", "complete": "complete",
                    "failed": "failed", "lost": "lost", "unknown": "unknown"}
            old_bin, new_bin = bins.get(existing.client_status), bins.get(alloc.client_status)
            changes = {}
            if new_bin:
                changes[new_bin] = getattr(group, new_bin) + 1
            if old_bin:
                changes[old_bin] = max(getattr(group, old_bin) - 1, 0)
            group = dataclasses.replace(group, **changes)
        else:
            return
        txn.put("job_summaries", key, dataclasses.replace(
            summary, summary={**summary.summary, alloc.task_group: group},
            modify_index=txn.index))

    # ---- nodes ----------------------------------------------------------------------

    def upsert_node(self, node: Node) -> Node:
        """Register a node or refresh its fingerprint (Nomad's NodeRegister).

        A re-registration keeps what the server decided about the node: its drain,
        eligibility and events.
        """
        with self._transaction("NodeRegistration") as txn:
            stored = copy.deepcopy(node)
            existing: Optional[Node] = txn.get("nodes", node.id)
            stored.modify_index = txn.index
            stored.computed_class = computed_class(stored)  # as Nomad's Node.Register does
            if existing is None:
                stored.create_index = txn.index
                stored.events = [NodeEvent(message="Node registered", subsystem="Cluster",
                                           create_index=txn.index,
                                           timestamp=format_rfc3339(self.clock()))]
            else:
                stored.create_index = existing.create_index
                stored.events = list(existing.events)
                if existing.status == "down" and stored.status != "down":
                    stored.events = _append_node_event(stored.events, NodeEvent(
                        message="Node re-registered", subsystem="Cluster",
                        create_index=txn.index, timestamp=format_rfc3339(self.clock())))
                stored.drain = existing.drain
                stored.drain_strategy = existing.drain_strategy
                stored.scheduling_eligibility = existing.scheduling_eligibility
            txn.put("nodes", stored.id, stored)
            txn.record("Node", stored.id, "", stored)
            return stored

    def update_node_status(self, node_id: str, status: str, updated_at: int = 0,
                           event: Optional[NodeEvent] = None) -> Node:
        """A heartbeat's verdict: ready, down, disconnected (Nomad's NodeUpdateStatus)."""
        if status not in NODE_STATUSES:
            raise StateError(f"node status {status!r} is not one of {', '.join(NODE_STATUSES)}")
        with self._transaction("NodeEvent") as txn:
            if status == "down":
                self._txn_delete_node_services(txn, node_id)
            return self._txn_update_node(txn, node_id, event, status=status,
                                         status_updated_at=updated_at)

    def update_node_eligibility(self, node_id: str, eligibility: str,
                                event: Optional[NodeEvent] = None) -> Node:
        """Allow or forbid new placements on a node; a draining node cannot be made eligible."""
        if eligibility not in NODE_ELIGIBILITY:
            raise StateError(f"scheduling eligibility {eligibility!r} is not one of "
                             f"{', '.join(NODE_ELIGIBILITY)}")
        with self._transaction("NodeEligibility") as txn:
            existing: Optional[Node] = txn.get("nodes", node_id)
            if existing is not None and existing.drain_strategy is not None \
                    and eligibility == "eligible":
                raise StateError("can not set node's scheduling eligibility to eligible "
                                 "while it is draining")
            return self._txn_update_node(txn, node_id, event,
                                         scheduling_eligibility=eligibility)

    def update_node_drain(self, node_id: str, drain_strategy: Optional[DrainStrategy],
                          mark_eligible: bool = False,
                          event: Optional[NodeEvent] = None,
                          meta: Optional[dict[str, str]] = None, accessor_id: str = "",
                          completed: bool = False) -> Node:
        """Start (a strategy) or stop (None) draining; a drain makes the node ineligible.

        When a drain ends the node stays ineligible unless ``mark_eligible``, as in Nomad.
        ``LastDrain`` follows Nomad's updateNodeDrainImpl: a new drain starts a fresh
        one; any change of a drain updates it (the operator's ``meta`` replaces the old
        only when given; ``completed`` says the drainer, not an operator, ended it).
        """
        changes: dict[str, Any] = {"drain_strategy": copy.deepcopy(drain_strategy),
                                   "drain": drain_strategy is not None}
        if drain_strategy is not None:
            changes["scheduling_eligibility"] = "ineligible"
        elif mark_eligible:
            changes["scheduling_eligibility"] = "eligible"
        with self._transaction("NodeDrain") as txn:
            existing: Optional[Node] = txn.get("nodes", node_id)
            if existing is not None and not (existing.drain_strategy is None
                                             and drain_strategy is None):
                changes["last_drain"] = _last_drain(existing, drain_strategy, self.clock(),
                                                    meta, accessor_id, completed)
            return self._txn_update_node(txn, node_id, event, **changes)

    def delete_node(self, node_id: str) -> Node:
        """Forget a node (Nomad's NodeDeregister); its allocations stay for the scheduler."""
        with self._transaction("NodeDeregistration") as txn:
            existing: Optional[Node] = txn.get("nodes", node_id)
            if existing is None:
                raise ObjectNotFound(f'node "{node_id}" not found')
            txn.remove("nodes", node_id)
            txn.record("Node", node_id, "", existing)
            return existing

    def _txn_update_node(self, txn: _Txn, node_id: str, event: Optional[NodeEvent],
                         **changes: Any) -> Node:
        existing: Optional[Node] = txn.get("nodes", node_id)
        if existing is None:
            raise ObjectNotFound(f'node "{node_id}" not found')
        events = existing.events
        if event is not None:
            events = _append_node_event(events, dataclasses.replace(
                copy.deepcopy(event), create_index=txn.index,
                timestamp=event.timestamp or format_rfc3339(self.clock())))
        stored = dataclasses.replace(existing, events=events, modify_index=txn.index, **changes)
        txn.put("nodes", node_id, stored)
        txn.record("Node", node_id, "", stored)
        return stored

    # ---- deployments, ACL, scheduler configuration ----------------------------------

    def upsert_deployment(self, deployment: Deployment) -> Deployment:
        with self._transaction("DeploymentStatusUpdate") as txn:
            return self._txn_upsert_deployment(txn, deployment)

    def _txn_upsert_deployment(self, txn: _Txn, deployment: Deployment) -> Deployment:
        stored = copy.deepcopy(deployment)
        existing: Optional[Deployment] = txn.get("deployments", deployment.id)
        stored.create_index = existing.create_index if existing else txn.index
        stored.modify_index = txn.index
        stored.modify_time = self.clock()
        txn.put("deployments", stored.id, stored)
        txn.record("Deployment", stored.id, stored.namespace, stored)
        return stored

    def _active_deployment(self, txn: _Txn, deployment_id: str) -> Deployment:
        deployment: Optional[Deployment] = txn.get("deployments", deployment_id)
        if deployment is None:
            raise ObjectNotFound(f"Deployment ID {deployment_id!r} couldn't be updated as "
                                 "it does not exist")
        if not deployment.active():
            raise StateError(f'Deployment "{deployment.id}" has terminal status '
                             f'"{deployment.status}"')
        return deployment

    def update_deployment_status(self, update: DeploymentStatusUpdate,
                                 evaluation: Optional[Evaluation] = None,
                                 job: Optional[Job] = None) -> tuple[int, Optional[Job]]:
        """A deployment's new status, with the evaluation it needs and, for an automatic
        revert, the job version registered again: ONE transaction (Nomad's
        UpdateDeploymentStatus).  Returns the index and the job as stored."""
        with self._transaction("DeploymentStatusUpdate") as txn:
            self._txn_update_deployment_status(txn, update)
            stored = self._txn_upsert_job(txn, copy.deepcopy(job)) if job is not None else None
            if evaluation is not None:
                self._txn_upsert_eval(txn, dataclasses.replace(
                    evaluation, job_modify_index=stored.job_modify_index
                    if stored is not None else evaluation.job_modify_index))
            return txn.index, stored

    def _txn_update_deployment_status(self, txn: _Txn, update: DeploymentStatusUpdate) -> None:
        existing: Optional[Deployment] = txn.get("deployments", update.deployment_id)
        if existing is None:
            raise ObjectNotFound(f'deployment "{update.deployment_id}" not found')
        self._txn_upsert_deployment(txn, dataclasses.replace(
            existing, status=update.status, status_description=update.status_description))
        if update.status == "successful":  # a deployment that succeeds makes its job stable
            self._txn_update_job_stability(txn, existing.namespace, existing.job_id,
                                           existing.job_version, True)

    def _txn_update_job_stability(self, txn: _Txn, namespace: str, job_id: str,
                                  version: int, stable: bool) -> None:
        """Nomad's UpdateJobStability: mark one job version stable (or not)."""
        key = (namespace, job_id)
        versions = txn.get("job_versions", key)
        if not versions:
            return
        changed = [dataclasses.replace(j, stable=stable, modify_index=txn.index)
                   if j.version == version and j.stable != stable else j for j in versions]
        if all(a is b for a, b in zip(changed, versions)):
            return
        txn.put("job_versions", key, pvector(changed))
        current: Optional[Job] = txn.get("jobs", key)
        if current is not None and current.version == version:
            updated = next(j for j in changed if j.version == version)
            txn.put("jobs", key, updated)
            txn.record("Job", job_id, namespace, updated)

    def update_deployment_promotion(self, deployment_id: str, groups: Optional[list[str]],
                                    evaluation: Evaluation, now: int) -> int:
        """Promote the canaries of ``groups`` (None: every group) with the evaluation that
        carries the rollout on: ONE transaction (Nomad's UpdateDeploymentPromotion).

        Refused, naming each group, while a group has fewer healthy canaries than it
        wants.  A promoted group's progress deadline starts again from ``now``."""
        with self._transaction("DeploymentPromotion") as txn:
            deployment = self._active_deployment(txn, deployment_id)
            chosen = set(deployment.task_groups) if groups is None else set(groups)
            canaries = {c for s in deployment.task_groups.values() for c in s.placed_canaries}
            healthy: dict[str, int] = {}
            promotable: list[Allocation] = []
            for alloc_id in sorted(canaries):
                alloc: Optional[Allocation] = txn.get("allocs", alloc_id)
                if alloc is None or alloc.task_group not in chosen:
                    continue
                if alloc.terminal_status() or alloc.deployment_status is None or \
                        alloc.deployment_status.healthy is not True:
                    continue
                healthy[alloc.task_group] = healthy.get(alloc.task_group, 0) + 1
                promotable.append(alloc)
            problems = [f'Task group "{name}" has {healthy.get(name, 0)}/'
                        f"{state.desired_canaries} healthy allocations"
                        for name, state in sorted(deployment.task_groups.items())
                        if name in chosen and state.desired_canaries
                        and healthy.get(name, 0) < state.desired_canaries]
            if problems:
                raise StateError("; ".join(problems))
            states = {}
            for name, state in deployment.task_groups.items():
                if name in chosen:
                    by = state.require_progress_by
                    if state.progress_deadline > 0 and parse_rfc3339(by):
                        by = format_rfc3339(now + state.progress_deadline)
                    state = dataclasses.replace(state, promoted=True, require_progress_by=by)
                states[name] = state
            promoted = dataclasses.replace(deployment, task_groups=states)
            if promoted.status == "running":
                promoted.status_description = promoted.running_description()
            self._txn_upsert_deployment(txn, promoted)
            self._txn_upsert_eval(txn, evaluation)
            for alloc in promotable:
                stored = dataclasses.replace(
                    alloc, modify_index=txn.index, alloc_modify_index=txn.index,
                    deployment_status=dataclasses.replace(
                        alloc.deployment_status, canary=False, modify_index=txn.index))
                self._put_alloc(txn, alloc, stored)
            return txn.index

    def update_deployment_alloc_health(self, deployment_id: str, healthy: Iterable[str],
                                       unhealthy: Iterable[str], timestamp: int,
                                       evaluation: Optional[Evaluation] = None,
                                       update: Optional[DeploymentStatusUpdate] = None,
                                       job: Optional[Job] = None) -> int:
        """Set allocations' health by hand (``health_check = "manual"``), with the status
        update, revert job and evaluation that follow: ONE transaction (Nomad's
        UpdateDeploymentAllocHealth)."""
        with self._transaction("DeploymentAllocHealth") as txn:
            self._active_deployment(txn, deployment_id)
            marks = [(i, True) for i in healthy] + [(i, False) for i in unhealthy]
            for alloc_id, is_healthy in marks:
                existing: Optional[Allocation] = txn.get("allocs", alloc_id)
                if existing is None:
                    raise ObjectNotFound(f'unknown alloc "{alloc_id}"')
                if existing.deployment_id != deployment_id:
                    raise StateError(f'alloc "{alloc_id}" is not part of deployment '
                                     f'"{deployment_id}"')
                status = existing.deployment_status or AllocDeploymentStatus()
                stored = dataclasses.replace(
                    existing, modify_index=txn.index, deployment_status=dataclasses.replace(
                        status, healthy=is_healthy, timestamp=format_rfc3339(timestamp),
                        modify_index=txn.index))
                self._txn_update_deployment_with_alloc(txn, stored, existing)
                self._put_alloc(txn, existing, stored)
            if update is not None:
                self._txn_update_deployment_status(txn, update)
            stored_job = self._txn_upsert_job(txn, copy.deepcopy(job)) if job is not None \
                else None
            if evaluation is not None:
                self._txn_upsert_eval(txn, dataclasses.replace(
                    evaluation, job_modify_index=stored_job.job_modify_index
                    if stored_job is not None else evaluation.job_modify_index))
            return txn.index

    def _txn_update_deployment_with_alloc(self, txn: _Txn, alloc: Allocation,
                                          existing: Optional[Allocation]) -> None:
        """Nomad's updateDeploymentWithAlloc: count a placement, or a first health verdict
        (or healthy turned unhealthy), in the alloc's deployment, and push its progress
        deadline on."""
        if not alloc.deployment_id:
            return
        deployment: Optional[Deployment] = txn.get("deployments", alloc.deployment_id)
        if deployment is None or alloc.task_group not in deployment.task_groups:
            return
        placed = healthy = unhealthy = 0
        had_health = existing is not None and existing.deployment_status is not None and \
            existing.deployment_status.healthy is not None
        has_health = alloc.deployment_status is not None and \
            alloc.deployment_status.healthy is not None
        if existing is None or existing.deployment_id != alloc.deployment_id:
            placed = 1
        elif not had_health and has_health:
            assert alloc.deployment_status is not None
            if alloc.deployment_status.healthy:
                healthy = 1
            else:
                unhealthy = 1
        elif had_health and has_health:
            assert existing is not None and existing.deployment_status is not None
            assert alloc.deployment_status is not None
            if existing.deployment_status.healthy and not alloc.deployment_status.healthy:
                healthy, unhealthy = -1, 1
        if not (placed or healthy or unhealthy):
            return
        state = deployment.task_groups[alloc.task_group]
        canaries = list(state.placed_canaries)
        if alloc.deployment_status is not None and alloc.deployment_status.canary and \
                alloc.id not in canaries:
            canaries.append(alloc.id)
        by = state.require_progress_by
        if state.progress_deadline:
            if placed and not parse_rfc3339(by):
                by = format_rfc3339(alloc.modify_time + state.progress_deadline)
            elif healthy > 0 and alloc.deployment_status is not None:
                candidate = parse_rfc3339(alloc.deployment_status.timestamp) + \
                    state.progress_deadline
                if candidate > parse_rfc3339(by):
                    by = format_rfc3339(candidate)
        state = dataclasses.replace(
            state, placed_allocs=state.placed_allocs + placed,
            healthy_allocs=state.healthy_allocs + healthy,
            unhealthy_allocs=state.unhealthy_allocs + unhealthy,
            placed_canaries=canaries, require_progress_by=by)
        self._txn_upsert_deployment(txn, dataclasses.replace(
            deployment, task_groups={**deployment.task_groups, alloc.task_group: state}))

    def upsert_acl_policies(self, policies: Iterable[ACLPolicy]) -> list[ACLPolicy]:
        with self._transaction("ACLPolicyUpserted") as txn:
            stored_all = []
            for policy in policies:
                stored = copy.deepcopy(policy)
                existing: Optional[ACLPolicy] = txn.get("acl_policies", policy.name)
                stored.create_index = existing.create_index if existing else txn.index
                stored.modify_index = txn.index
                txn.put("acl_policies", stored.name, stored)
                txn.record("ACLPolicy", stored.name, "", stored)
                stored_all.append(stored)
            return stored_all

    def delete_acl_policies(self, names: Iterable[str]) -> int:
        with self._transaction("ACLPolicyDeleted") as txn:
            for name in names:
                existing = txn.get("acl_policies", name)
                if existing is None:
                    raise ObjectNotFound(f'ACL policy "{name}" not found')
                txn.remove("acl_policies", name)
                txn.record("ACLPolicy", name, "", existing)
            return txn.index

    def upsert_acl_tokens(self, tokens: Iterable[ACLToken]) -> list[ACLToken]:
        """Write tokens; their events carry no secret, as Nomad's event stream redacts it."""
        with self._transaction("ACLTokenUpserted") as txn:
            stored_all = []
            for token in tokens:
                stored = copy.deepcopy(token)
                existing: Optional[ACLToken] = txn.get("acl_tokens", token.accessor_id)
                stored.create_index = existing.create_index if existing else txn.index
                stored.modify_index = txn.index
                if existing is not None:
                    txn.remove("acl_token_secrets", existing.secret_id)
                txn.put("acl_tokens", stored.accessor_id, stored)
                txn.put("acl_token_secrets", stored.secret_id, stored.accessor_id)
                txn.record("ACLToken", stored.accessor_id, "",
                           dataclasses.replace(stored, secret_id=""))
                stored_all.append(stored)
            return stored_all

    def delete_acl_tokens(self, accessor_ids: Iterable[str]) -> int:
        with self._transaction("ACLTokenDeleted") as txn:
            for accessor_id in accessor_ids:
                existing: Optional[ACLToken] = txn.get("acl_tokens", accessor_id)
                if existing is None:
                    raise ObjectNotFound(f'ACL token "{accessor_id}" not found')
                txn.remove("acl_tokens", accessor_id)
                txn.remove("acl_token_secrets", existing.secret_id)
                txn.record("ACLToken", accessor_id, "",
                           dataclasses.replace(existing, secret_id=""))
            return txn.index

    def set_scheduler_config(self, config: SchedulerConfig) -> SchedulerConfig:
        """Replace the scheduler configuration (``nomad operator scheduler set-config``)."""
        if config.scheduler_algorithm not in SCHEDULER_ALGORITHMS:
            raise StateError(f"scheduler algorithm {config.scheduler_algorithm!r} is not one "
                             f"of {', '.join(SCHEDULER_ALGORITHMS)}")
        with self._transaction("SchedulerConfigUpdated") as txn:
            stored = copy.deepcopy(config)
            stored.create_index = txn.t["scheduler_config"].create_index or txn.index
            stored.modify_index = txn.index
            txn.t["scheduler_config"] = stored
            txn.touched_tables.add("scheduler_config")
            return stored


def _last_drain(node: Node, strategy: Optional[DrainStrategy], now: int,
                meta: Optional[dict[str, str]], accessor_id: str,
                completed: bool) -> DrainMetadata:
    """The node's LastDrain after a drain write (times to the second, as Nomad keeps
    them)."""
    moment = format_rfc3339(now - now % 1_000_000_000)
    if node.drain_strategy is None or node.last_drain is None:
        last = DrainMetadata(started_at=moment if node.drain_strategy is None else
                             node.drain_strategy.started_at, meta=dict(meta or {}))
    else:
        last = copy.deepcopy(node.last_drain)
    last.updated_at = moment
    if meta:
        last.meta = dict(meta)
    if accessor_id:
        last.accessor_id = accessor_id
    last.status = (DRAIN_DRAINING if strategy is not None
                   else DRAIN_COMPLETE if completed else DRAIN_CANCELED)
    return last


def _append_node_event(events: list[NodeEvent], event: NodeEvent) -> list[NodeEvent]:
    return [*events, event][-MAX_RETAINED_NODE_EVENTS:]
