"""Feasibility checkers, on the cases of Nomad's feasible_test.go where they carry over."""

import pytest

from nodes import make_alloc, make_group, make_job, make_node
from nomadlab.scheduler.feasible import (ConstraintChecker, Context, DistinctHostsChecker,
                                         DistinctPropertyChecker, DriverChecker,
                                         HostVolumeChecker, NetworkChecker, PropertySet,
                                         datacenter_ok, glob, ready_and_eligible,
                                         task_group_constraints, task_group_drivers)
from nomadlab.structs import (Constraint, DrainStrategy, DriverInfo, NetworkResource, Spread,
                              SpreadTarget, TaskGroup, VolumeRequest)


def ctx_for(job, tg=None, nodes=(), existing=(), proposed=(), stopping=(), alloc_name=""):
    def by_node(allocs):
        out = {}
        for a in allocs:
            out.setdefault(a.node_id, []).append(a)
        return out
    return Context(job=job, tg=tg or job.task_groups[0], nodes={n.id: n for n in nodes},
                   existing=by_node(existing), proposed=by_node(proposed),
                   stopping=by_node(stopping), alloc_name=alloc_name)


# TestDriverChecker_DriverInfo
def test_driver_info():
    nodes = [make_node(f"n{i}", drivers=("exec",)) for i in range(3)]
    nodes[0].drivers["foo"] = DriverInfo(detected=True, healthy=True)
    nodes[1].drivers["foo"] = DriverInfo(detected=True, healthy=False, health_description="down")
    nodes[2].drivers["foo"] = DriverInfo(detected=False, healthy=False)
    checker = DriverChecker(["exec", "foo"])
    verdicts = [checker.check(n) for n in nodes]
    assert [v.ok for v in verdicts] == [True, False, False]
    assert verdicts[1].reason == "missing drivers" and verdicts[1].step == "drivers"
    assert verdicts[1].detail["drivers"] == {"foo": "unhealthy: down"}
    assert verdicts[2].detail["drivers"] == {"foo": "not detected"}


# TestDriverChecker_Compatibility: legacy driver.<name> attributes when Drivers is empty
@pytest.mark.parametrize("value,ok", [("1", True), ("0", False), ("true", True),
                                      ("False", False), ("yes", False)])
def test_driver_attribute_compatibility(value, ok):
    node = make_node("n", drivers=())
    node.attributes.update({"driver.exec": "1", "driver.foo": value})
    assert DriverChecker(["exec", "foo"]).check(node).ok is ok


def test_driver_checker_reads_group_drivers():
    job = make_job(groups=[make_group(driver="docker")])
    ctx = ctx_for(job)
    assert task_group_drivers(job.task_groups[0]) == ["docker"]
    assert not DriverChecker().check(make_node("n", drivers=("exec",)), ctx).ok
    assert DriverChecker().check(make_node("n", drivers=("exec", "docker")), ctx).ok


# TestConstraintChecker
def test_constraint_checker():
    nodes = [make_node("n0", attrs={"kernel.name": "freebsd"}), make_node("n1", dc="dc2"),
             make_node("n2", node_class="large", attrs={"foo": "bar"}),
             make_node("n3", pool="prod")]
    constraints = [
        Constraint(operand="=", ltarget="${node.datacenter}", rtarget="dc1"),
        Constraint(operand="is", ltarget="${attr.kernel.name}", rtarget="linux"),
        Constraint(operand="!=", ltarget="${node.class}", rtarget="linux-medium-pci"),
        Constraint(operand="!=", ltarget="${node.pool}", rtarget="prod"),
        Constraint(operand="is_set", ltarget="${attr.foo}"),
    ]
    checker = ConstraintChecker(constraints)
    verdicts = [checker.check(n) for n in nodes]
    assert [v.ok for v in verdicts] == [False, False, True, False]
    assert verdicts[0].reason == "${attr.kernel.name} is linux"
    assert verdicts[1].reason == "${node.datacenter} = dc1"
    assert verdicts[3].reason == "${node.pool} != prod"
    assert verdicts[0].detail["constraint"].lvalue == "freebsd"


def test_constraint_checker_ignores_distinct_operands():
    checker = ConstraintChecker([Constraint(operand="distinct_hosts"),
                                 Constraint(operand="distinct_property", ltarget="${meta.r}")])
    assert checker.constraints == [] and checker.check(make_node("n")).ok


