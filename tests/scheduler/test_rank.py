"""Scorers with Nomad's formulas: funcs_test.go ScoreFit cases, rank_test.go, spread_test.go."""

import pytest

from nodes import make_alloc, make_group, make_job, make_node
from nomadlab.scheduler.feasible import Context
from nomadlab.scheduler.fit import Comparable, node_capacity
from nomadlab.scheduler.rank import (SpreadScorer, anti_affinity_collisions, binpack_score,
                                     job_anti_affinity, merged_affinities, node_affinity,
                                     node_reschedule_penalty, normalize, score_fit_binpack,
                                     score_fit_spread, spread_score)
from nomadlab.structs import (Affinity, NodeReservedCpuResources, NodeReservedMemoryResources,
                              NodeReservedResources, Spread, SpreadTarget)


def reserved_node():
    node = make_node("n", cpu=4096, memory=8192)
    node.reserved_resources = NodeReservedResources(
        cpu=NodeReservedCpuResources(cpu_shares=2048),
        memory=NodeReservedMemoryResources(memory_mb=4096))
    return node


# structs/funcs_test.go TestScoreFitBinPack
@pytest.mark.parametrize("cpu,memory,binpack,spread", [
    (2048, 4096, 18.0, 0.0),      # almost filled node, but with just enough hole
    (0, 0, 0.0, 18.0),            # unutilized node
    (1024, 2048, 13.675, 4.325),  # mid-case scenario
])
def test_score_fit(cpu, memory, binpack, spread):
    capacity = node_capacity(reserved_node())
    util = Comparable(cpu, memory)
    assert score_fit_binpack(capacity, util) == pytest.approx(binpack, abs=1e-3)
    assert score_fit_spread(capacity, util) == pytest.approx(spread, abs=1e-3)
    assert binpack_score(capacity, util) == pytest.approx(binpack / 18, abs=1e-4)
    assert binpack_score(capacity, util, "spread") == pytest.approx(spread / 18, abs=1e-4)


def test_score_fit_clamps_overfull_and_empty_capacity():
    assert score_fit_binpack(Comparable(1000, 1000), Comparable(2000, 2000)) == 18.0
    assert score_fit_spread(Comparable(1000, 1000), Comparable(2000, 2000)) == 0.0
    assert score_fit_binpack(Comparable(0, 0), Comparable(0, 0)) == 18.0  # no NaN: 0 of 0 is full


def test_job_anti_affinity():
    node = make_node("n")
    proposed = [make_alloc(node, "foo", "web", 0), make_alloc(node, "foo", "web", 1),
                make_alloc(node, "foo", "db", 2), make_alloc(node, "bar", "web", 3)]
    collisions = anti_affinity_collisions(proposed, "foo", "web")
    assert collisions == 2
    assert job_anti_affinity(collisions, 4) == -0.75
    assert job_anti_affinity(0, 4) is None


def test_node_reschedule_penalty():
    assert node_reschedule_penalty("a", {"a", "b"}) == -1.0
    assert node_reschedule_penalty("c", {"a", "b"}) is None


def test_node_affinity():
    affinities = [Affinity(ltarget="${node.datacenter}", rtarget="dc1", operand="=", weight=100),
                  Affinity(ltarget="${node.datacenter}", rtarget="dc2", operand="=", weight=-100),
                  Affinity(ltarget="${attr.kernel.version}", rtarget="> 4.0", operand="version",
                           weight=50),
                  Affinity(ltarget="${node.class}", rtarget="large", operand="is", weight=50)]
    dc1 = make_node("a", dc="dc1", attrs={"kernel.version": "5.1"})
    dc2 = make_node("b", dc="dc2", node_class="large")
    other = make_node("c", dc="dc3")
    assert node_affinity(affinities, dc1) == pytest.approx(150 / 300)
    assert node_affinity(affinities, dc2) == pytest.approx(-50 / 300)
    assert node_affinity(affinities, other) == 0.0
    assert node_affinity([], dc1) is None


