"""``/v1/client/fs/logs/:alloc``: a task's stdout or stderr, whole or followed.

Parameters as Nomad's (command/agent/fs_endpoint.go): ``task``, ``type`` (stdout or
stderr), ``plain`` (raw bytes instead of JSON frames), ``follow``, ``origin`` (start or
end) and ``offset`` (bytes from the origin).  Frames are Nomad's StreamFrame,
``{"Data": <base64>, "File": "alloc/logs/<task>.<type>.<n>", "Offset": <n>}``.

Logs live in rotated files (``<task>.stdout.0``, ``.1``, ...); following reads each file
from where it left off, so a rotation while following loses nothing.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import TYPE_CHECKING, Iterator

from .errors import HTTPError
from .http import Reply, Request, Stream
from .routes import handle, lookup

if TYPE_CHECKING:
    from ..cluster import LocalCluster

#: How often a followed log is polled for new bytes, and how often a heartbeat frame is
#: sent while nothing arrives (keeps proxies and clients from timing out).
POLL_INTERVAL = 0.1
HEARTBEAT_INTERVAL = 10.0
CHUNK = 64 * 1024


def _params(request: Request) -> tuple[str, str, str, int]:
    task = request.arg("task")
    if not task:
        raise HTTPError(400, "must provide task name")
    log_type = request.arg("type")
    if log_type not in ("stdout", "stderr"):
        raise HTTPError(400, "must provide log type (stdout/stderr)" if not log_type
                        else f'log type must be "stdout" or "stderr", not "{log_type}"')
    origin = request.arg("origin", "start")
    if origin not in ("start", "end"):
        raise HTTPError(400, 'origin must be "start" or "end"')
    offset = request.int_arg("offset")
    if offset < 0:
        raise HTTPError(400, "offset must be a positive integer")
    return task, log_type, origin, offset


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _start_positions(paths: list[str], origin: str, offset: int) -> dict[str, int]:
    """Per file, where reading starts: ``offset`` bytes into (or before the end of) the
    concatenation of the rotated files."""
    sizes = [_size(p) for p in paths]
    skip = offset if origin == "start" else max(sum(sizes) - offset, 0)
    positions = {}
    for path, size in zip(paths, sizes, strict=True):
        positions[path] = min(skip, size)
        skip = max(skip - size, 0)
    return positions


def _read_new(paths: list[str], positions: dict[str, int]) -> Iterator[tuple[str, int, bytes]]:
    for path in paths:
        start = positions.setdefault(path, 0)
        try:
            with open(path, "rb") as f:
                f.seek(start)
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        break
                    yield path, start, data
                    start += len(data)
                    positions[path] = start
        except FileNotFoundError:
            continue


@handle("GET /v1/client/fs/logs/{alloc}")
def logs(request: Request, cluster: "LocalCluster") -> Reply | Stream:
    task, log_type, origin, offset = _params(request)
    alloc = lookup(cluster.snapshot(), "allocs", request.params["alloc"], "alloc")
    if task not in {t.name for g in (alloc.job.task_groups if alloc.job else [])
                    if g.name == alloc.task_group for t in g.tasks}:
        raise HTTPError(400, f'unknown task name "{task}"')
    try:
        paths = cluster.log_files(alloc.id, task, log_type)
    except KeyError:
        paths = []  # placed but not started here yet (or a simulated node): no output yet
    plain = request.flag("plain")
    positions = _start_positions(paths, origin, offset)

    def frame(path: str, at: int, data: bytes) -> bytes:
        if plain:
            return data
        name = f"alloc/logs/{os.path.basename(path)}"
        return json.dumps({"Data": base64.b64encode(data).decode(), "File": name,
                           "Offset": at + len(data)}).encode() + b"\n"

    if not request.flag("follow"):
        body = b"".join(frame(p, at, d) for p, at, d in _read_new(paths, positions))
        return Reply(raw=body, content_type="text/plain" if plain else "application/json")

    closing = request.closing

    def follow() -> Iterator[bytes]:
        quiet_since = time.monotonic()
        current = paths
        while closing is None or not closing.is_set():
            sent = False
            for path, at, data in _read_new(current, positions):
                sent = True
                yield frame(path, at, data)
            if sent:
                quiet_since = time.monotonic()
            latest = cluster.snapshot().alloc(alloc.id)
            if not sent and (latest is None or latest.client_terminal_status()):
                return  # the task can write no more
            if time.monotonic() - quiet_since > HEARTBEAT_INTERVAL:
                quiet_since = time.monotonic()
                yield b"" if plain else b"{}\n"
            time.sleep(POLL_INTERVAL)
            try:
                current = cluster.log_files(alloc.id, task, log_type)
            except KeyError:
                current = []

    return Stream(follow(), content_type="text/plain" if plain else "application/json")
