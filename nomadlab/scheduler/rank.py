"""Ranking: each scorer adds one named score, and the node's final score is their mean.

The formulas are Nomad's (scheduler/feasible/rank.go, spread.go, nomad/structs/funcs.go)
and the names are the keys of AllocMetric.ScoreMetaData: ``binpack``,
``job-anti-affinity``, ``node-reschedule-penalty``, ``node-affinity``,
``allocation-spread``. A scorer returns None when Nomad does not append a score for the
node (Nomad still records such scorers as 0 in ScoreMetaData), so that :func:`normalize`
averages exactly the scores Nomad averages.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Optional

from ..structs import Affinity, Allocation, Job, Node, TaskGroup
from .constraints import check_constraint
from .feasible import Context, PropertySet
from .fit import Comparable
from .interpolate import resolve_target

__all__ = ["score_fit_binpack", "score_fit_spread", "binpack_score", "job_anti_affinity",
           "anti_affinity_collisions", "node_reschedule_penalty", "node_affinity",
           "matches_affinity", "merged_affinities", "SpreadScorer", "spread_score",
           "even_spread_boost", "normalize", "BINPACK_MAX_FIT_SCORE", "BINPACK",
           "JOB_ANTI_AFFINITY", "NODE_RESCHEDULE_PENALTY", "NODE_AFFINITY",
           "ALLOCATION_SPREAD", "NORMALIZED_SCORE", "DEFAULT_WEIGHT"]

BINPACK = "binpack"
JOB_ANTI_AFFINITY = "job-anti-affinity"
NODE_RESCHEDULE_PENALTY = "node-reschedule-penalty"
NODE_AFFINITY = "node-affinity"
ALLOCATION_SPREAD = "allocation-spread"
NORMALIZED_SCORE = "normalized-score"
#: The largest fit score; bin-packing scores are divided by it to land in [0, 1].
BINPACK_MAX_FIT_SCORE = 18.0
#: Weight of an affinity or spread that did not name one (Nomad's API canonicalisation).
DEFAULT_WEIGHT = 50


def _free_fractions(capacity: Comparable, util: Comparable) -> tuple[float, float]:
    """Nomad's ``computeFreePercentage``: 1 - used/offered, for CPU and memory."""
    def free(total: int, taken: int) -> float:
        if total <= 0:
            return -math.inf if taken > 0 else 0.0
        return 1.0 - taken / total
    return free(capacity.cpu, util.cpu), free(capacity.memory, util.memory)


def _clamp(score: float) -> float:
    return min(max(score, 0.0), BINPACK_MAX_FIT_SCORE)


def score_fit_binpack(capacity: Comparable, util: Comparable) -> float:
    """``20 - (10^free_cpu + 10^free_mem)`` clamped to [0, 18]: fuller nodes score higher."""
    free_cpu, free_mem = _free_fractions(capacity, util)
    return _clamp(20.0 - (10 ** free_cpu + 10 ** free_mem))


def score_fit_spread(capacity: Comparable, util: Comparable) -> float:
    """``(10^free_cpu + 10^free_mem) - 2`` clamped to [0, 18]: emptier nodes score higher."""
    free_cpu, free_mem = _free_fractions(capacity, util)
    return _clamp((10 ** free_cpu + 10 ** free_mem) - 2.0)


def binpack_score(capacity: Comparable, util: Comparable, algorithm: str = "binpack") -> float:
    """The ``binpack`` score Nomad appends: the fit score (per scheduler algorithm) / 18."""
    score = score_fit_spread if algorithm == "spread" else score_fit_binpack
    return score(capacity, util) / BINPACK_MAX_FIT_SCORE


def anti_affinity_collisions(proposed: Iterable[Allocation], job_id: str, task_group: str) -> int:
    """Allocations of the same job and group among the node's proposed allocations."""
    return sum(1 for a in proposed if a.job_id == job_id and a.task_group == task_group)


def job_anti_affinity(collisions: int, desired_count: int) -> Optional[float]:
    """``-(c + 1) / count`` with ``c`` same-group allocations already on the node; None when 0."""
    if collisions <= 0:
        return None
    return -1.0 * (collisions + 1) / desired_count


def node_reschedule_penalty(node_id: str, penalty_node_ids: Iterable[str]) -> Optional[float]:
    """-1 on nodes where the allocation being rescheduled failed before; None elsewhere."""
    return -1.0 if node_id in set(penalty_node_ids) else None


def merged_affinities(job: Job, tg: TaskGroup) -> list[Affinity]:
    """Job, then group, then task affinities: the list Nomad's NodeAffinityIterator scores."""
    return [*job.affinities, *tg.affinities, *(a for t in tg.tasks for a in t.affinities)]


