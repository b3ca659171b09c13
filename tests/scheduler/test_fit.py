"""Resource fit: capacity after reservations, used resources, static and dynamic ports."""

import random

from nodes import make_alloc, make_group, make_node
from nomadlab.scheduler.fit import (Comparable, allocated_resources_for, fit, node_capacity,
                                    parse_port_ranges, used)
from nomadlab.structs import (NetworkResource, NodeReservedCpuResources,
                              NodeReservedMemoryResources, NodeReservedNetworkResources,
                              NodeReservedResources, Port, Task, TaskGroup)


def test_capacity_subtracts_reserved():
    node = make_node("n", cpu=4000, memory=8192, disk=10000)
    node.reserved_resources = NodeReservedResources(
        cpu=NodeReservedCpuResources(cpu_shares=500),
        memory=NodeReservedMemoryResources(memory_mb=1024))
    assert node_capacity(node) == Comparable(3500, 7168, 10000)


def test_allocated_resources_defaults():
    tg = TaskGroup(name="g", tasks=[Task(name="a", driver="exec"), Task(name="b", driver="exec")])
    res = allocated_resources_for(tg)
    assert res.tasks["a"].cpu.cpu_shares == 100 and res.tasks["b"].memory.memory_mb == 300
    assert res.shared.disk_mb == 300


def test_used_skips_client_terminal_and_other_nodes():
    node, other = make_node("n"), make_node("o")
    allocs = [make_alloc(node, index=0), make_alloc(node, index=1, client="failed"),
              make_alloc(other, index=2)]
    assert used(node, allocs) == Comparable(500, 256, 300)


def test_fits_and_reports_numbers():
    node = make_node("n", cpu=2000, memory=2048)
    result = fit(node, [make_alloc(node)], [], make_group(cpu=500, memory=256))
    assert result.ok and result.exhausted_dimension is None
    assert result.used == {"cpu": 500, "memory": 256, "disk": 300}
    assert result.free == {"cpu": 1500, "memory": 1792, "disk": 102100}
    assert result.asked == {"cpu": 500, "memory": 256, "disk": 300}
    assert result.util == Comparable(1000, 512, 600)


def test_first_exhausted_dimension_in_nomads_order():
    node = make_node("n", cpu=1000, memory=512, disk=1000)
    assert fit(node, [], [], make_group(cpu=2000, memory=1024)).exhausted_dimension == "cpu"
    assert fit(node, [], [], make_group(cpu=500, memory=1024)).exhausted_dimension == "memory"
    assert fit(node, [], [], make_group(cpu=500, memory=256, disk=2000)).exhausted_dimension \
        == "disk"


def test_proposed_allocs_count_and_terminal_existing_do_not():
    node = make_node("n", cpu=1000)
    tg = make_group(cpu=600)
    assert not fit(node, [], [make_alloc(node, cpu=600)], tg).ok
    assert fit(node, [make_alloc(node, cpu=600, desired="stop")], [], tg).ok


def web_group(static=(), dynamic=()):
    return make_group(networks=[NetworkResource(
        reserved_ports=[Port(label=l, value=v) for l, v in static],
        dynamic_ports=[Port(label=l, to=t) for l, t in dynamic])])


def test_static_port_collision_names_the_holder():
    node = make_node("n")
    holder = make_alloc(node, ports=[("http", 8080)], alloc_id="holder")
    result = fit(node, [holder], [], web_group(static=[("http", 8080)]))
    assert not result.ok
    assert result.exhausted_dimension == "network: reserved port collision http=8080"
    assert result.port_holder == "holder"


def test_static_port_reserved_by_node():
    node = make_node("n")
    node.reserved_resources.networks = NodeReservedNetworkResources(reserved_host_ports="22,80-90")
    result = fit(node, [], [], web_group(static=[("web", 85)]))
    assert result.exhausted_dimension == "network: reserved port collision web=85"
    assert result.port_holder is None


def test_ports_are_assigned_deterministically():
    node = make_node("n")
    node.node_resources.min_dynamic_port, node.node_resources.max_dynamic_port = 20000, 20010
    tg = web_group(static=[("http", 8080)], dynamic=[("metrics", 0), ("admin", -1)])
    a = fit(node, [], [], tg, rng=random.Random(7))
    b = fit(node, [], [], tg, rng=random.Random(7))
    assert a.ok and [(p.label, p.value) for p in a.ports] == [(p.label, p.value) for p in b.ports]
    labels = {p.label: p for p in a.ports}
    assert labels["http"].value == 8080 and labels["http"].host_ip == "127.0.0.1"
    assert 20000 <= labels["metrics"].value <= 20010
    assert labels["admin"].to == labels["admin"].value
    assert labels["metrics"].value != labels["admin"].value
    assert a.allocated.shared.ports == a.ports
    assert {p.label for p in a.allocated.shared.networks[0].ports()} == {"http", "metrics", "admin"}


def test_dynamic_ports_avoid_used_and_run_out():
    node = make_node("n")
    node.node_resources.min_dynamic_port, node.node_resources.max_dynamic_port = 20000, 20001
    holder = make_alloc(node, ports=[("x", 20000)])
    one = fit(node, [holder], [], web_group(dynamic=[("a", 0)]), rng=random.Random(1))
    assert one.ok and one.ports[0].value == 20001
    two = fit(node, [holder], [], web_group(dynamic=[("a", 0), ("b", 0)]), rng=random.Random(1))
    assert two.exhausted_dimension == "network: dynamic port selection failed"


def test_network_checked_before_cpu():
    node = make_node("n", cpu=100)
    holder = make_alloc(node, cpu=10, ports=[("http", 8080)])
    result = fit(node, [holder], [], web_group(static=[("http", 8080)]))
    assert result.exhausted_dimension.startswith("network:")


def test_parse_port_ranges():
    assert parse_port_ranges("22, 80-82,80") == [22, 80, 81, 82]
    assert parse_port_ranges("") == []
