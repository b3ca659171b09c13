"""The placement funnel and the why-not matrix of one placement, as graphs, tables and figures.

Everything here is derived from the evaluation's trace (``Evaluation.trace``, or the
``EvalTrace`` that ``c.explain(eval_id)`` returns), the one record of decisions. A real
Nomad cluster keeps only :class:`AllocMetric` (``Allocation.metrics``,
``Evaluation.failed_tg_allocs``); every function also accepts one, draws what its counts
allow, and says so in :data:`METRIC_ONLY_NOTE`.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..structs.trace import (
    CHOSEN,
    EXHAUSTED,
    FILTERED,
    NOT_REACHED,
    SCORED,
    SKIPPED,
    EvalTrace,
    NodeTrace,
    PlacementTrace,
)
from ..structs import Allocation, AllocMetric, Evaluation

__all__ = [
    "METRIC_ONLY_NOTE",
    "STACK_ORDER",
    "WhyNotRows",
    "WhyNotTable",
    "draw_funnel",
    "draw_why_not",
    "placement_funnel",
    "why_not",
    "why_not_table",
]

#: The feasibility steps in the order the placement stack runs them.
STACK_ORDER = ("computed-class", "constraint", "drivers", "host-volumes", "network-mode",
               "distinct_hosts", "distinct_property", "resources")

#: Said wherever a picture or table is drawn from Nomad's counts rather than a trace.
METRIC_ONLY_NOTE = "trace not available: drawn from AllocMetric (counts only)"

#: Steps whose verdict the computed-class cache stands in for once a class has passed.
_CACHEABLE = ("constraint", "drivers", "host-volumes", "network-mode")

PASSED, NOT_CHECKED, CACHED = "passed", "not checked", "cached"
_CELL_STATES = (PASSED, CACHED, FILTERED, EXHAUSTED, NOT_CHECKED)
_CELL_COLOURS = {PASSED: "#4caf50", CACHED: "#a5d6a7", FILTERED: "#e53935",
                 EXHAUSTED: "#fb8c00", NOT_CHECKED: "#e0e0e0"}
_WINNER, _STAGE, _REMOVED = "#1565c0", "#90a4ae", "#ef9a9a"

Source = Union[Any, EvalTrace, PlacementTrace, AllocMetric, dict]


@dataclass
class _Placement:
    """What a function draws from: a placement's trace, or only Nomad's counts."""

    trace: Optional[PlacementTrace]
    metric: AllocMetric
    eval_id: str = ""
    chosen: str = ""  # node ID of the winner, when known
    notes: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        return "" if self.trace is not None else METRIC_ONLY_NOTE


def _resolve(source: Source, eval_id: Optional[str], task_group: Optional[str],
             placement: int) -> _Placement:
    """Find the placement trace, or failing that the AllocMetric, behind ``source``."""
    if isinstance(source, dict):
        source = AllocMetric.from_api(source)
    if isinstance(source, AllocMetric):
        return _Placement(None, source, eval_id or "")
    if isinstance(source, PlacementTrace):
        return _Placement(source, source.metric(), eval_id or "", source.chosen or "")
    if isinstance(source, EvalTrace):
        return _from_trace(source, task_group, placement)
    if isinstance(source, Allocation):
        if source.metrics is None:
            raise ValueError(f"allocation {source.id[:8]} has no metrics")
        return _Placement(None, source.metrics, source.eval_id, source.node_id)
    if isinstance(source, Evaluation):
        return _from_evaluation(source, None, task_group, placement)
    if eval_id is not None:  # a cluster (the agent, nl.connect): read the evaluation
        return _from_evaluation(source.eval(eval_id), source, task_group, placement)
    raise TypeError("expected an agent and an eval ID, an EvalTrace, a PlacementTrace, "
                    f"an Evaluation, an Allocation or an AllocMetric, not {type(source).__name__}")


def _from_trace(trace: EvalTrace, task_group: Optional[str], placement: int) -> _Placement:
    placements = [p for p in trace.placements if task_group in (None, p.task_group)]
    if not placements:
        where = f' for task group "{task_group}"' if task_group else ""
        raise ValueError(f"evaluation {trace.eval_id[:8]} made no placement{where}")
    p = placements[placement]
    return _Placement(p, p.metric(), trace.eval_id, p.chosen or "", list(trace.notes))


def _from_evaluation(ev: Any, agent: Any, task_group: Optional[str],
                     placement: int) -> _Placement:
    if ev.trace is not None and ev.trace.placements:
        return _from_trace(ev.trace, task_group, placement)
    failed = ev.failed_tg_allocs or {}
    if failed:
        tg = task_group if task_group in failed else next(iter(failed))
        return _Placement(None, failed[tg], ev.id)
    if agent is not None:
        allocs = [a for a in agent.allocs(ev.job_id, ev.namespace)
                  if a.eval_id == ev.id and a.metrics is not None
                  and task_group in (None, a.task_group)]
        if allocs:
            a = allocs[placement]
            return _Placement(None, a.metrics, ev.id, a.node_id)
    raise ValueError(f"evaluation {ev.id[:8]} has neither a trace nor placement metrics")


# -- the funnel as a graph ------------------------------------------------------------


def placement_funnel(c: Source, eval_id: Optional[str] = None, task_group: Optional[str] = None,
                     placement: int = 0) -> nx.DiGraph:
    """One placement's funnel: candidates, the steps that removed nodes, scored, the winner.

    Stage nodes carry ``kind`` ("candidates", "filter-step", "exhausted", "scored",
    "not-reached", "winner") and ``count``; node records (``kind`` "node") hang off the
    stage that decided them with their outcome, reason, scores and norm_score.
    ``g.graph["note"]`` says when only AllocMetric counts were available.
    """
    where = _resolve(c, eval_id, task_group, placement)
    g = nx.DiGraph(eval_id=where.eval_id, source="trace" if where.trace else "metric",
                   note=where.note, metric=where.metric)
    m = where.metric
    g.add_node("candidates", kind="candidates", label="candidates", count=m.nodes_evaluated,
               nodes_in_pool=m.nodes_in_pool, nodes_available=dict(m.nodes_available))
    if where.trace is None:
        _funnel_from_metric(g, where)
    else:
        _funnel_from_trace(g, where)
    return g


def _funnel_from_trace(g: nx.DiGraph, where: _Placement) -> None:
    p = where.trace
    assert p is not None
    g.graph.update(task_group=p.task_group, alloc_name=p.alloc_name, limit=p.limit,
                   notes=where.notes)
    g.nodes["candidates"]["count"] = sum(r.outcome != NOT_REACHED for r in p.nodes)
    removed_by: dict[str, list[NodeTrace]] = {}
    for r in p.nodes:
        if r.outcome == FILTERED:
            removed_by.setdefault(f"filter-step:{r.step}", []).append(r)
        elif r.outcome == EXHAUSTED:
            removed_by.setdefault(f"exhausted:{r.reason}", []).append(r)
    for stage in sorted(removed_by, key=_stage_order):
        records = removed_by[stage]
        kind, name = stage.split(":", 1)
        attrs = {"step": name} if kind == "filter-step" else {"dimension": name}
        g.add_node(stage, kind=kind, label=f"{kind} {name}", count=len(records),
                   reasons=dict(Counter(r.reason for r in records)), **attrs)
        g.add_edge("candidates", stage, kind="removed", count=len(records))
        for r in records:
            _add_record(g, stage, r)
    fitted = [r for r in p.nodes if r.outcome in (SCORED, SKIPPED, CHOSEN)]
    g.add_node("scored", kind="scored", label="scored", count=len(fitted))
    g.add_edge("candidates", "scored", kind="passed", count=len(fitted))
    for r in fitted:
        if r.outcome != CHOSEN:
            _add_record(g, "scored", r)
    unreached = [r for r in p.nodes if r.outcome == NOT_REACHED]
    if unreached:
        g.add_node("not-reached", kind="not-reached", label="not reached", count=len(unreached))
        g.add_edge("candidates", "not-reached", kind="limit", count=len(unreached))
        for r in unreached:
            _add_record(g, "not-reached", r)
    winner = next((r for r in p.nodes if r.outcome == CHOSEN), None)
    if winner is not None:
        g.add_node("winner", kind="winner", label=f"chosen {winner.node_name}", count=1,
                   node_id=winner.node_id, node_name=winner.node_name,
                   norm_score=winner.norm_score)
        g.add_edge("scored", "winner", kind="chosen", count=1)
        _add_record(g, "winner", winner)


def _add_record(g: nx.DiGraph, stage: str, r: NodeTrace) -> None:
    key = f"node:{r.node_id}"
    g.add_node(key, kind="node", label=r.node_name, node_id=r.node_id, node_name=r.node_name,
               outcome=r.outcome, step=r.step, reason=r.reason, scores=dict(r.scores),
               norm_score=r.norm_score, sentence=r.sentence())
    g.add_edge(stage, key, kind="node")


def _stage_order(stage: str) -> tuple[int, int, str]:
    kind, name = stage.split(":", 1)
    step = "resources" if kind == "exhausted" else name
    rank = STACK_ORDER.index(step) if step in STACK_ORDER else len(STACK_ORDER)
    return (kind == "exhausted", rank, name)


def _funnel_from_metric(g: nx.DiGraph, where: _Placement) -> None:
    m = where.metric
    if m.nodes_filtered:
        g.add_node("filter-step:", kind="filter-step", step="", label="filtered",
                   count=m.nodes_filtered, reasons=dict(m.constraint_filtered),
                   class_filtered=dict(m.class_filtered))
        g.add_edge("candidates", "filter-step:", kind="removed", count=m.nodes_filtered)
    for dim, count in m.dimension_exhausted.items():
        stage = f"exhausted:{dim}"
        g.add_node(stage, kind="exhausted", dimension=dim, label=f"exhausted {dim}",
                   count=count, reasons={dim: count})
        g.add_edge("candidates", stage, kind="removed", count=count)
    scored = max(m.nodes_evaluated - m.nodes_filtered - m.nodes_exhausted, 0)
    g.add_node("scored", kind="scored", label="scored", count=scored,
               top_scores_only=True)
    g.add_edge("candidates", "scored", kind="passed", count=scored)
    for meta in m.score_meta_data:
        chosen = meta.node_id == where.chosen
        stage = "winner" if chosen else "scored"
        if chosen:
            g.add_node("winner", kind="winner", label=f"chosen {meta.node_id[:8]}", count=1,
                       node_id=meta.node_id, node_name="", norm_score=meta.norm_score)
            g.add_edge("scored", "winner", kind="chosen", count=1)
        key = f"node:{meta.node_id}"
        g.add_node(key, kind="node", label=meta.node_id[:8], node_id=meta.node_id,
                   node_name="", outcome=CHOSEN if chosen else SCORED, step="", reason="",
                   scores=dict(meta.scores), norm_score=meta.norm_score)
        g.add_edge(stage, key, kind="node")


# -- the why-not matrix ---------------------------------------------------------------


class WhyNotRows(list):
    """The matrix rows (one dict per node), with its columns, rule and note as attributes."""

    def __init__(self, rows: list[dict[str, Any]], steps: list[str], rankers: list[str],
                 rule: str, note: str, eval_id: str, alloc_name: str) -> None:
        super().__init__(rows)
        self.steps, self.rankers, self.rule, self.note = steps, rankers, rule, note
        self.eval_id, self.alloc_name = eval_id, alloc_name


def why_not(c: Source, eval_id: Optional[str] = None, task_group: Optional[str] = None,
            placement: int = 0) -> WhyNotRows:
    """One row per node: each check step's cell and reason, each ranker's score, the norm.

    A row is ``{"node", "node_id", "outcome", "cells": {step: cell}, "reasons": {step:
    reason}, "scores": {ranker: score}, "norm_score", "sentence"}``; a cell is "passed",
    "filtered", "exhausted", "not checked" or "cached" (the computed-class cache answered
    for this node). ``.steps`` are the columns in stack order, ``.rule`` how the final
    score is made, ``.note`` says when only AllocMetric counts were available.
    """
    where = _resolve(c, eval_id, task_group, placement)
    if where.trace is None:
        return _why_not_from_metric(where)
    p = where.trace
    seen = {check.step for r in p.nodes for check in r.checks}
    steps = [s for s in STACK_ORDER if s in seen] + sorted(seen - set(STACK_ORDER))
    rankers = list(dict.fromkeys(k for r in p.nodes for k in r.scores))
    rows = []
    for r in p.nodes:
        cells, reasons = _cells(r, steps)
        rows.append({"node": r.node_name, "node_id": r.node_id, "outcome": r.outcome,
                     "cells": cells, "reasons": reasons, "scores": dict(r.scores),
                     "norm_score": r.norm_score, "sentence": r.sentence()})
    return WhyNotRows(rows, steps, rankers, _rule(p.nodes, rankers), "", where.eval_id,
                      p.alloc_name)


def _cells(r: NodeTrace, steps: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    cells = dict.fromkeys(steps, NOT_CHECKED)
    reasons = dict.fromkeys(steps, "")
    class_passed = False
    for check in r.checks:
        if check.cached and check.passed:
            class_passed = True
            cells[check.step] = CACHED
            continue
        if check.passed:
            if cells[check.step] == NOT_CHECKED:
                cells[check.step] = PASSED
            continue
        cells[check.step] = EXHAUSTED if check.step == "resources" else FILTERED
        reasons[check.step] = check.reason
        if check.cached:
            reasons[check.step] += (f" (cached: another node of computed class "
                                    f"{r.computed_class} failed this check)")
            if "computed-class" in cells:
                cells["computed-class"] = CACHED
    if class_passed:
        for step in _CACHEABLE:
            if cells.get(step) == NOT_CHECKED:
                cells[step] = CACHED
    return cells, reasons


def _rule(records: list[NodeTrace], rankers: list[str]) -> str:
    """How the final score is made, naming the scores actually appended to the mean."""
    appended: dict[str, None] = {}
    for r in records:
        if r.norm_score is None:
            continue
        used = [k for k, v in r.scores.items() if k == "binpack" or v != 0.0]
        if used and abs(sum(r.scores[k] for k in used) / len(used) - r.norm_score) > 1e-9:
            used = list(r.scores)
        appended.update(dict.fromkeys(used))
    names = ", ".join(appended) if appended else ", ".join(rankers)
    silent = [k for k in rankers if k not in appended]
    rule = f"final score = mean of the appended scores: {names}"
    if silent:
        rule += f" ({', '.join(silent)} appended nothing and are shown as 0)"
    return rule


def _why_not_from_metric(where: _Placement) -> WhyNotRows:
    m = where.metric
    rankers = list(dict.fromkeys(k for meta in m.score_meta_data for k in meta.scores))
    rows = []
    for meta in m.score_meta_data:
        chosen = meta.node_id == where.chosen
        rows.append({"node": meta.node_id[:8], "node_id": meta.node_id,
                     "outcome": CHOSEN if chosen else SCORED, "cells": {}, "reasons": {},
                     "scores": dict(meta.scores), "norm_score": meta.norm_score,
                     "sentence": ""})
    rule = ("final score = mean of the appended scores (which scores were appended is "
            "not in AllocMetric)")
    return WhyNotRows(rows, [], rankers, rule, METRIC_ONLY_NOTE, where.eval_id, "")


class WhyNotTable(NamedTuple):
    """The why-not matrix as an HTML table and as plain text; notebooks show the HTML."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.text