def _weight(weight: Optional[int]) -> int:
    return DEFAULT_WEIGHT if weight is None else weight


def matches_affinity(affinity: Affinity, node: Node) -> bool:
    lval, lfound = resolve_target(affinity.ltarget, node)
    rval, rfound = resolve_target(affinity.rtarget, node)
    return check_constraint(affinity.operand, lval if lfound else "", rval if rfound else "",
                            lfound, rfound)


def node_affinity(affinities: Iterable[Affinity], node: Node) -> Optional[float]:
    """Sum of matched weights / sum of absolute weights; None when there are no affinities."""
    affinities = list(affinities)
    if not affinities:
        return None
    total = sum(abs(_weight(a.weight)) for a in affinities)
    matched = sum(_weight(a.weight) for a in affinities if matches_affinity(a, node))
    return matched / total if total else 0.0


def even_spread_boost(pset: PropertySet, node: Node) -> float:
    """Nomad's ``evenSpreadScoreBoost``: favour values used less than the least-used one."""
    combined = pset.combined_use()
    if not combined:
        return 0.0
    value, found = pset.value_on(node)
    if not found:
        return -1.0
    current = combined.get(value, 0)
    min_count = max_count = 0
    for count in combined.values():
        if min_count == 0 or count < min_count:
            min_count = count
        if max_count == 0 or count > max_count:
            max_count = count
    delta_boost = -1.0 if min_count == 0 else (min_count - current) / min_count
    if current != min_count:
        return delta_boost
    if min_count == max_count:
        return -1.0
    if min_count == 0:
        return 1.0
    return (max_count - min_count) / min_count


class SpreadScorer:
    """The ``allocation-spread`` score for one placement of ``ctx.tg``, as Nomad's SpreadIterator.

    Build one per placement and score nodes in the order the stack visits them: like
    Nomad's iterator it remembers the lowest boost it has handed out, and a value whose
    desired count is 0 gets that lowest boost (at most -1).

    With targets, each value wants ``percent/100 * count`` allocations (the remainder goes
    to the implicit ``"*"``), and the boost is ``(desired - used) / desired * weight /
    sum_of_weights``, counting this placement as used. Without targets, see
    :func:`even_spread_boost`. Weights are summed over this group's spreads (group and
    job), where Nomad's iterator keeps adding across groups of one job.
    """

    def __init__(self, ctx: Context):
        tg = ctx.tg
        count = tg.count if tg.count is not None else 1
        spreads = [*tg.spreads, *ctx.job.spreads]
        self.lowest_boost = -1.0
        self.sum_weights = sum(_weight(s.weight) for s in spreads)
        self.desired: dict[str, dict[str, float]] = {}
        self.weights: dict[str, int] = {}
        for spread in spreads:
            desired = {t.value: t.percent / 100 * count for t in spread.spread_target}
            total = sum(desired.values())
            if 0 < total < count:
                desired["*"] = count - total
            self.desired[spread.attribute] = desired
            self.weights[spread.attribute] = _weight(spread.weight)
        self.property_sets = [PropertySet.for_spread(ctx, s, tg.name)
                              for s in [*ctx.job.spreads, *tg.spreads]]

    def score(self, node: Node) -> Optional[float]:
        """The node's spread score, or None when it sums to 0 (Nomad appends nothing then)."""
        if not self.property_sets:
            return None
        total = 0.0
        for pset in self.property_sets:
            value, error, used = pset.used_count(node)
            used += 1
            if error:
                total -= 1.0
                continue
            desired_counts = self.desired.get(pset.attribute)
            if desired_counts is None:
                continue
            if not desired_counts:
                total += even_spread_boost(pset, node)
                continue
            desired = desired_counts.get(value, desired_counts.get("*"))
            if desired is None:
                total -= 1.0
                continue
            if desired == 0:
                total += self.lowest_boost
                continue
            weight = self.weights[pset.attribute] / self.sum_weights if self.sum_weights else 0.0
            boost = (desired - used) / desired * weight
            total += boost
            self.lowest_boost = min(self.lowest_boost, boost)
        return total if total != 0.0 else None


def spread_score(ctx: Context, node: Node) -> Optional[float]:
    """One node's ``allocation-spread`` score with a fresh :class:`SpreadScorer`."""
    return SpreadScorer(ctx).score(node)


def normalize(scores: Mapping[str, Optional[float]]) -> float:
    """The final score: the mean of the appended scores (None entries are not appended)."""
    appended = [s for s in scores.values() if s is not None]
    return sum(appended) / len(appended) if appended else 0.0
