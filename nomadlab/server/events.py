"""The state store's change feed, shaped like Nomad's event stream (``/v1/event/stream``).

Every committed transaction yields one :class:`Event` per object it changed.  As in
Nomad, the event *type* names the write that happened (``PlanResult``,
``JobRegistered``, ...) and the *topic* names the kind of object that changed, so one
plan result shows up as Allocation, Evaluation, Deployment and Job events that all carry
the type ``PlanResult`` and the same index.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["Event", "EventSubscription", "EventStreamOverflow", "TOPICS"]

TOPICS = ("Job", "Evaluation", "Allocation", "Node", "Deployment", "ACLPolicy", "ACLToken")


class EventStreamOverflow(Exception):
    """A subscriber fell further behind than its buffer allows and was cut off.

    Nomad closes slow event-stream subscribers the same way; the reader must reload the
    state it cares about (a snapshot) and subscribe again.
    """


@dataclass(frozen=True)
class Event:
    """One changed object: ``topic``/``type``/``key`` as in Nomad, ``payload`` the struct."""

    topic: str
    type: str
    key: str
    namespace: str
    index: int
    payload: Any

    def to_api(self) -> dict[str, Any]:
        """The event as Nomad's event stream sends it (``Payload`` keyed by topic)."""
        payload = self.payload.to_api() if hasattr(self.payload, "to_api") else self.payload
        return {"Topic": self.topic, "Type": self.type, "Key": self.key,
                "Namespace": self.namespace, "FilterKeys": self.filter_keys or None,
                "Index": self.index, "Payload": {self.topic: payload}}

    @property
    def filter_keys(self) -> list[str]:
        """Other keys a subscriber may filter on (Nomad: an allocation or evaluation event
        also matches its job's ID and its deployment's)."""
        keys = [getattr(self.payload, name, "") for name in ("job_id", "deployment_id")]
        return [k for k in keys if k and k != self.key]


class EventSubscription:
    """An iterator over events as they are committed, with a bounded buffer.

    A slow reader never slows the writer down: when the buffer is full the subscription
    is closed and the next read raises :class:`EventStreamOverflow`.
    """

    def __init__(self, maxsize: int, on_close: Callable[["EventSubscription"], None]) -> None:
        self._buffer: deque[Event] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._closed = False
        self._overflowed = False
        self._on_close = on_close

    def _publish(self, events: list[Event]) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._buffer) + len(events) > self._maxsize:
                self._overflowed = True
                self._closed = True
                self._buffer.clear()
            else:
                self._buffer.extend(events)
            self._cond.notify_all()

    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event; ``None`` after ``timeout`` seconds or once closed and drained."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._buffer or self._closed, timeout):
                return None
            if self._overflowed:
                raise EventStreamOverflow(
                    f"event subscription fell more than {self._maxsize} events behind and "
                    "was closed; take a new snapshot and subscribe again")
            return self._buffer.popleft() if self._buffer else None

    def close(self) -> None:
        """Stop receiving events; buffered ones can still be read."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._on_close(self)

    def __iter__(self) -> "EventSubscription":
        return self

    def __next__(self) -> Event:
        event = self.get()
        if event is None:
            raise StopIteration
        return event

    def __enter__(self) -> "EventSubscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