def test_task_group_constraints_include_tasks():
    tg = make_group(constraints=[Constraint(ltarget="${attr.a}", rtarget="1")])
    tg.tasks[0].constraints = [Constraint(ltarget="${attr.b}", rtarget="2")]
    assert [c.ltarget for c in task_group_constraints(tg)] == ["${attr.a}", "${attr.b}"]


# TestHostVolumeChecker_Static
def test_host_volumes():
    nodes = [make_node(f"n{i}") for i in range(5)]
    nodes[1].extra["HostVolumes"] = {"foo": {"Path": "/foo"}}
    nodes[2].extra["HostVolumes"] = {"foo": {}, "bar": {}, "unique-volume[0]": {}}
    nodes[3].extra["HostVolumes"] = {"foo": {}, "bar": {}}
    nodes[4].extra["HostVolumes"] = {"foo": {}, "baz": {}}
    volumes = {"foo": VolumeRequest(type="host", source="foo"),
               "bar": VolumeRequest(type="host", source="bar"),
               "baz": VolumeRequest(type="nothost", source="baz"),
               "unique": VolumeRequest(type="host", source="unique-volume", per_alloc=True)}
    job = make_job(groups=[make_group(volumes=volumes)])
    bare = make_job(groups=[make_group()])
    checker = HostVolumeChecker()
    ctx = ctx_for(job, alloc_name="example.web[0]")
    assert [checker.check(n, ctx).ok for n in nodes[:3]] == [False, False, True]
    assert checker.check(nodes[0], ctx).reason == "missing compatible host volumes"
    assert [checker.check(n, ctx_for(bare)).ok for n in nodes[3:]] == [True, True]


def test_host_volume_read_only():
    node = make_node("n")
    node.extra["HostVolumes"] = {"foo": {"Path": "/foo", "ReadOnly": True}}
    rw = make_job(groups=[make_group(volumes={"v": VolumeRequest(type="host", source="foo")})])
    ro = make_job(groups=[make_group(volumes={"v": VolumeRequest(type="host", source="foo",
                                                                  read_only=True)})])
    assert not HostVolumeChecker().check(node, ctx_for(rw)).ok
    assert HostVolumeChecker().check(node, ctx_for(ro)).ok


# TestNetworkChecker (modes)
@pytest.mark.parametrize("mode,results", [
    ("host", [True, True, True]),
    ("", [True, True, True]),
    ("bridge", [True, True, False]),
    ("cni/mynet", [False, False, True]),
    ("cni/nonexistent", [False, False, False]),
    ("none", [True, True, True]),
])
def test_network_modes(mode, results):
    def node(name, extra_mode):
        return make_node(name, networks=[NetworkResource(mode="host"),
                                         NetworkResource(mode=extra_mode)])
    nodes = [node("a", "bridge"), node("b", "bridge"), node("c", "cni/mynet")]
    ctx = ctx_for(make_job(groups=[make_group(networks=[NetworkResource(mode=mode)])]))
    verdicts = [NetworkChecker().check(n, ctx) for n in nodes]
    assert [v.ok for v in verdicts] == results
    assert all(v.reason == "missing network" for v in verdicts if not v.ok)


def test_bridge_from_cni_plugin_attribute_and_bare_nodes():
    ctx = ctx_for(make_job(groups=[make_group(networks=[NetworkResource(mode="bridge")])]))
    assert not NetworkChecker().check(make_node("n"), ctx).ok
    assert NetworkChecker().check(make_node("n", attrs={"plugins.cni.version.bridge": "1.0"}),
                                  ctx).ok
    host = ctx_for(make_job())
    assert NetworkChecker().check(make_node("bare", networks=[]), host).ok


# TestDistinctHostsIterator_JobDistinctHosts
def test_job_distinct_hosts():
    nodes = [make_node(f"n{i}") for i in range(3)]
    tg1, tg2 = TaskGroup(name="bar"), TaskGroup(name="baz")
    job = make_job("foo", groups=[tg1, tg2], constraints=[Constraint(operand="distinct_hosts")])
    proposed = [make_alloc(nodes[0], "foo", "bar"), make_alloc(nodes[0], "ignore 2", "baz"),
                make_alloc(nodes[1], "foo", "baz"), make_alloc(nodes[1], "ignore 2", "bar")]
    ctx = ctx_for(job, tg1, nodes, proposed=proposed)
    verdicts = [DistinctHostsChecker().check(n, ctx) for n in nodes]
    assert [v.ok for v in verdicts] == [False, False, True]
    assert verdicts[0].reason == "distinct_hosts" and verdicts[0].step == "distinct_hosts"


