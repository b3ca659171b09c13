"""A job's deployments over time: each allocation as a bar in its job version's band,
coloured by client status, with a mark where the deployment judged it healthy or
unhealthy; above, each deployment from start to end, coloured by its status.

In-process the state store's change feed gives every status at every index, so the x
axis is the state index and a health mark sits where the health was recorded.  A real
cluster's API keeps no history: there the bars come from task event times and the marks
from each allocation's DeploymentStatus timestamp, and the picture says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..structs import Allocation
from ..structs.timestamps import parse_rfc3339
from .draw import OTHER_COLOR, STATUS_COLORS

__all__ = ["AllocBar", "DeploymentSpan", "DeploymentTimeline", "deployment_timeline",
           "draw_deployment_timeline"]

#: Health marks: by shape (the bar beneath already carries the status colour).
HEALTH_MARKS = {True: ("P", "white", "healthy"), False: ("X", "black", "unhealthy")}


@dataclass
class AllocBar:
    """One allocation of one job version in one client status from ``start`` to ``end``."""

    alloc_id: str
    name: str
    version: int
    canary: bool
    status: str
    start: float
    end: float


@dataclass
class DeploymentSpan:
    """One deployment in one status from ``start`` to ``end``."""

    deployment_id: str
    version: int
    status: str
    start: float
    end: float


@dataclass
class DeploymentTimeline:
    bars: list[AllocBar] = field(default_factory=list)
    spans: list[DeploymentSpan] = field(default_factory=list)
    health: list[tuple[float, str, bool]] = field(default_factory=list)  # (x, alloc, healthy)
    axis: str = "state index"
    note: str = ""


def _version(a: Allocation) -> int:
    return a.job.version if a.job is not None else -1


def _canary(a: Allocation) -> bool:
    return a.deployment_status is not None and a.deployment_status.canary


def deployment_timeline(c: Any, job_id: str) -> DeploymentTimeline:
    """Bars, deployment spans and health marks for every allocation of ``job_id``."""
    if not getattr(c, "in_process", False):
        return _from_now(c, job_id)
    result = DeploymentTimeline()
    bars: dict[str, AllocBar] = {}
    spans: dict[str, DeploymentSpan] = {}
    judged: dict[str, Optional[bool]] = {}
    last = c.index
    for index, events in c.history():
        for ev in events:
            if ev.topic == "Allocation" and ev.payload.job_id == job_id:
                a = ev.payload
                bar = bars.get(a.id)
                if bar is None or bar.status != a.client_status or bar.canary != _canary(a):
                    if bar is not None:
                        bar.end = index
                    bars[a.id] = AllocBar(a.id, a.name, _version(a), _canary(a),
                                          a.client_status, index, last)
                    result.bars.append(bars[a.id])
                healthy = a.deployment_status.healthy if a.deployment_status else None
                if healthy is not None and judged.get(a.id) is None:
                    result.health.append((index, a.id, healthy))
                judged[a.id] = healthy
            elif ev.topic == "Deployment" and ev.payload.job_id == job_id:
                d = ev.payload
                span = spans.get(d.id)
                if span is None or span.status != d.status:
                    if span is not None:
                        span.end = index
                    spans[d.id] = DeploymentSpan(d.id, d.job_version, d.status, index, last)
                    result.spans.append(spans[d.id])
    return result


def _from_now(c: Any, job_id: str) -> DeploymentTimeline:
    """Without a state history: task event times for the bars, DeploymentStatus
    timestamps for the marks, each deployment spanning its allocations."""
    from .source import read_source
    src = read_source(c)
    result = DeploymentTimeline(axis="time (s, from the first event)",
                                note="no state history here: drawn from task event and "
                                     "health times")
    allocs = src.allocs(job_id)
    times = [e.time for a in allocs for s in a.task_states.values() for e in s.events if e.time]
    origin = min(times) if times else 0
    extent: dict[str, list[float]] = {}
    for a in allocs:
        events = sorted((e.time for s in a.task_states.values() for e in s.events if e.time))
        if not events:
            continue
        start, end = (events[0] - origin) / 1e9, (events[-1] - origin) / 1e9
        end = max(end, start + 1)
        result.bars.append(AllocBar(a.id, a.name, _version(a), _canary(a), a.client_status,
                                    start, end))
        if a.deployment_id:
            extent.setdefault(a.deployment_id, []).extend([start, end])
        status = a.deployment_status
        if status is not None and status.healthy is not None and status.timestamp:
            result.health.append(((parse_rfc3339(status.timestamp) - origin) / 1e9, a.id,
                                  status.healthy))
    for d in src.deployments(job_id):
        if d.id in extent:
            result.spans.append(DeploymentSpan(d.id, d.job_version, d.status,
                                               min(extent[d.id]), max(extent[d.id])))
    return result


def draw_deployment_timeline(c_or_timeline: Any, job_id: Optional[str] = None, *,
                             width: float = 9.0) -> Figure:
    """Deployments on top, allocations below grouped by job version (newest at the top),
    health marks on the bars; one colour per status throughout."""
    data = c_or_timeline if isinstance(c_or_timeline, DeploymentTimeline) else \
        deployment_timeline(c_or_timeline, job_id or "")
    # one row per allocation, in the band of the version it was created for (an in-place
    # update moves it to a newer version: its label names both)
    versions: dict[str, list[int]] = {}
    first: dict[str, float] = {}
    for b in sorted(data.bars, key=lambda b: b.start):
        seen = versions.setdefault(b.alloc_id, [])
        if b.version not in seen:
            seen.append(b.version)
        first.setdefault(b.alloc_id, b.start)
    rows = sorted(((v[0], alloc) for alloc, v in versions.items()),
                  key=lambda r: (-r[0], first[r[1]], r[1]))
    deployments = sorted({(s.version, s.deployment_id) for s in data.spans}, reverse=True)
    height = 1.6 + 0.3 * (len(rows) + len(deployments))
    fig = Figure(figsize=(width, height))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[max(len(deployments), 1),
                                                                  max(len(rows), 1)])
    d_row = {d: i for i, (_v, d) in enumerate(deployments)}
    for s in data.spans:
        top.broken_barh([(s.start, max(s.end - s.start, 0.5))], (d_row[s.deployment_id] - 0.35,
                                                                 0.7),
                        facecolors=STATUS_COLORS.get(s.status, OTHER_COLOR), edgecolors="white")
    top.set_yticks(range(len(deployments)),
                   [f"v{v} deploy {d[:8]}" for v, d in deployments], fontsize=9)
    top.set_ylim(len(deployments) - 0.5, -0.5)
    top.set_title(f'deployments of job "{job_id or ""}"' +
                  (f"\n{data.note}" if data.note else ""), fontsize=10)

    a_row = {alloc: i for i, (_v, alloc) in enumerate(rows)}
    names = {b.alloc_id: (b.name, b.canary) for b in data.bars}
    for b in data.bars:
        bottom.broken_barh([(b.start, max(b.end - b.start, 0.5))], (a_row[b.alloc_id] - 0.35, 0.7),
                           facecolors=STATUS_COLORS.get(b.status, OTHER_COLOR),
                           edgecolors="white")
    for x, alloc, healthy in data.health:
        if alloc in a_row:
            marker, face, _label = HEALTH_MARKS[healthy]
            bottom.plot([x], [a_row[alloc]], marker=marker, markerfacecolor=face,
                        markeredgecolor="black", markersize=9, linestyle="none")
    labels = []
    for _v, alloc in rows:
        name, canary = names[alloc]
        shown_versions = "→".join(f"v{v}" for v in versions[alloc])
        labels.append(f"{shown_versions}  {name} {alloc[:8]}" + (" canary" if canary else ""))
    bottom.set_yticks(range(len(rows)), labels, fontsize=9)
    bottom.set_ylim(len(rows) - 0.5, -0.5)
    for i in range(1, len(rows)):  # a rule between job versions
        if rows[i][0] != rows[i - 1][0]:
            bottom.axhline(i - 0.5, color="#757575", linewidth=0.8)
    bottom.set_xlabel(data.axis, fontsize=9)
    bottom.tick_params(axis="x", labelsize=9)

    shown = {s.status for s in data.spans}
    handles = [Patch(color=STATUS_COLORS.get(s, OTHER_COLOR), label=f"deployment {s}")
               for s in sorted(shown)]
    handles += [Patch(color=STATUS_COLORS.get(s, OTHER_COLOR), label=f"alloc {s}")
                for s in sorted({b.status for b in data.bars})]
    handles += [Line2D([], [], marker=m, markerfacecolor=f, markeredgecolor="black",
                       linestyle="none", markersize=9, label=label)
                for m, f, label in HEALTH_MARKS.values()]
    legend_rows = -(-len(handles) // 4)
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, (0.1 + 0.22 * legend_rows) / height, 1, 1))
    return fig
