"""Computed node classes: nodes that look alike to the scheduler share one feasibility verdict.

Nomad hashes the fields of a node that constraints can see (nomad/structs/node_class.go)
so that, within one evaluation, a class found infeasible skips all its nodes ("computed
class ineligible"). Keys under the ``unique.`` namespace are left out, and a constraint
that reads one "escapes" the class: it is checked on every node.

nomadlab's number is not Nomad's (Nomad hashes Go structs with hashstructure), but it is
stable across processes and means the same thing. One difference, on purpose: the
drivers' detected/healthy state is hashed too, because nomadlab nodes need not mirror
their drivers into ``driver.<name>`` attributes the way Nomad's fingerprinter does, and
the driver check is cached per class.
"""

from __future__ import annotations

import hashlib
import json
from typing import Union

from ..structs import Constraint, Node

__all__ = ["computed_class", "constraint_escapes", "constraint_target_escapes",
           "escaped_constraints", "is_unique_namespace", "UNIQUE_NAMESPACE"]

#: Node attribute and meta keys with this prefix identify one node and never join a class.
UNIQUE_NAMESPACE = "unique."
_ESCAPING_PREFIXES = ("${unique.", "${node.unique.", "${attr.unique.", "${meta.unique.")


def is_unique_namespace(key: str) -> bool:
    return key.startswith(UNIQUE_NAMESPACE)


def computed_class(node: Node) -> str:
    """``v1:<number>`` over datacenter, pool, class, attributes, meta and drivers (no unique.*)."""
    fields = {
        "Datacenter": node.datacenter,
        "NodePool": node.node_pool,
        "NodeClass": node.node_class,
        "Attributes": {k: v for k, v in node.attributes.items() if not is_unique_namespace(k)},
        "Meta": {k: v for k, v in node.meta.items() if not is_unique_namespace(k)},
        "Drivers": {name: [bool(info.detected), bool(info.healthy)]
                    for name, info in node.drivers.items() if info is not None},
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return f"v1:{int.from_bytes(digest, 'big')}"


def constraint_target_escapes(target: str) -> bool:
    """Does a constraint target read a ``unique.`` value (Nomad's ``constraintTargetEscapes``)?"""
    return target.startswith(_ESCAPING_PREFIXES)


def constraint_escapes(target_or_constraint: Union[str, Constraint]) -> bool:
    """Whether a target, or a whole constraint, must be checked node by node.

    A string is judged as a target. A constraint escapes when either target does, and
    also for ``distinct_hosts``/``distinct_property``: those depend on where other
    allocations sit, not on the node's class (Nomad runs them after the class cache).
    """
    if isinstance(target_or_constraint, str):
        return constraint_target_escapes(target_or_constraint)
    c = target_or_constraint
    return (c.operand in ("distinct_hosts", "distinct_property")
            or constraint_target_escapes(c.ltarget) or constraint_target_escapes(c.rtarget))


def escaped_constraints(constraints: list[Constraint]) -> list[Constraint]:
    """Nomad's ``EscapedConstraints``: those whose targets escape the computed class."""
    return [c for c in constraints
            if constraint_target_escapes(c.ltarget) or constraint_target_escapes(c.rtarget)]