def test_merged_affinities_order():
    tg = make_group(affinities=[Affinity(ltarget="g", rtarget="g")])
    tg.tasks[0].affinities = [Affinity(ltarget="t", rtarget="t")]
    job = make_job(groups=[tg], affinities=[Affinity(ltarget="j", rtarget="j")])
    assert [a.ltarget for a in merged_affinities(job, tg)] == ["j", "g", "t"]


def test_normalize_is_the_mean_of_appended_scores():
    assert normalize({"binpack": 0.5, "job-anti-affinity": -0.5, "node-affinity": None}) == 0.0
    assert normalize({"binpack": 0.9}) == 0.9
    assert normalize({}) == 0.0


def spread_ctx(nodes, tg, existing=(), proposed=()):
    def by_node(allocs):
        out = {}
        for a in allocs:
            out.setdefault(a.node_id, []).append(a)
        return out
    job = make_job("foo", groups=[tg])
    return Context(job=job, tg=tg, nodes={n.id: n for n in nodes}, existing=by_node(existing),
                   proposed=by_node(proposed))


# TestSpreadIterator_SingleAttribute
def test_spread_single_attribute():
    nodes = [make_node(f"n{i}", dc=dc) for i, dc in enumerate(["dc1", "dc2", "dc1", "dc1"])]
    tg = make_group(count=10, spreads=[Spread(attribute="${node.datacenter}", weight=100,
                                              spread_target=[SpreadTarget("dc1", 80)])])
    existing = [make_alloc(nodes[0], "foo", index=0), make_alloc(nodes[2], "foo", index=1)]
    ctx = spread_ctx(nodes, tg, existing)
    scorer = SpreadScorer(ctx)
    assert [scorer.score(n) for n in nodes] == [0.625, 0.5, 0.625, 0.625]
    proposed = [make_alloc(nodes[0], "foo", index=i) for i in (2, 3)] + \
        [make_alloc(nodes[0], "ignore 2", "bbb", index=9)] + \
        [make_alloc(nodes[3], "foo", index=i) for i in (4, 5, 6)]
    scorer = SpreadScorer(spread_ctx(nodes, tg, existing, proposed))
    scores = [scorer.score(n) for n in nodes]
    assert scores == [None, 0.5, None, None]
    assert [normalize({"allocation-spread": s}) for s in scores] == [0, 0.5, 0, 0]


# TestSpreadIterator_MultipleAttributes
def test_spread_multiple_attributes():
    layout = [("dc1", "r1"), ("dc2", "r1"), ("dc1", "r2"), ("dc1", "r2")]
    nodes = [make_node(f"n{i}", dc=dc, meta={"rack": rack}) for i, (dc, rack) in enumerate(layout)]
    tg = make_group(count=10, spreads=[
        Spread(attribute="${node.datacenter}", weight=100,
               spread_target=[SpreadTarget("dc1", 60), SpreadTarget("dc2", 40)]),
        Spread(attribute="${meta.rack}", weight=50,
               spread_target=[SpreadTarget("r1", 40), SpreadTarget("r2", 60)])])
    existing = [make_alloc(nodes[0], "foo", index=0), make_alloc(nodes[2], "foo", index=1)]
    scorer = SpreadScorer(spread_ctx(nodes, tg, existing))
    assert [f"{scorer.score(n):.3f}" for n in nodes] == ["0.500", "0.667", "0.556", "0.556"]