# TestDistinctHostsIterator_JobDistinctHosts_Table
@pytest.mark.parametrize("rtarget,feasible", [("", 1), ("true", 1), ("false", 3),
                                              ("not_a_bool", 1)])
def test_job_distinct_hosts_rtarget(rtarget, feasible):
    nodes = [make_node(f"n{i}") for i in range(3)]
    job = make_job("foo", groups=[TaskGroup(name="bar")],
                   constraints=[Constraint(operand="distinct_hosts", rtarget=rtarget)])
    other_ns = [make_alloc(n, "foo", "bar", alloc_id=f"other-{n.name}") for n in nodes]
    for a in other_ns:
        a.namespace = "different"
    existing = [make_alloc(nodes[0], "foo", "bar"), make_alloc(nodes[1], "foo", "bar")]
    ctx = ctx_for(job, nodes=nodes, existing=existing + other_ns)
    assert sum(DistinctHostsChecker().check(n, ctx).ok for n in nodes) == feasible


# TestDistinctHostsIterator_TaskGroupDistinctHosts
def test_group_distinct_hosts():
    nodes = [make_node("n0"), make_node("n1")]
    tg1 = TaskGroup(name="example", constraints=[Constraint(operand="distinct_hosts")])
    tg2 = TaskGroup(name="baz")
    job = make_job("foo", groups=[tg1, tg2])
    proposed = [make_alloc(nodes[0], "foo", "example"), make_alloc(nodes[1], "bar", "example")]
    checker = DistinctHostsChecker()
    assert [checker.check(n, ctx_for(job, tg1, nodes, proposed=proposed)).ok
            for n in nodes] == [False, True]
    assert [checker.check(n, ctx_for(job, tg2, nodes, proposed=proposed)).ok
            for n in nodes] == [True, True]


def test_distinct_hosts_honours_planned_stops_and_terminal_allocs():
    node = make_node("n0")
    job = make_job("foo", constraints=[Constraint(operand="distinct_hosts")])
    live = make_alloc(node, "foo", "web")
    assert not DistinctHostsChecker().check(node, ctx_for(job, existing=[live])).ok
    assert DistinctHostsChecker().check(node, ctx_for(job, existing=[live],
                                                       stopping=[live])).ok
    done = make_alloc(node, "foo", "web", client="complete")
    assert DistinctHostsChecker().check(node, ctx_for(job, existing=[done])).ok


# TestDistinctPropertyIterator_JobDistinctProperty
def test_job_distinct_property():
    nodes = [make_node(f"n{i}", meta={"rack": str(i)}) for i in range(5)]
    tg1, tg2 = TaskGroup(name="bar"), TaskGroup(name="baz")
    job = make_job("foo", groups=[tg1, tg2],
                   constraints=[Constraint(operand="distinct_property", ltarget="${meta.rack}")])
    proposed = [make_alloc(nodes[0], "foo", "bar", alloc_id="a1"),
                make_alloc(nodes[0], "ignore 2", "baz"),
                make_alloc(nodes[2], "foo", "baz"), make_alloc(nodes[2], "ignore 2", "bar")]
    stopping = [make_alloc(nodes[4], "foo", "baz", alloc_id="stopping")]
    existing = [make_alloc(nodes[0], "foo", "bar", alloc_id="a1"),
                make_alloc(nodes[1], "foo", "bar"), make_alloc(nodes[1], "ignore 2", "baz"),
                make_alloc(nodes[3], "foo", "baz"), make_alloc(nodes[3], "ignore 2", "bar"),
                make_alloc(nodes[4], "foo", "baz", alloc_id="stopping")]
    ctx = ctx_for(job, tg2, nodes, existing=existing, proposed=proposed, stopping=stopping)
    verdicts = [DistinctPropertyChecker().check(n, ctx) for n in nodes]
    assert [v.ok for v in verdicts] == [False, False, False, False, True]
    assert verdicts[1].reason == "distinct_property: ${meta.rack}=1 used by 1 allocs"
    assert verdicts[1].detail["constraint"] == "${meta.rack} distinct_property "