def why_not_table(c: Source, eval_id: Optional[str] = None, task_group: Optional[str] = None,
                  placement: int = 0) -> WhyNotTable:
    """The why-not matrix as HTML and plain text (no pandas)."""
    rows = why_not(c, eval_id, task_group, placement)
    head = ["node", "outcome", *rows.steps, *rows.rankers, "norm score"]
    body = []
    for row in rows:
        cells = [row["cells"][s] + (f": {row['reasons'][s]}" if row["reasons"][s] else "")
                 for s in rows.steps]
        scores = [_num(row["scores"].get(k)) for k in rows.rankers]
        body.append([row["node"], row["outcome"], *cells, *scores, _num(row["norm_score"])])
    footer = [line for line in (rows.rule, rows.note) if line]
    return WhyNotTable(_html_table(head, body, rows, footer), _text_table(head, body, footer))


def _num(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.3f}"


def _html_table(head: list[str], body: list[list[str]], rows: WhyNotRows,
                footer: list[str]) -> str:
    esc = html.escape
    out = ["<table><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr>"]
    for cells, row in zip(body, rows, strict=True):
        out.append("<tr>")
        for i, cell in enumerate(cells):
            step = head[i] if 2 <= i < 2 + len(rows.steps) else ""
            style = f' style="background:{_CELL_COLOURS[row["cells"][step]]}"' if step else ""
            out.append(f"<td{style}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</table>")
    out.extend(f"<div><i>{esc(line)}</i></div>" for line in footer)
    return "".join(out)


