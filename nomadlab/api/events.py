"""``/v1/event/stream``: the state store's change feed as Nomad's event stream.

Newline-delimited JSON, one ``{"Index": N, "Events": [...]}`` per committed transaction,
and ``{}`` as a heartbeat every 10 seconds of quiet (nomad/stream/ndjson.go).

Query parameters as Nomad's: ``topic=Topic:Key`` (repeatable; ``*`` for any topic or
key; the default is every topic), ``namespace`` (``*`` for all; node events have none)
and ``index`` (start from the first event at or after it, when still kept; ``0``, the
default, starts with the next change).  The key matches an event's own key or one of its
filter keys, so ``topic=Allocation:web`` follows the allocations of job ``web``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterator, Optional

from ..server.events import Event, EventStreamOverflow
from .errors import HTTPError
from .http import Request, Stream
from .routes import handle

if TYPE_CHECKING:
    from ..cluster import LocalCluster

HEARTBEAT_INTERVAL = 10.0
#: Topics whose events carry no namespace.
UNNAMESPACED = {"Node", "ACLPolicy", "ACLToken"}


def parse_topics(values: list[str]) -> dict[str, set[str]]:
    """``["Job:*", "Allocation:web", "Node"]`` -> ``{"Job": {"*"}, "Allocation": {"web"},
    "Node": {"*"}}`` (a bare topic means every key, as in Nomad's parseTopic).

    Like Nomad, an unknown topic is not an error: it simply matches nothing.
    """
    if not values:
        return {"*": {"*"}}
    topics: dict[str, set[str]] = {}
    for value in values:
        parts = value.split(":")
        if len(parts) == 1:
            parts.append("*")
        if len(parts) != 2:
            raise HTTPError(400, "error parsing topics: Invalid key value pair for topic: "
                                 f"{value}")
        topics.setdefault(parts[0], set()).add(parts[1])
    return topics


def matches(event: Event, topics: dict[str, set[str]], namespace: str) -> bool:
    if event.topic not in UNNAMESPACED and namespace != "*" and event.namespace != namespace:
        return False
    for topic in (event.topic, "*"):
        keys = topics.get(topic)
        if keys and ("*" in keys or event.key in keys or keys & set(event.filter_keys)):
            return True
    return False


@handle("GET /v1/event/stream")
def event_stream(request: Request, cluster: "LocalCluster") -> Stream:
    topics = parse_topics(request.query.get("topic", []))
    namespace = request.namespace
    start = request.int_arg("index")
    subscription = cluster.stream(maxsize=4096)   # first, so nothing falls between
    backlog: list[Event] = cluster.events_since(start - 1) if start > 0 else []
    closing = request.closing

    def encode(index: int, events: list[Event]) -> Optional[bytes]:
        chosen = [e for e in events if matches(e, topics, namespace)]
        if not chosen:
            return None
        return json.dumps({"Index": index, "Events": [e.to_api() for e in chosen]},
                          separators=(",", ":")).encode() + b"\n"

    def batches() -> Iterator[list[Event]]:
        """Events grouped by index: the backlog first, then live ones as they commit."""
        group: list[Event] = []
        for event in backlog:
            if group and event.index != group[0].index:
                yield group
                group = []
            group.append(event)
        if group:
            yield group
        last = backlog[-1].index if backlog else 0
        carry: Optional[Event] = None
        while closing is None or not closing.is_set():
            event = carry or subscription.get(timeout=0.5)
            carry = None
            if event is None:
                yield []  # a quiet half second
                continue
            group = [event]
            while True:  # one transaction's events are published together
                following = subscription.get(timeout=0)
                if following is None:
                    break
                if following.index != event.index:
                    carry = following
                    break
                group.append(following)
            if event.index > last:  # else already sent from the backlog
                yield group

    def frames() -> Iterator[bytes]:
        quiet = 0.0
        try:
            for group in batches():
                out = encode(group[0].index, group) if group else None
                if out is not None:
                    quiet = 0.0
                    yield out
                    continue
                quiet += 0.5 if not group else 0.0
                if quiet >= HEARTBEAT_INTERVAL:
                    quiet = 0.0
                    yield b"{}\n"
        except EventStreamOverflow:
            return  # too slow a reader: Nomad closes it too, and it subscribes again

    return Stream(frames(), content_type="application/json", on_close=subscription.close)
