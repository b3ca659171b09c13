"""Interpolate ``${...}`` in a task's driver config and env block, as Nomad's client does.

Two rules live here, because Nomad has two (client/taskenv/env.go):

* the task's ``env`` block and meta go through ``ReplaceEnv`` (helper/args): a reference
  is ``${name}`` with ``name`` made of letters, digits, ``_``, ``-`` and ``.``, looked up
  first among the node's values (``node.unique.id``, ``attr.<key>``, ``meta.<key>``, ...)
  and then in the environment built so far;
* driver config is evaluated as HCL2 against the same values, which also allows
  ``${env["VAR"]}`` and ``${node.attr.<key>}`` / ``${node.meta.<key>}``.

In both, a reference that does not resolve is left exactly as written, so a learner sees
``${attr.missing}`` in the result rather than an empty string.  ``$${`` escapes were
already removed by the job spec parser, so a ``${`` here is always a reference.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from ..structs import Node

__all__ = ["interpolate", "interpolate_env", "replace_env", "node_attributes"]

_REPLACE_ENV_RE = re.compile(r"\$\{([a-zA-Z0-9_\-.]+)\}")
_HCL_REF_RE = re.compile(r"\$\{([^{}]*)\}")
_ENV_INDEX_RE = re.compile(r'^env\[\s*"((?:[^"\\]|\\.)*)"\s*\]$')


def node_attributes(node: Node, region: Optional[str] = None) -> dict[str, str]:
    """The node's values a task may interpolate (Nomad's ``TaskEnv.NodeAttrs``).

    ``node.region`` is not a field of the node: it is the client's region, present only
    when ``region`` is given.
    """
    attrs: dict[str, str] = {}
    if region:
        attrs["node.region"] = region
    attrs.update({
        "node.unique.id": node.id,
        "node.unique.name": node.name,
        "node.class": node.node_class,
        "node.datacenter": node.datacenter,
        "node.pool": node.node_pool,
    })
    attrs.update({f"attr.{k}": v for k, v in node.attributes.items()})
    attrs.update({f"meta.{k}": v for k, v in node.meta.items()})
    return attrs


def replace_env(value: str, *maps: Mapping[str, str]) -> str:
    """Nomad's ``args.ReplaceEnv``: ``${name}`` from the first map that has it, else kept."""
    def sub(match: re.Match[str]) -> str:
        for m in maps:
            if match.group(1) in m:
                return m[match.group(1)]
        return match.group(0)
    return _REPLACE_ENV_RE.sub(sub, value)


def _region_of(env: Mapping[str, str]) -> Optional[str]:
    return env.get("NOMAD_REGION") or None


def interpolate_env(env_block: Mapping[str, str], base_env: Mapping[str, str],
                    node: Node) -> dict[str, str]:
    """The task's ``env`` block with its values interpolated (keys are taken as written).

    Each value sees the node's values, then ``base_env`` (the ``NOMAD_*`` variables), then
    the block's earlier entries, in the order the job spec wrote them.
    """
    attrs = node_attributes(node, _region_of(base_env))
    seen = dict(base_env)
    out: dict[str, str] = {}
    for key, value in env_block.items():
        out[key] = seen[key] = replace_env(str(value), attrs, seen)
    return out


def _resolve(ref: str, env: Mapping[str, str], attrs: Mapping[str, str]) -> Optional[str]:
    ref = ref.strip()
    indexed = _ENV_INDEX_RE.match(ref)
    if indexed:
        return env.get(indexed.group(1).replace('\\"', '"').replace("\\\\", "\\"))
    if ref.startswith(("node.attr.", "node.meta.")):
        ref = ref[len("node."):]
    if ref in attrs:
        return attrs[ref]
    return env.get(ref)


def interpolate(value: Any, env: Mapping[str, str], node: Node) -> Any:
    """``value`` with every ``${...}`` in its strings resolved, through dicts and lists.

    Resolves any key of ``env`` (``${NOMAD_ALLOC_ID}``), ``${env["VAR"]}``, the node's
    ``${node.unique.id}``, ``${node.unique.name}``, ``${node.datacenter}``, ``${node.class}``,
    ``${node.pool}``, ``${attr.<key>}``, ``${meta.<key>}`` and ``${node.region}`` (the
    ``NOMAD_REGION`` of ``env``).  Dict keys and non-string scalars are returned unchanged;
    the result is a new structure of the same shape.
    """
    attrs = node_attributes(node, _region_of(env))

    def sub(match: re.Match[str]) -> str:
        resolved = _resolve(match.group(1), env, attrs)
        return match.group(0) if resolved is None else resolved

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return _HCL_REF_RE.sub(sub, v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, tuple):
            return tuple(walk(x) for x in v)
        return v

    return walk(value)
