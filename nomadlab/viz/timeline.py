"""Allocations over time, per node, coloured by client status: a replay of the history.

In-process, the state store's change feed gives every allocation's status at every
index, so the timeline is exact and its x axis is the state index.  Task events (started,
restarting, terminated, killed) are marked where they first appear.  For a real cluster's
API JSON there is no history: the timeline falls back to each allocation's task event
times and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .draw import STATUS_COLORS

__all__ = ["Segment", "Timeline", "timeline", "draw_timeline"]

#: The client statuses drawn, in the colours every picture uses for them.
STATUS_COLOURS = {s: STATUS_COLORS[s] for s in ("pending", "running", "complete", "failed",
                                                "lost", "unknown")}
MARKED = {"Started": "^", "Restarting": "o", "Terminated": "v", "Killed": "x",
          "Not Restarting": "X", "Driver Failure": "*"}


@dataclass
class Segment:
    """One allocation in one client status from ``start`` to ``end`` (state indexes)."""

    alloc_id: str
    name: str
    node: str
    status: str
    start: int
    end: int


@dataclass
class Timeline:
    segments: list[Segment] = field(default_factory=list)
    markers: list[tuple[int, str, str, str]] = field(default_factory=list)  # (x, node, alloc, event)
    axis: str = "state index"
    note: str = ""


def timeline(c: Any, job_id: Optional[str] = None) -> Timeline:
    """Segments and task-event markers for every allocation (of ``job_id``)."""
    if not getattr(c, "in_process", False):  # a remote cluster keeps no state history
        return _from_task_events(c, job_id)
    nodes = {n.id: n.name for n in c.nodes()}
    open_: dict[str, Segment] = {}
    seen_events: dict[str, int] = {}
    result = Timeline()
    last = c.index
    for index, events in c.history():
        for ev in events:
            alloc = ev.payload if ev.topic == "Allocation" else None
            if alloc is None or (job_id and alloc.job_id != job_id):
                continue
            status = alloc.client_status
            current = open_.get(alloc.id)
            if current is None or current.status != status:
                if current is not None:
                    current.end = index
                segment = Segment(alloc.id, alloc.name, nodes.get(alloc.node_id, alloc.node_name),
                                  status, index, last)
                result.segments.append(segment)
                open_[alloc.id] = segment
            events_now = sum(len(s.events) for s in alloc.task_states.values())
            if events_now > seen_events.get(alloc.id, 0):
                new = [e for s in alloc.task_states.values() for e in s.events]
                for e in new[seen_events.get(alloc.id, 0):]:
                    if e.type in MARKED:
                        result.markers.append((index, open_[alloc.id].node, alloc.id, e.type))
                seen_events[alloc.id] = events_now
    return result


def _from_task_events(c: Any, job_id: Optional[str]) -> Timeline:
    from .source import read_source
    source = read_source(c)
    nodes = {n.id: n.name for n in source.nodes()}
    result = Timeline(axis="time (s, from the first event)",
                      note="no state history here: drawn from task event times")
    times = [e.time for a in source.allocs(job_id) for s in a.task_states.values()
             for e in s.events if e.time]
    origin = min(times) if times else 0
    for alloc in source.allocs(job_id):
        events = sorted((e for s in alloc.task_states.values() for e in s.events if e.time),
                        key=lambda e: e.time)
        if not events:
            continue
        node = nodes.get(alloc.node_id, alloc.node_name)
        start, end = (events[0].time - origin) / 1e9, (events[-1].time - origin) / 1e9
        result.segments.append(Segment(alloc.id, alloc.name, node, alloc.client_status,
                                       int(start), max(int(end), int(start) + 1)))
        for e in events:
            if e.type in MARKED:
                result.markers.append((int((e.time - origin) / 1e9), node, alloc.id, e.type))
    return result


def draw_timeline(c_or_timeline: Any, job_id: Optional[str] = None) -> Figure:
    """One row per allocation, grouped by node; a bar per status, task events as markers."""
    data = c_or_timeline if isinstance(c_or_timeline, Timeline) else timeline(c_or_timeline,
                                                                             job_id)
    names = {s.alloc_id: s.name for s in data.segments}
    rows = sorted({(s.node, s.name, s.alloc_id) for s in data.segments})
    legend_height = 0.6 + 0.22 * (len(STATUS_COLOURS) + len(MARKED))  # all of it shows
    fig = Figure(figsize=(9, max(1.2 + 0.35 * max(len(rows), 1), legend_height)))
    ax = fig.add_subplot(1, 1, 1)
    y = {alloc: i for i, (_node, _name, alloc) in enumerate(rows)}
    for s in data.segments:
        ax.broken_barh([(s.start, max(s.end - s.start, 0.5))], (y[s.alloc_id] - 0.4, 0.8),
                       facecolors=STATUS_COLOURS.get(s.status, "#bdbdbd"), edgecolors="white")
    for x, _node, alloc, kind in data.markers:
        if alloc in y:
            ax.plot([x], [y[alloc]], marker=MARKED[kind], color="black", markersize=6,
                    linestyle="none")
    ax.set_yticks(range(len(rows)),
                  [f"{node}  {names[alloc]} {alloc[:8]}" for node, _n, alloc in rows])
    ax.set_xlabel(data.axis)
    title = "allocations over time" + (f' (job "{job_id}")' if job_id else "")
    ax.set_title(title + (f"\n{data.note}" if data.note else ""))
    handles = [Patch(color=col, label=st) for st, col in STATUS_COLOURS.items()]
    handles += [ax.plot([], [], marker=m, color="black", linestyle="none", label=k)[0]
                for k, m in MARKED.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.tight_layout()
    return fig
