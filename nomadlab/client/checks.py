"""Nomad service checks run by the client, and the store of their latest results.

As in Nomad (client/serviceregistration/checks), a check of a ``provider = "nomad"``
service is run by the client that runs the allocation, against the address the service
is registered at: ``http`` sends a request (``method``, ``header``, ``body``,
``protocol``) to ``path`` and passes on a status below 400; ``tcp`` passes when a
connection opens.  A check runs at once and then every ``interval``, each try bounded by
``timeout``.  The latest result of each check is kept in a :class:`CheckStore`, read by
the health tracker and by ``/v1/client/allocation/:id/checks``.

On a simulated node the task runs no process, so nothing could answer: its checks are
not run and are reported as passing, with an output that says so.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from ..structs import CheckQueryResult, ServiceCheck
from .timers import Timer, Timers

__all__ = ["CheckSpec", "CheckStore", "CheckRunner", "run_check", "SIMULATED_OUTPUT"]

#: Nomad keeps at most this much of an http check's response body (outputSizeLimit).
OUTPUT_LIMIT = 3 * 1024
SIMULATED_OUTPUT = ("nomadlab: simulated node, the task runs no process; the check is not "
                    "run and counts as passing")
#: Checks running at once on one client (each may wait up to its timeout).
WORKERS = 4


@dataclass(frozen=True)
class CheckSpec:
    """One check of one allocation's service, resolved to where it is sent."""

    id: str
    name: str
    check: ServiceCheck
    address: str
    port: int
    group: str        # the allocation's name, as Nomad reports it
    task: str         # "" for a group service
    service: str
    mode: str         # healthiness | readiness
    simulated: bool = False


def run_check(spec: CheckSpec, now: Callable[[], float] = time.time) -> CheckQueryResult:
    """Run one check once (Nomad's checker.Do) and say how it went."""
    result = CheckQueryResult(id=spec.id, mode=spec.mode, status="pending",
                              timestamp=int(now()), group=spec.group, task=spec.task,
                              service=spec.service, check=spec.name)
    if spec.simulated:
        result.status, result.output = "success", SIMULATED_OUTPUT
        return result
    timeout = (spec.check.timeout or 1_000_000_000) / 1e9
    if spec.check.type == "http":
        _http(spec, timeout, result)
    else:
        _tcp(spec, timeout, result)
    return result


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _tcp(spec: CheckSpec, timeout: float, result: CheckQueryResult) -> None:
    try:
        socket.create_connection((spec.address, spec.port), timeout=timeout).close()
    except OSError as err:
        result.status = "failure"
        result.output = f"dial tcp {_host(spec.address)}:{spec.port}: {_reason(err)}"
        return
    result.status, result.output = "success", "nomad: tcp ok"


def _http(spec: CheckSpec, timeout: float, result: CheckQueryResult) -> None:
    check = spec.check
    protocol = check.protocol or "http"
    path = check.path if check.path.startswith("/") else "/" + check.path
    method = check.method or "GET"
    url = f"{protocol}://{_host(spec.address)}:{spec.port}{path}"
    headers = {"User-Agent": "Nomad/nomadlab"}
    for name, values in check.header.items():
        headers[name] = ", ".join(values)
    try:
        if protocol == "https":
            context = ssl.create_default_context()
            if check.tls_skip_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                spec.address, spec.port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(spec.address, spec.port, timeout=timeout)
        try:
            conn.request(method, path, body=check.body.encode() if check.body else None,
                         headers=headers)
            response = conn.getresponse()
            body = response.read(OUTPUT_LIMIT)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as err:
        result.status = "failure"
        result.output = f'nomad: {method.capitalize()} "{url}": {_reason(err)}'
        return
    result.status_code = response.status
    if response.status == 200:
        result.status, result.output = "success", "nomad: http ok"
        return
    result.status = "success" if response.status < 400 else "failure"
    result.output = body.decode(errors="replace")


def _reason(err: BaseException) -> str:
    if isinstance(err, socket.timeout):
        return "i/o timeout"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    return str(err) or type(err).__name__


class CheckStore:
    """The latest result of every check, per allocation (Nomad's checkstore)."""

    def __init__(self) -> None:
        self._results: dict[str, dict[str, CheckQueryResult]] = {}
        self._lock = threading.Lock()

    def set(self, alloc_id: str, result: CheckQueryResult) -> None:
        with self._lock:
            self._results.setdefault(alloc_id, {})[result.id] = result

    def results(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        with self._lock:
            return dict(self._results.get(alloc_id, {}))

    def remove(self, alloc_id: str, check_ids: Iterable[str]) -> None:
        with self._lock:
            found = self._results.get(alloc_id, {})
            for check_id in check_ids:
                found.pop(check_id, None)
            if not found:
                self._results.pop(alloc_id, None)


@dataclass
class _Watch:
    spec: CheckSpec
    on_result: Callable[[CheckQueryResult], None]
    timer: Optional[Timer] = None
    stopped: bool = field(default=False)


class CheckRunner:
    """Runs the checks of a client's allocations on schedule: the client's timer thread
    says when, a few worker threads do the (blocking) checking."""

    def __init__(self, timers: Timers, store: CheckStore, workers: int = WORKERS) -> None:
        self.timers = timers
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checks")
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._lock = threading.Lock()
        self._closed = False

    def watch(self, alloc_id: str, spec: CheckSpec,
              on_result: Callable[[CheckQueryResult], None]) -> None:
        """Run ``spec`` now and every interval until :meth:`unwatch`; each result goes to
        the store, then to ``on_result``."""
        with self._lock:
            if self._closed or (alloc_id, spec.id) in self._watches:
                return
            watch = _Watch(spec, on_result)
            self._watches[(alloc_id, spec.id)] = watch
            self._schedule(alloc_id, watch, 0.0)

    def unwatch(self, alloc_id: str, check_ids: Iterable[str]) -> None:
        """Stop running these checks and forget their results."""
        ids = list(check_ids)
        with self._lock:
            for check_id in ids:
                watch = self._watches.pop((alloc_id, check_id), None)
                if watch is not None:
                    watch.stopped = True
                    if watch.timer is not None:
                        watch.timer.cancel()
        self.store.remove(alloc_id, ids)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for watch in self._watches.values():
                watch.stopped = True
            self._watches.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, alloc_id: str, watch: _Watch, delay: float) -> None:
        def due() -> None:
            if not watch.stopped and not self._closed:
                try:
                    self._pool.submit(self._run, alloc_id, watch)
                except RuntimeError:  # the pool shut down meanwhile
                    pass
        watch.timer = self.timers.call_later(delay, due)

    def _run(self, alloc_id: str, watch: _Watch) -> None:
        result = run_check(watch.spec)
        with self._lock:
            if watch.stopped:
                return
            self.store.set(alloc_id, result)
            self._schedule(alloc_id, watch, (watch.spec.check.interval or 10_000_000_000) / 1e9)
        watch.on_result(result)
