"""matplotlib pictures of the graphs in :mod:`nomadlab.viz.graphs`.

Figures are made with :class:`matplotlib.figure.Figure` directly: no pyplot state, no
window, so they work under Agg, in a notebook and in tests alike.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from .graphs import topology

#: One colour per status, across kinds (an allocation and a deployment that are both
#: "running" look alike; "running" and "successful" do not).
STATUS_COLORS = {
    "running": "#2ca02c", "ready": "#98df8a", "successful": "#00441b",
    "pending": "#9e9e9e", "initializing": "#c7c7c7", "unknown": "#e377c2",
    "blocked": "#ff7f0e", "canceled": "#ffbb78", "cancelled": "#ffbb78",
    "paused": "#17becf",
    "complete": "#1f77b4", "dead": "#aec7e8",
    "failed": "#d62728", "lost": "#ff9896", "down": "#7f0000",
    "stop": "#333333", "disconnected": "#8c564b",
}
OTHER_COLOR = "#bcbd22"
#: How far above its marker a label starts (layout units: a column spans -1..1).
LABEL_OFFSET_POINTS = 9  # a marker's radius (300 pt² is ~17 pt across) and a gap
EDGE_STYLES = {"replaces": ("#d62728", "dashed"), "next-eval": ("#ff7f0e", "dotted"),
               "blocked-by": ("#ff7f0e", "dashed"), "canary": ("#9467bd", "dashdot"),
               "promoted": ("#9467bd", "solid")}
_KIND_ORDER = ["job", "job-version", "taskgroup", "eval", "deployment", "alloc", "alloc-group",
               "node"]
#: Deployments are drawn as diamonds, so a status shared with an evaluation or an
#: allocation (running, failed, ...) keeps its one colour and the kind stays readable.
_SHAPES = {"deployment": "D"}


def _stable_layout(g: nx.DiGraph) -> dict:
    """multipartite_layout on ``layer``, each layer sorted by stable keys (kind, the node an
    allocation is on, label) so the same job drawn again keeps its nodes where they were."""
    def placed_on(k: str) -> str:
        """Allocations sort by the node they are on, as the nodes sort by name: their
        edges run side by side instead of crossing, and the order is the same at every
        state index."""
        for _, v, relation in g.out_edges(k, data="relation"):
            if relation == "placed-on":
                return str(g.nodes[v]["label"])
        return ""

    order = sorted(g.nodes, key=lambda k: (_KIND_ORDER.index(g.nodes[k]["kind"]),
                                           placed_on(k), g.nodes[k]["label"], k))
    h = nx.DiGraph()
    for k in order:
        h.add_node(k, layer=g.nodes[k]["layer"])
    pos = nx.multipartite_layout(h, subset_key="layer", align="vertical")
    # The columns come from multipartite_layout; within a column, place nodes top-down in
    # our order (networkx's own order within a layer is not guaranteed).
    by_layer: dict[int, list[str]] = {}
    for k in order:
        by_layer.setdefault(g.nodes[k]["layer"], []).append(k)
    tallest = max(len(keys) for keys in by_layer.values())
    for keys in by_layer.values():
        for i, k in enumerate(keys):
            pos[k] = (pos[k][0], ((len(keys) - 1) / 2 - i) / max(tallest - 1, 1))
    return pos


def _graph_height(g: nx.DiGraph) -> float:
    """Inches for the job graph: enough for its tallest column to keep each marker and
    the label above it clear of the next one (about half an inch per node)."""
    columns: dict[int, int] = {}
    for _, layer in g.nodes(data="layer"):
        columns[layer] = columns.get(layer, 0) + 1
    tallest = max(columns.values(), default=1)
    return min(max(6.5, 0.5 * tallest + 1.5), 40.0)


def draw(g: nx.DiGraph, *, figsize: Optional[tuple[float, float]] = None) -> Figure:
    """The job graph, left to right: job and versions, evaluations and deployments
    (diamonds), allocations, nodes.  Without ``figsize`` it is 9 inches wide (a
    notebook's width) and as tall as its longest column needs."""
    fig = Figure(figsize=figsize or (9, _graph_height(g)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    if g.number_of_nodes() == 0:
        return fig
    pos = _stable_layout(g)
    for shape in sorted({_SHAPES.get(g.nodes[k]["kind"], "o") for k in g.nodes}):
        keys = [k for k in g.nodes if _SHAPES.get(g.nodes[k]["kind"], "o") == shape]
        colors = [STATUS_COLORS.get(g.nodes[k]["status"], OTHER_COLOR) for k in keys]
        sizes = [300 + 40 * min(g.nodes[k].get("count", 1), 20)
                 if g.nodes[k]["kind"] == "alloc-group" else 300 for k in keys]
        nx.draw_networkx_nodes(g, pos, ax=ax, nodelist=keys, node_color=colors,
                               node_size=sizes, node_shape=shape, edgecolors="black",
                               linewidths=0.5)
    for relation in sorted({r for _, _, r in g.edges(data="relation")}):
        color, style = EDGE_STYLES.get(relation, ("#777777", "solid"))
        edges = [(u, v) for u, v, r in g.edges(data="relation") if r == relation]
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=edges, edge_color=color, style=style,
                               arrows=True, arrowsize=8, node_size=300, width=0.8)
    # labels sit above their marker, clear of it whatever the figure's size (points)
    for k, (x, y) in pos.items():
        ax.annotate(g.nodes[k]["label"], (x, y), xytext=(0, LABEL_OFFSET_POINTS),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
    shown = sorted({g.nodes[k]["status"] for k in g.nodes})
    handles = [Patch(color=STATUS_COLORS.get(s, OTHER_COLOR), label=s) for s in shown]
    handles += [Line2D([], [], color=c, linestyle=s, label=r)
                for r, (c, s) in EDGE_STYLES.items()
                if any(rel == r for _, _, rel in g.edges(data="relation"))]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    title = f'job "{g.graph.get("job_id", "")}"'
    if g.graph.get("index") is not None:
        title += f' at index {g.graph["index"]}'
    middle = "evaluations, deployments" if any(
        kind == "deployment" for _, kind in g.nodes(data="kind")) else "evaluations"
    ax.set_title(f"{title}   (job | {middle} | allocations | nodes)", fontsize=10)
    fig.tight_layout()
    return fig


def draw_topology(c: Any, *, figsize: tuple[float, float] = (10, 5)) -> Figure:
    """Each node's CPU and memory: allocations stacked by job inside a capacity outline."""
    data = c if isinstance(c, list) else topology(c)
    fig = Figure(figsize=figsize)
    axes = fig.subplots(1, 2)
    jobs = sorted({a["job_id"] for n in data for a in n["allocs"]})
    palette = [f"C{i % 10}" for i in range(len(jobs))]
    color = dict(zip(jobs, palette, strict=False))
    names = [n["name"] for n in data]
    for ax, dim, unit in ((axes[0], "cpu", "MHz"), (axes[1], "memory", "MiB")):
        for i, n in enumerate(data):
            bottom = 0
            for job in jobs:
                used = sum(a[dim] for a in n["allocs"] if a["job_id"] == job)
                if used:
                    ax.bar(i, used, bottom=bottom, color=color[job], width=0.6)
                    bottom += used
            ax.add_patch(Rectangle((i - 0.3, 0), 0.6, n[dim], fill=False,
                                   edgecolor="red" if n["status"] == "down" else "black"))
        ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 8 else 0,
                      fontsize=8)
        ax.set_xlim(-0.6, max(len(names), 1) - 0.4)
        ax.set_ylim(0, max([n[dim] for n in data] + [1]) * 1.05)
        ax.set_ylabel(f"{dim} ({unit})")
        ax.set_title(dim)
    if jobs:
        axes[1].legend(handles=[Patch(color=color[j], label=j) for j in jobs], fontsize=8,
                       loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def draw_diff(d: dict, *, figsize: tuple[float, float] = (8, 4)) -> Figure:
    """The three lists of :func:`~nomadlab.viz.graphs.diff` as columns of alloc names."""
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    ax.set_axis_off()
    columns = (("added", "#2ca02c"), ("stopped", "#333333"), ("updated", "#1f77b4"))
    for x, (key, color) in enumerate(columns):
        entries = d.get(key, [])
        ax.text(x / 3 + 0.02, 0.95, f"{key} ({len(entries)})", color=color, fontsize=11,
                fontweight="bold", transform=ax.transAxes, va="top")
        for y, e in enumerate(entries[:20]):
            ax.text(x / 3 + 0.02, 0.87 - y * 0.042, f'{e["name"]} {e["id"][:8]} @{e["node_name"]}',
                    fontsize=7, transform=ax.transAxes, va="top", family="monospace")
        if len(entries) > 20:
            ax.text(x / 3 + 0.02, 0.87 - 20 * 0.042, f"... {len(entries) - 20} more",
                    fontsize=7, transform=ax.transAxes, va="top")
    ax.set_title(f'allocations from index {d.get("index_a")} to {d.get("index_b")}')
    return fig