# TestSpreadIterator_EvenSpread
def test_even_spread():
    dcs = ["dc1", "dc2", "dc1", "dc2", "dc1", "dc2", "dc2", "dc1", "dc1", "dc1"]
    nodes = [make_node(f"n{i}", dc=dc) for i, dc in enumerate(dcs)]
    tg = make_group(count=10, spreads=[Spread(attribute="${node.datacenter}", weight=100)])

    def scores(proposed):
        ctx = spread_ctx(nodes, tg, proposed=proposed)
        return {n.datacenter: spread_score(ctx, n) for n in nodes}

    assert scores([]) == {"dc1": None, "dc2": None}
    placed = [make_alloc(nodes[0], "foo", index=0), make_alloc(nodes[2], "foo", index=1)]
    assert scores(placed) == {"dc1": -1.0, "dc2": 1.0}
    placed += [make_alloc(nodes[1], "foo", index=2), make_alloc(nodes[1], "foo", index=3),
               make_alloc(nodes[3], "foo", index=4)]
    assert scores(placed) == {"dc1": 0.5, "dc2": -0.5}
    nodes.append(make_node("n10", dc="dc3"))
    placed += [make_alloc(nodes[4], "foo", index=5)]
    assert scores(placed) == {"dc1": -1.0, "dc2": -1.0, "dc3": 1.0}


# TestSpreadIterator_MaxPenalty
def test_spread_max_penalty():
    nodes = [make_node(f"n{i}", dc="dc3") for i in range(5)]
    tg = make_group(count=5, spreads=[Spread(attribute="${node.datacenter}", weight=100,
                                             spread_target=[SpreadTarget("dc1", 80),
                                                            SpreadTarget("dc2", 20)])])
    assert {spread_score(spread_ctx(nodes, tg), n) for n in nodes} == {-1.0}
    tg.spreads = [Spread(attribute="${meta.foo}", weight=100,
                         spread_target=[SpreadTarget("bar", 80), SpreadTarget("baz", 20)])]
    assert {spread_score(spread_ctx(nodes, tg), n) for n in nodes} == {-1.0}


# TestSpreadIterator_NoInfinity
def test_spread_zero_percent_target_gets_the_lowest_boost():
    nodes = [make_node(f"n{i}", dc=f"dc{i}") for i in (1, 2, 3)]
    tg = make_group(count=8, spreads=[Spread(attribute="${node.datacenter}", weight=100,
                                             spread_target=[SpreadTarget("dc1", 50),
                                                            SpreadTarget("dc2", 50),
                                                            SpreadTarget("*", 0)])])
    scorer = SpreadScorer(spread_ctx(nodes, tg))
    assert [scorer.score(n) for n in nodes] == [0.75, 0.75, -1.0]


def test_spread_counts_only_this_group():
    nodes = [make_node("a", dc="dc1"), make_node("b", dc="dc2")]
    tg = make_group(count=2, spreads=[Spread(attribute="${node.datacenter}", weight=100)])
    other_group = [make_alloc(nodes[0], "foo", "db", index=0)]
    assert spread_score(spread_ctx(nodes, tg, other_group), nodes[0]) is None


def test_spread_lowest_boost_carries_to_zero_percent_targets():
    nodes = [make_node(f"n{i}", dc=f"dc{i}") for i in (1, 2, 3)]
    tg = make_group(count=8, spreads=[Spread(attribute="${node.datacenter}", weight=100,
                                             spread_target=[SpreadTarget("dc1", 99),
                                                            SpreadTarget("dc2", 1),
                                                            SpreadTarget("*", 0)])])
    scorer = SpreadScorer(spread_ctx(nodes, tg))
    desired = 8 * 0.99
    assert scorer.score(nodes[0]) == pytest.approx((desired - 1) / desired)
    assert scorer.score(nodes[1]) == pytest.approx(-11.5)
    assert scorer.score(nodes[2]) == pytest.approx(-11.5)


# Test_evenSpreadScoreBoost
def test_even_spread_boost_with_cleared_values():
    from collections import Counter

    from nomadlab.scheduler.feasible import PropertySet
    from nomadlab.scheduler.rank import even_spread_boost
    pset = PropertySet(spread_ctx([], make_group()), "${node.datacenter}")
    pset.proposed = Counter({"dc2": 1, "dc1": 1, "dc3": 1})
    pset.cleared = Counter({"dc2": 1, "dc3": 1})
    assert even_spread_boost(pset, make_node("n", dc="dc2")) == 1.0