def _text_table(head: list[str], body: list[list[str]], footer: list[str]) -> str:
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(head), line(["-" * w for w in widths]), *(line(r) for r in body)]
    return "\n".join([*out, *footer])


# -- figures --------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _plain(text: str) -> str:
    """Keep Nomad's ``${attr...}`` from being read as mathtext."""
    return text.replace("$", r"\$")


def draw_funnel(c: Source, eval_id: Optional[str] = None, task_group: Optional[str] = None,
                placement: int = 0) -> Figure:
    """Horizontal funnel bars: candidates, after each filter step, fitted, scored, chosen."""
    g = placement_funnel(c, eval_id, task_group, placement)
    stages = _funnel_stages(g)
    widest = max((count for _, count, _, _ in stages), default=1) or 1
    fig = _figure(9, 1.0 + 0.55 * len(stages))
    ax = fig.add_subplot()
    for y, (_label, count, detail, colour) in enumerate(stages):
        ax.barh(y, count, left=(widest - count) / 2, color=colour, edgecolor="black", height=0.7)
        ax.text(widest / 2, y, str(count), ha="center", va="center", fontweight="bold")
        if detail:
            ax.text(widest * 1.03, y, _plain(detail), va="center", fontsize=8)
    ax.set_yticks(range(len(stages)), [_plain(s[0]) for s in stages])
    ax.invert_yaxis()
    ax.set_xlim(0, widest * 2.2)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    title = f"placement funnel {g.graph.get('alloc_name', '')}".rstrip()
    if g.graph["note"]:
        title += f"\n{g.graph['note']}"
    ax.set_title(_plain(title), fontsize=10)
    fig.subplots_adjust(left=0.25, right=0.98, top=0.8 if g.graph["note"] else 0.88, bottom=0.05)
    return fig


