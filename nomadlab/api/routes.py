"""Nomad's paths: the route table, blocking queries and the read cache.

Reads are functions of one immutable state snapshot: ``read(request, snapshot) ->
(body, index)``.  That gives two things for free:

* **Blocking queries** (``?index=N&wait=5m``): run the read; if its index is not past
  ``N``, wait on the state store for the next write and run it again, until the index
  moves or the wait (plus Nomad's jitter of up to wait/16) runs out.
* **A response cache**: the same read of the same snapshot gives the same bytes, so the
  encoded answer is kept per (path, query, state index).  A notebook polling
  ``/v1/allocations`` costs one encoding per change, not one per request.

Everything else (writes, streams, answers not drawn from the state) is a plain handler
``fn(request, agent) -> Reply | Stream``; writes call the agent's methods, the same ones
the notebook uses.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Union
from urllib.parse import unquote

from ..server.launch import DISPATCH_SUFFIX, PERIODIC_SUFFIX
from ..structs.duration import parse_duration
from .errors import INVALID_METHOD, HTTPError
from .http import Reply, Request, Stream

if TYPE_CHECKING:
    from ..cluster import LocalCluster
    from .http import APIServer

__all__ = ["Route", "Router", "read", "handle", "DEFAULT_WAIT", "MAX_WAIT", "NOT_FOUND"]

#: Nomad's blocking-query defaults (api/api.go, nomad/rpc.go).
DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
CACHE_SIZE = 256

#: What Go's ServeMux answers for a path no handler serves (Nomad's own fall-through
#: sends the 404 with an empty body; a message helps a learner more).
NOT_FOUND = "404 page not found"

#: An ID that may hold a slash: a job launched by a periodic or parameterized parent is
#: ``<parent>/periodic-<unix>`` or ``<parent>/dispatch-<unix>-<id>``.  Nothing else may,
#: so ``/v1/job/x/nonsense`` is an unknown path, not a job called ``x/nonsense``.
_CHILD_ID = (r"[^/]+(?:(?:" + re.escape(PERIODIC_SUFFIX) + "|" + re.escape(DISPATCH_SUFFIX)
             + r")[^/]+)*")

ReadFn = Callable[[Request, Any], tuple[Any, int]]
HandlerFn = Callable[[Request, "LocalCluster"], Union[Reply, Stream]]


@dataclass(frozen=True)
class Route:
    """One method on one path pattern; ``{name}`` matches a segment, ``{name*}`` an ID
    that may be a launched child's (``parent/periodic-1700000000``)."""

    method: str
    pattern: str
    fn: Callable[..., Any]
    kind: str          # "read": blocking and cached; "handle": called as is
    cache: bool = True

    def regex(self) -> re.Pattern[str]:
        def group(m: re.Match[str]) -> str:
            name = m.group(1)
            return (f"(?P<{name[:-1]}>{_CHILD_ID})" if name.endswith("*")
                    else f"(?P<{name}>[^/]+)")
        return re.compile("^" + re.sub(r"\{([a-z_*]+)\}", group, self.pattern) + "$")


def read(method_pattern: str, cache: bool = True) -> Callable[[ReadFn], ReadFn]:
    """Declare a snapshot read, e.g. ``@read("GET /v1/jobs")``."""
    def mark(fn: ReadFn) -> ReadFn:
        method, pattern = method_pattern.split(" ", 1)
        fn.route = Route(method, pattern, fn, "read", cache)  # type: ignore[attr-defined]
        return fn
    return mark


def handle(method_pattern: str) -> Callable[[HandlerFn], HandlerFn]:
    """Declare a plain handler, e.g. ``@handle("PUT|POST /v1/jobs")`` (several methods may
    share one)."""
    def mark(fn: HandlerFn) -> HandlerFn:
        methods, pattern = method_pattern.split(" ", 1)
        routes = [Route(m, pattern, fn, "handle") for m in methods.split("|")]
        fn.routes = routes  # type: ignore[attr-defined]
        return fn
    return mark


def collect(module: Any) -> list[Route]:
    """Every route declared in a module, in source order (order matters: see Router)."""
    routes: list[Route] = []
    for value in vars(module).values():
        if hasattr(value, "route"):
            routes.append(value.route)
        routes.extend(getattr(value, "routes", ()))
    return routes