def test_group_distinct_property_with_count_and_missing_property():
    nodes = [make_node("a", meta={"rack": "r1"}), make_node("b", meta={"rack": "r1"}),
             make_node("c")]
    tg = make_group(constraints=[Constraint(operand="distinct_property",
                                            ltarget="${meta.rack}", rtarget="2")])
    job = make_job(groups=[tg])
    one = ctx_for(job, nodes=nodes, existing=[make_alloc(nodes[0], index=0)])
    assert DistinctPropertyChecker().check(nodes[1], one).ok
    two = ctx_for(job, nodes=nodes, existing=[make_alloc(nodes[0], index=0)],
                  proposed=[make_alloc(nodes[1], index=1)])
    verdict = DistinctPropertyChecker().check(nodes[1], two)
    assert verdict.reason == "distinct_property: ${meta.rack}=r1 used by 2 allocs"
    assert DistinctPropertyChecker().check(nodes[2], one).reason == \
        'missing property "${meta.rack}"'
    other_group = ctx_for(job, nodes=nodes, existing=[make_alloc(nodes[0], group="db"),
                                                      make_alloc(nodes[1], group="db")])
    assert DistinctPropertyChecker().check(nodes[1], other_group).ok


def test_distinct_property_bad_count():
    tg = make_group(constraints=[Constraint(operand="distinct_property",
                                            ltarget="${meta.rack}", rtarget="two")])
    verdict = DistinctPropertyChecker().check(make_node("a", meta={"rack": "r"}),
                                              ctx_for(make_job(groups=[tg])))
    assert verdict.reason == 'failed to convert RTarget "two" to uint64'


def test_property_set_targets_fold_into_star():
    nodes = [make_node("a", dc="dc1"), make_node("b", dc="dc2"), make_node("c", dc="dc3")]
    job = make_job(groups=[make_group(count=4)])
    ctx = ctx_for(job, nodes=nodes, existing=[make_alloc(nodes[1]), make_alloc(nodes[2], index=1)])
    spread = Spread(attribute="${node.datacenter}",
                    spread_target=[SpreadTarget(value="dc1", percent=50)])
    pset = PropertySet.for_spread(ctx, spread, "web")
    assert pset.combined_use() == {"*": 2}
    assert pset.used_count(nodes[1]) == ("*", "", 2)
    assert pset.used_count(nodes[0]) == ("dc1", "", 0)


@pytest.mark.parametrize("pattern,subject,result", [
    ("dc1", "dc1", True), ("dc1", "dc10", False), ("dc*", "dc10", True), ("*", "x", True),
    ("*-east", "us-east", True), ("us-*-1", "us-west-1", True), ("us-*-1", "eu-west-1", False),
    ("", "", True), ("", "dc1", False), ("dc?", "dc1", False),
])
def test_glob(pattern, subject, result):
    assert glob(pattern, subject) is result


def test_datacenters_and_pools():
    node = make_node("n", dc="us-east-1", pool="prod")
    assert datacenter_ok(node, ["us-*"], "prod").ok
    assert datacenter_ok(node, ["*"], "all").ok
    miss = datacenter_ok(node, ["dc1", "dc2"], "prod")
    assert not miss.ok and miss.reason == 'node is in datacenter "us-east-1", not in dc1, dc2'
    pool = datacenter_ok(node, ["*"])
    assert not pool.ok and pool.step == "node-pool"
    assert pool.reason == 'node is in node pool "prod", not "default"'


def test_ready_and_eligible():
    assert ready_and_eligible(make_node("n")).ok
    assert ready_and_eligible(make_node("n", status="down")).reason == \
        'node status is "down", not "ready"'
    draining = make_node("n")
    draining.drain_strategy = DrainStrategy(deadline=1)
    assert ready_and_eligible(draining).reason == "node is draining"
    ineligible = make_node("n")
    ineligible.scheduling_eligibility = "ineligible"
    assert ready_and_eligible(ineligible).reason == "node is ineligible for scheduling"


def test_distinct_property_cleared_value_reused_by_plan():
    """Nomad's PopulateProposed keeps a single cleared use when the plan reuses the value."""
    nodes = [make_node("a", meta={"rack": "r1"}), make_node("b", meta={"rack": "r1"})]
    tg = make_group(constraints=[Constraint(operand="distinct_property",
                                            ltarget="${meta.rack}", rtarget="2")])
    job = make_job(groups=[tg])
    old = make_alloc(nodes[0], index=0, alloc_id="old")
    ctx = ctx_for(job, nodes=nodes, existing=[old], stopping=[old],
                  proposed=[make_alloc(nodes[0], index=1, alloc_id="new")])
    assert DistinctPropertyChecker().check(nodes[1], ctx).ok