def _funnel_stages(g: nx.DiGraph) -> list[tuple[str, int, str, str]]:
    """(label, nodes left, what removed the others, colour) per bar, top to bottom."""
    left = g.nodes["candidates"]["count"]
    stages = [("candidates", left, "", _STAGE)]
    for stage in g.successors("candidates"):
        data = g.nodes[stage]
        if data["kind"] not in ("filter-step", "exhausted"):
            continue
        left -= data["count"]
        reasons = "; ".join(f"{r} ({n})" for r, n in data["reasons"].items())
        label = f"after {data['step'] or 'filters'}" if data["kind"] == "filter-step" else \
            f"fits {data['dimension']}"
        stages.append((label, left, f"-{data['count']} {reasons}", _REMOVED))
    scored = g.nodes["scored"]["count"]
    stages.append(("fitted", left, "", _STAGE))
    skipped = sum(1 for n in g.successors("scored") if g.nodes[n].get("outcome") == SKIPPED)
    stages.append(("scored", scored - skipped,
                   f"-{skipped} skipped by the limit" if skipped else "", _STAGE))
    if "winner" in g:
        win = g.nodes["winner"]
        score = f" score {win['norm_score']:.3f}" if win["norm_score"] is not None else ""
        stages.append(("chosen", 1, f"{win['node_name'] or win['node_id'][:8]}{score}", _WINNER))
    else:
        stages.append(("chosen", 0, "no node chosen" if not g.graph["note"] else
                       "winner not in AllocMetric", _WINNER))
    return stages


