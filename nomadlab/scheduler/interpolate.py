"""Resolve a constraint's targets against a node, exactly as Nomad's ``resolveTarget``.

A target that does not start with ``${`` is a literal and resolves to itself. Otherwise
only these forms resolve (scheduler/feasible/feasible.go)::

    ${node.unique.id}  ${node.unique.name}  ${node.datacenter}  ${node.class}  ${node.pool}
    ${attr.<key>}      ${meta.<key>}

Anything else, including ``${node.region}``, does not resolve: Nomad's job spec docs list
``${node.region}`` among the node variables, but the scheduler's resolver does not know it,
so a constraint on it sees an unset value. nomadlab follows the scheduler.
"""

from __future__ import annotations

from typing import Optional

from ..structs import Node

__all__ = ["resolve_target", "NODE_TARGETS"]

#: The ``${node.*}`` targets the scheduler resolves, and the Node field each one reads.
NODE_TARGETS = {
    "${node.unique.id}": "id",
    "${node.datacenter}": "datacenter",
    "${node.unique.name}": "name",
    "${node.class}": "node_class",
    "${node.pool}": "node_pool",
}


def _strip(target: str, prefix: str) -> str:
    """Go's ``TrimSuffix(TrimPrefix(target, prefix), "}")``: a malformed tail stays in the key."""
    key = target[len(prefix):]
    return key[:-1] if key.endswith("}") else key


def resolve_target(target: str, node: Node) -> tuple[Optional[str], bool]:
    """``(value, found)`` for ``target`` on ``node``; ``(None, False)`` when it does not resolve."""
    if not target.startswith("${"):
        return target, True
    field = NODE_TARGETS.get(target)
    if field is not None:
        return getattr(node, field), True
    if target.startswith("${attr."):
        key = _strip(target, "${attr.")
        return (node.attributes[key], True) if key in node.attributes else (None, False)
    if target.startswith("${meta."):
        key = _strip(target, "${meta.")
        return (node.meta[key], True) if key in node.meta else (None, False)
    return None, False
