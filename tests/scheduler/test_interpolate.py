"""resolve_target against Nomad's TestResolveConstraintTarget (scheduler/feasible)."""

import pytest

from nodes import make_node
from nomadlab.scheduler.interpolate import resolve_target

NODE = make_node("n1", dc="dc2", node_class="large", pool="prod",
                 meta={"pci-dss": "true", "rack": "r1"})


@pytest.mark.parametrize("target,value,found", [
    ("${node.unique.id}", NODE.id, True),
    ("${node.datacenter}", "dc2", True),
    ("${node.unique.name}", "n1", True),
    ("${node.class}", "large", True),
    ("${node.pool}", "prod", True),
    ("${node.foo}", None, False),
    ("${node.region}", None, False),
    ("${attr.kernel.name}", "linux", True),
    ("${attr.unique.hostname}", "n1", True),
    ("${attr.rand}", None, False),
    ("${meta.pci-dss}", "true", True),
    ("${meta.rand}", None, False),
    ("linux", "linux", True),
    ("", "", True),
    ("${meta.rack}-nonexisting", None, False),
])
def test_resolve_target(target, value, found):
    assert resolve_target(target, NODE) == (value, found)


def test_empty_class_resolves_to_empty_string():
    assert resolve_target("${node.class}", make_node("n2")) == ("", True)