def draw_why_not(c: Source, eval_id: Optional[str] = None, task_group: Optional[str] = None,
                 placement: int = 0) -> Figure:
    """The nodes x checks grid coloured by cell, with a legend, and each ranker's scores."""
    rows = why_not(c, eval_id, task_group, placement)
    fig = _figure(11, 1.8 + 0.45 * max(len(rows), 2))
    grid, bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    names = [_plain(r["node"]) for r in rows]
    if rows.steps:
        codes = [[_CELL_STATES.index(r["cells"][s]) for s in rows.steps] for r in rows]
        cmap = ListedColormap([_CELL_COLOURS[s] for s in _CELL_STATES])
        grid.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(_CELL_STATES) - 0.5, aspect="auto")
        grid.set_xticks(range(len(rows.steps)), rows.steps, rotation=30, ha="right", fontsize=8)
        grid.set_yticks(range(len(rows)), names, fontsize=8)
        grid.legend(handles=[Patch(color=_CELL_COLOURS[s], label=s) for s in _CELL_STATES],
                    loc="upper left", bbox_to_anchor=(0, -0.25), ncol=3, fontsize=7)
        grid.set_title("feasibility checks", fontsize=10)
    else:
        grid.axis("off")
        grid.text(0.5, 0.5, METRIC_ONLY_NOTE, ha="center", va="center", wrap=True, fontsize=9)
    scored = [r for r in rows if r["norm_score"] is not None]
    height = 0.8 / max(len(rows.rankers) + 1, 1)
    for i, ranker in enumerate([*rows.rankers, "norm score"]):
        values = [r["norm_score"] if ranker == "norm score" else r["scores"].get(ranker, 0.0)
                  for r in scored]
        bars.barh([j + i * height for j in range(len(scored))], values, height=height,
                  label=ranker)
    bars.set_yticks([j + 0.4 - height / 2 for j in range(len(scored))],
                    [_plain(r["node"]) + (" *" if r["outcome"] == CHOSEN else "")
                     for r in scored], fontsize=8)
    bars.invert_yaxis()
    bars.axvline(0, color="black", linewidth=0.8)
    bars.set_title("scores per ranker (* chosen)", fontsize=10)
    if scored:
        bars.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2)
    footer = rows.rule + (f"\n{rows.note}" if rows.note else "")
    fig.text(0.01, 0.99, _plain(footer), va="top", fontsize=8)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.85, bottom=0.3, wspace=0.35)
    return fig