class Router:
    """Matches a request to a route; the first pattern that matches the path and has the
    method wins (more specific patterns are tried first).  A path some pattern matches
    without the method is a 405; a path none matches, a 404."""

    def __init__(self, cluster: "LocalCluster") -> None:
        from . import (cluster as cluster_routes, deployments, events, evals_allocs, jobs,
                       logs, nodes, services)
        self.cluster = cluster
        self._table: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        by_pattern: dict[str, dict[str, Route]] = {}
        for module in (jobs, deployments, evals_allocs, nodes, logs, events, cluster_routes,
                       services):
            for route in collect(module):
                by_pattern.setdefault(route.pattern, {})[route.method] = route
        ordered = sorted(by_pattern.items(), key=lambda kv: _specificity(kv[0]))
        self._table = [(next(iter(methods.values())).regex(), methods)
                       for _, methods in ordered]
        self._cache: OrderedDict[tuple[Any, ...], tuple[bytes, int]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}

    def dispatch(self, request: Request, api: "APIServer") -> Union[Reply, Stream]:
        region = request.arg("region")
        if region and region != "global":
            raise HTTPError(500, "No path to region")
        method = "GET" if request.method == "HEAD" else request.method
        allowed: set[str] = set()
        for regex, methods in self._table:
            match = regex.match(request.path)
            if match is None:
                continue
            route = methods.get(method)
            if route is None:
                allowed.update(methods)
                continue
            request.params = {k: unquote(v) for k, v in match.groupdict().items()}
            if route.kind == "read":
                return self._read(route, request, api)
            request.closing = api.closing
            request.bind = (api.host, api.port)
            return route.fn(request, self.cluster.with_identity(request.identity))
        if allowed:
            raise HTTPError(405, INVALID_METHOD, headers={"Allow": _allow(allowed)})
        raise HTTPError(404, NOT_FOUND)

    # -- blocking reads -----------------------------------------------------------------

    def _read(self, route: Route, request: Request, api: "APIServer") -> Reply:
        cluster = self.cluster
        min_index = request.int_arg("index")
        wait = _wait(request.arg("wait"))
        deadline = time.monotonic() + wait + (random.uniform(0, wait / 16) if min_index else 0)
        key = (route.pattern, request.path,
               tuple(sorted((k, tuple(v)) for k, v in request.query.items()
                            if k not in ("index", "wait", "stale"))))
        while True:
            snapshot = cluster.snapshot()
            raw, index = self._answer(route, request, snapshot, key)
            remaining = deadline - time.monotonic()
            if min_index <= 0 or index > min_index or remaining <= 0 or api.closing.is_set():
                return Reply(raw=raw, index=index)
            cluster.wait_for_index(snapshot.index, timeout=min(remaining, 1.0))

    def _answer(self, route: Route, request: Request, snapshot: Any,
                key: tuple[Any, ...]) -> tuple[bytes, int]:
        """The encoded answer of one read of one snapshot, built once: after a write,
        the 20 clients polling a list would otherwise all rebuild it at the same time
        (one thread builds; the others wait for its bytes)."""
        if not route.cache:
            return self._build(route, request, snapshot)
        cache_key = (key, snapshot.index)
        with self._cache_lock:
            hit = self._lookup(cache_key)
            if hit is not None:
                return hit
            building = self._building.setdefault(cache_key, threading.Lock())
        try:
            with building:
                with self._cache_lock:
                    hit = self._lookup(cache_key)
                if hit is not None:
                    return hit
                answer = self._build(route, request, snapshot)
                with self._cache_lock:
                    self._cache[cache_key] = answer
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
                return answer
        finally:
            with self._cache_lock:
                if self._building.get(cache_key) is building:
                    del self._building[cache_key]

    def _lookup(self, cache_key: tuple[Any, ...]) -> Optional[tuple[bytes, int]]:
        """A cached answer (the caller holds the cache lock)."""
        hit = self._cache.get(cache_key)
        if hit is not None:
            self._cache.move_to_end(cache_key)
        return hit

    @staticmethod
    def _build(route: Route, request: Request, snapshot: Any) -> tuple[bytes, int]:
        body, index = route.fn(request, snapshot)
        return Reply(body).encode(), max(int(index), 1)


def _allow(methods: set[str]) -> str:
    """The ``Allow`` header of a 405 (RFC 9110 requires one): HEAD goes with GET."""
    if "GET" in methods:
        methods = methods | {"HEAD"}
    return ", ".join(sorted(methods))


def _specificity(pattern: str) -> tuple[int, int]:
    """Patterns with a catch-all segment go last; among those, longer ones first."""
    return ("*}" in pattern, -len(pattern))


def _wait(raw: str) -> float:
    """``wait`` as Nomad reads it: a Go duration (``10s``, ``5m``), default 5 min, max 10."""
    if not raw:
        return DEFAULT_WAIT
    try:
        seconds = parse_duration(raw) / 1e9
    except ValueError:
        raise HTTPError(400, f"Invalid wait time: {raw!r}") from None
    return min(max(seconds, 0.0), MAX_WAIT)


def not_found(what: str) -> HTTPError:
    """Nomad's 404 wording: ``job not found``, ``alloc not found``, ..."""
    return HTTPError(404, f"{what} not found")


def lookup(snapshot: Any, table: str, key: str, what: str,
           get: Optional[Callable[[str], Any]] = None) -> Any:
    """An object by full ID, or 404 (the API, unlike the CLI, takes only full IDs)."""
    found = (get or getattr(snapshot, table[:-1]))(key)
    if found is None:
        raise not_found(what)
    return found
