"""The state store on disk: a snapshot plus an append-only log of transactions.

Layout of a server data dir (``<data_dir>/server``)::

    state.snapshot   the store as of one index (written whole, replaced atomically)
    state.log        every transaction committed after that index, in order

Both files start with an 8-byte magic (``NLSNAP3\\n``, ``NLLOG03\\n``) and then hold
*frames*: a 4-byte little-endian payload length, the payload's 4-byte CRC-32, the payload.
A payload is a zlib-compressed (level 1) pickle (protocol 5) of plain Python values and
nomadlab's own structs; compressed, a thousand placements with their evaluation's trace
are ~100 KB instead of ~3 MB, which is what makes the fsync cheap:

* a log record is ``(index, kind, touched, puts, removes, scheduler_config)``: the
  transaction's index and kind (``JobRegistered``, ``PlanResult``, ...), the tables whose
  index it moved, ``{table: [(key, value), ...]}`` written, ``{table: [key, ...]}``
  removed, and the new scheduler configuration (or None).  Only the primary tables are
  logged (:data:`PERSISTED_TABLES`); the lookup tables (allocations by job, node and
  evaluation, evaluations by job, tokens by secret) are rebuilt from them on restore.
* the snapshot is ``{"index", "tables", "table_index", "scheduler_config"}``.

Guarantees:

* **A write is durable before it is acknowledged.** :meth:`StateLog.append` writes the
  frame with one ``write`` and ``fdatasync``\\ s the log before it returns, and the store
  calls it on its one commit path *before* the new state becomes visible, so a caller
  that got an answer (an HTTP 200, a returned index) holds a write that survives
  ``kill -9`` and a power cut (as far as the disk honours fsync).
* **A torn write loses only itself.** A process killed mid-write leaves at most one
  incomplete or checksum-failing frame at the end of the log: it was never acknowledged,
  and :meth:`StateLog.load` drops it (and truncates the file there, so later appends
  follow the last good frame).  Nothing before it is lost.
* **Compaction is atomic.** Every ``compact_records`` records or ``compact_bytes`` bytes
  of log, the whole store is written to ``state.snapshot.tmp``, fsynced, renamed over
  ``state.snapshot`` (the directory fsynced too), and only then is the log emptied.  A
  crash in between leaves a snapshot and a log whose records it already contains; those
  are skipped by index on the next load.
* A gap in the indexes, or a damaged snapshot, is not a torn write: loading refuses it
  with :class:`StateLogError` rather than start from a state that silently lost writes.

Pickle is used because it is fast (a thousand allocations encode in ~25 ms, JSON via
``to_api()`` takes several times that) and keeps the structs exactly, evaluation traces
included (a placement's node records are pickled as flat lists of plain values, see
:func:`_placement_columns`); the data dir must therefore be as trusted as the code, like
Nomad's own data dir.  Version 2 files (each trace record pickled on its own) still load;
a version 2 log gets the version 3 magic when it is opened for appending.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import logging
import operator
import os
import pickle
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..structs.trace import Check, NodeTrace, PlacementTrace

__all__ = ["StateLog", "StateLogError", "Restored", "PERSISTED_TABLES", "LogRecord"]

log = logging.getLogger(__name__)

#: The tables written to disk; every other table of the store is derived from these.
PERSISTED_TABLES = ("jobs", "job_versions", "job_summaries", "evals", "allocs", "nodes",
                    "deployments", "acl_policies", "acl_tokens", "services",
                    "job_submissions")

SNAPSHOT_FILE = "state.snapshot"
LOG_FILE = "state.log"
SNAPSHOT_MAGIC = b"NLSNAP3\n"
LOG_MAGIC = b"NLLOG03\n"
#: Earlier formats this version still reads (same framing; their pickles still load).
_OLD_SNAPSHOT_MAGICS = (b"NLSNAP2\n",)
_OLD_LOG_MAGICS = (b"NLLOG02\n",)
_FRAME = struct.Struct("<II")   # payload length, CRC-32 of the payload

#: (index, kind, touched tables, {table: [(key, value)]}, {table: [key]}, scheduler config)
LogRecord = tuple[int, str, tuple[str, ...], dict[str, list[tuple[Any, Any]]],
                  dict[str, list[Any]], Any]


class StateLogError(Exception):
    """The data dir holds something that is not a state nomadlab can restore."""


@dataclass
class Restored:
    """What a data dir held: the primary tables as dicts, as of ``index``."""

    index: int = 0
    tables: dict[str, dict[Any, Any]] = field(
        default_factory=lambda: {name: {} for name in PERSISTED_TABLES})
    table_index: dict[str, int] = field(default_factory=dict)
    scheduler_config: Any = None
    records: int = 0          # log records replayed on top of the snapshot
    dropped_bytes: int = 0    # a torn tail, dropped

    def apply(self, record: LogRecord) -> None:
        """Replay one transaction onto these tables."""
        index, _kind, touched, puts, removes, config = record
        for table, rows in puts.items():
            self.tables[table].update(rows)
        for table, keys in removes.items():
            rows = self.tables[table]
            for key in keys:
                rows.pop(key, None)
        for table in touched:
            self.table_index[table] = index
        if config is not None:
            self.scheduler_config = config
        self.index = index


#: A placement's node records are pickled as two flat lists (see _placement_columns):
#: every NodeTrace field but its checks, in field order, then how many checks it ran; and
#: every Check's fields, in order.  Changing these classes' fields changes the format
#: (bump the magic).
_NODE_FIELDS = tuple(f.name for f in dataclasses.fields(NodeTrace) if f.name != "checks")
_CHECKS_AT = [f.name for f in dataclasses.fields(NodeTrace)].index("checks")
_NODE_WIDTH = len(_NODE_FIELDS) + 1
_CHECK_WIDTH = len(dataclasses.fields(Check))
_node_values = operator.attrgetter(*_NODE_FIELDS)
_check_values = operator.attrgetter(*(f.name for f in dataclasses.fields(Check)))
_PLACEMENT_FIELDS = tuple(f.name for f in dataclasses.fields(PlacementTrace) if f.name != "nodes")


def _placement_columns(placement: PlacementTrace) -> tuple[Callable[..., PlacementTrace],
                                                           tuple[Any, ...]]:
    """Pickle one placement's trace as its fields and two flat lists of plain values.

    Why: an evaluation of 1,000 placements on 100 nodes holds ~10,000 NodeTraces and
    ~30,000 Checks.  Pickled one object at a time, each became a reduce call and new
    tuples that the pickler keeps alive until the end: the encoding took twice as long,
    and those tens of thousands of young objects set off the garbage collector over the
    whole heap in the middle of the commit.  Here a placement is three containers (its
    fields, and two lists of strings, numbers and the records' own dicts) instead of
    some forty objects.
    """
    nodes: list[Any] = []
    checks: list[Any] = []
    for node in placement.nodes:
        nodes.extend(_node_values(node))
        nodes.append(len(node.checks))
        for check in node.checks:
            checks.extend(_check_values(check))
    fields = {name: getattr(placement, name) for name in _PLACEMENT_FIELDS}
    return _placement_from_columns, (fields, nodes, checks)


def _placement_from_columns(fields: dict[str, Any], nodes: list[Any],
                            checks: list[Any]) -> PlacementTrace:
    """The placement :func:`_placement_columns` pickled, rebuilt exactly."""
    records = []
    at = 0
    for start in range(0, len(nodes), _NODE_WIDTH):
        row = nodes[start:start + _NODE_WIDTH]
        end = at + row[-1] * _CHECK_WIDTH
        ran = [Check(*checks[i:i + _CHECK_WIDTH]) for i in range(at, end, _CHECK_WIDTH)]
        at = end
        records.append(NodeTrace(*row[:_CHECKS_AT], ran, *row[_CHECKS_AT:-1]))
    return PlacementTrace(nodes=records, **fields)


_DISPATCH = {**copyreg.dispatch_table, PlacementTrace: _placement_columns}


def _dumps(obj: Any) -> bytes:
    """The payload of a frame: the pickle, compressed (fast zlib)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(obj)
    return zlib.compress(buffer.getbuffer(), 1)


def _loads(payload: bytes) -> Any:
    return pickle.loads(zlib.decompress(payload))


def _frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def _frames(data: bytes, start: int) -> tuple[list[bytes], int]:
    """The intact frames from ``start`` on, and the offset just after the last one."""
    payloads = []
    offset = start
    while offset + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, offset)
        end = offset + _FRAME.size + length
        if end > len(data):
            break
        payload = data[offset + _FRAME.size:end]
        if zlib.crc32(payload) != crc:
            break
        payloads.append(payload)
        offset = end
    return payloads, offset


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateLog:
    """One server's snapshot and log in ``directory``; not thread-safe (the store's write
    lock serialises every call)."""

    def __init__(self, directory: str, compact_records: int = 10_000,
                 compact_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.compact_records = compact_records
        self.compact_bytes = compact_bytes
        self.snapshot_path = os.path.join(directory, SNAPSHOT_FILE)
        self.log_path = os.path.join(directory, LOG_FILE)
        self._fd: Optional[int] = None
        self._size = 0              # bytes in the log, magic included
        self._records = 0           # records in the log since the last compaction

    # -- reading ------------------------------------------------------------------------

    def load(self) -> Restored:
        """Read the snapshot and replay the log; open the log for appending after it."""
        os.makedirs(self.directory, exist_ok=True)
        restored = self._load_snapshot()
        snapshot_index = restored.index
        data = b""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            pass
        magics = (LOG_MAGIC, *_OLD_LOG_MAGICS)
        if data and data[:len(LOG_MAGIC)] not in magics:
            if any(magic.startswith(data) for magic in magics):   # killed creating the log
                data = b""
            else:
                raise StateLogError(f"{self.log_path}: not a nomadlab state log")
        payloads, end = _frames(data, len(LOG_MAGIC)) if data else ([], 0)
        for payload in payloads:
            record: LogRecord = _loads(payload)
            index = record[0]
            if index <= snapshot_index:
                continue   # already in the snapshot (a crash during compaction)
            if index != restored.index + 1:
                raise StateLogError(
                    f"{self.log_path}: transaction {index} follows {restored.index}; "
                    "the log is missing transactions, refusing to restore from it")
            restored.apply(record)
            restored.records += 1
        if data:
            restored.dropped_bytes = len(data) - end
            if restored.dropped_bytes:
                log.warning("%s: dropped a torn write of %d bytes at its end (a transaction "
                            "that was never acknowledged)", self.log_path, restored.dropped_bytes)
        self._open_log(end if data else 0)
        self._records = restored.records
        return restored

    def _load_snapshot(self) -> Restored:
        try:
            with open(self.snapshot_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return Restored()
        payloads, end = _frames(data, len(SNAPSHOT_MAGIC))
        if data[:len(SNAPSHOT_MAGIC)] not in (SNAPSHOT_MAGIC, *_OLD_SNAPSHOT_MAGICS) \
                or len(payloads) != 1 or end != len(data):
            raise StateLogError(f"{self.snapshot_path}: damaged snapshot (it is written to a "
                                "temporary file and renamed, so this is not a torn write)")
        saved = _loads(payloads[0])
        tables = {name: dict(saved["tables"].get(name, {})) for name in PERSISTED_TABLES}
        return Restored(index=saved["index"], tables=tables,
                        table_index=dict(saved["table_index"]),
                        scheduler_config=saved["scheduler_config"])

    def _open_log(self, valid_end: int) -> None:
        fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT, 0o600)
        if valid_end < len(LOG_MAGIC):
            os.ftruncate(fd, 0)
            os.write(fd, LOG_MAGIC)
            valid_end = len(LOG_MAGIC)
        else:
            os.ftruncate(fd, valid_end)   # drop a torn tail so appends follow good frames
            if os.pread(fd, len(LOG_MAGIC), 0) != LOG_MAGIC:   # an older version's log:
                os.pwrite(fd, LOG_MAGIC, 0)    # what is appended now is this version's
        os.fsync(fd)
        _fsync_dir(self.directory)
        os.lseek(fd, valid_end, os.SEEK_SET)
        self._fd, self._size = fd, valid_end

    # -- writing ------------------------------------------------------------------------

    def append(self, record: LogRecord) -> None:
        """Write one transaction and fdatasync it; raise OSError (nothing appended) if not."""
        if self._fd is None:
            raise StateLogError(f"{self.log_path}: the log is not open (load() first)")
        frame = _frame(_dumps(record))
        try:
            written = os.write(self._fd, frame)
            if written != len(frame):
                raise OSError(f"short write ({written} of {len(frame)} bytes)")
            os.fdatasync(self._fd)
        except OSError:
            os.ftruncate(self._fd, self._size)   # leave no partial frame behind
            os.lseek(self._fd, self._size, os.SEEK_SET)
            raise
        self._size += len(frame)
        self._records += 1

    def should_compact(self) -> bool:
        return self._records >= self.compact_records or self._size >= self.compact_bytes

    def compact(self, index: int, tables: dict[str, dict[Any, Any]],
                table_index: dict[str, int], scheduler_config: Any) -> None:
        """Write the whole store as the new snapshot, then start an empty log."""
        payload = _dumps({"index": index, "tables": tables, "table_index": table_index,
                          "scheduler_config": scheduler_config})
        tmp = self.snapshot_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(SNAPSHOT_MAGIC + _frame(payload))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.snapshot_path)
        _fsync_dir(self.directory)
        assert self._fd is not None
        os.ftruncate(self._fd, len(LOG_MAGIC))
        os.lseek(self._fd, len(LOG_MAGIC), os.SEEK_SET)
        os.fsync(self._fd)
        self._size, self._records = len(LOG_MAGIC), 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def size(self) -> int:
        """Bytes in the log now (the magic included)."""
        return self._size

    @property
    def records(self) -> int:
        """Records in the log since the last compaction."""
        return self._records
