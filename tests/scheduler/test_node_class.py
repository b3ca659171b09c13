"""Computed node classes: equal for look-alike nodes, different when anything visible differs."""

import subprocess
import sys
from pathlib import Path

from nodes import make_node
from nomadlab.scheduler.node_class import (computed_class, constraint_escapes,
                                           escaped_constraints)
from nomadlab.structs import Constraint, DriverInfo


def test_unique_attributes_and_names_do_not_split_a_class():
    a = make_node("a", attrs={"unique.network.ip-address": "10.0.0.1"}, meta={"unique.x": "1"})
    b = make_node("b", attrs={"unique.network.ip-address": "10.0.0.2"}, meta={"unique.x": "2"})
    assert computed_class(a) == computed_class(b)
    assert computed_class(a).startswith("v1:") and computed_class(a)[3:].isdigit()


def test_visible_differences_split_a_class():
    base = computed_class(make_node("a"))
    assert computed_class(make_node("a", dc="dc2")) != base
    assert computed_class(make_node("a", node_class="large")) != base
    assert computed_class(make_node("a", pool="prod")) != base
    assert computed_class(make_node("a", attrs={"kernel.name": "darwin"})) != base
    assert computed_class(make_node("a", meta={"rack": "r1"})) != base
    unhealthy = make_node("a")
    unhealthy.drivers["exec"] = DriverInfo(detected=True, healthy=False)
    assert computed_class(unhealthy) != base


def test_class_is_stable_across_processes():
    here = str(Path(__file__).parent)
    code = (f"import sys; sys.path.insert(0, {here!r}); from nodes import make_node; "
            "from nomadlab.scheduler.node_class import computed_class; "
            "print(computed_class(make_node('a', meta={'rack': 'r1'})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123"}).stdout.strip()
    assert out == computed_class(make_node("a", meta={"rack": "r1"}))


def test_escaping_targets():
    for target in ("${node.unique.id}", "${node.unique.name}", "${attr.unique.hostname}",
                   "${meta.unique.rack}", "${unique.foo}"):
        assert constraint_escapes(target)
    for target in ("${node.datacenter}", "${attr.kernel.name}", "${meta.rack}", "linux"):
        assert not constraint_escapes(target)


def test_escaping_constraints():
    unique = Constraint(ltarget="${node.unique.name}", rtarget="n1", operand="=")
    plain = Constraint(ltarget="${attr.kernel.name}", rtarget="linux", operand="=")
    distinct = Constraint(operand="distinct_hosts")
    assert constraint_escapes(unique) and not constraint_escapes(plain)
    assert constraint_escapes(distinct)
    assert escaped_constraints([unique, plain, distinct]) == [unique]
