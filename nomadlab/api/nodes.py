"""``/v1/nodes`` and ``/v1/node/:id/...`` (command/agent/node_endpoint.go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .bodies import NODE_DRAIN, NODE_ELIGIBILITY, decode_body
from .errors import HTTPError
from .http import Reply, Request
from .routes import handle, lookup, read
from .stubs import node_stub, sanitized_node

if TYPE_CHECKING:
    from ..cluster import LocalCluster
    from ..structs import Node


@read("GET /v1/nodes")
def list_nodes(request: Request, snapshot: Any) -> tuple[Any, int]:
    prefix = request.arg("prefix")
    resources, os = request.flag("resources"), request.flag("os")
    nodes = sorted((n for n in snapshot.nodes() if n.id.startswith(prefix)), key=lambda n: n.id)
    return [node_stub(n, resources, os) for n in nodes], snapshot.table_index("nodes")


@read("GET /v1/node/{node}/allocations")
def node_allocations(request: Request, snapshot: Any) -> tuple[Any, int]:
    node = lookup(snapshot, "nodes", request.params["node"], "node")
    return ([a.to_api() for a in snapshot.allocs_by_node(node.id)],
            snapshot.table_index("allocs"))


@read("GET /v1/node/{node}")
def read_node(request: Request, snapshot: Any) -> tuple[Any, int]:
    node = lookup(snapshot, "nodes", request.params["node"], "node")
    return sanitized_node(node), node.modify_index


def _node_update(cluster: "LocalCluster", request: Request,
                 change: Callable[["Node"], "Node"]) -> Reply:
    """Apply a node change and answer with the evaluations it created (NodeUpdateResponse)."""
    node = lookup(cluster.snapshot(), "nodes", request.params["node"], "node")
    before = cluster.index
    updated = change(node)
    evals = [e for e in cluster.snapshot().evals() if e.node_id == node.id and e.create_index > before]
    index = cluster.index
    return Reply({"EvalIDs": [e.id for e in evals] or None,
                  "EvalCreateIndex": max((e.create_index for e in evals), default=0),
                  "NodeModifyIndex": updated.modify_index if updated is not None else index,
                  "Index": index}, index=index)


@handle("PUT|POST /v1/node/{node}/drain")
def drain(request: Request, cluster: "LocalCluster") -> Reply:
    if "enable" in request.query and not request.body.strip():
        # Nomad 0.8's form, still sent by python-nomad's drain_node(id, enable)
        spec: Any = {"Deadline": -1} if request.flag("enable") else None
        mark_eligible, meta = False, None
    else:
        body = decode_body(request, NODE_DRAIN)
        spec, mark_eligible = body.get("DrainSpec"), bool(body.get("MarkEligible"))
        meta = body.get("Meta")
    if spec is not None and not isinstance(spec, dict):
        raise HTTPError(400, "DrainSpec must be an object")
    deadline = int(spec.get("Deadline") or 0) if spec is not None else 0
    ignore_system = bool(spec.get("IgnoreSystemJobs")) if spec is not None else False
    return _node_update(cluster, request, lambda node: cluster.drain(
        node.id, enable=spec is not None, deadline=deadline, mark_eligible=mark_eligible,
        ignore_system=ignore_system, meta=meta))


@handle("PUT|POST /v1/node/{node}/eligibility")
def eligibility(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, NODE_ELIGIBILITY)
    wanted = body.get("Eligibility")
    if wanted not in ("eligible", "ineligible"):
        raise HTTPError(400, f'invalid scheduling eligibility "{wanted or ""}"')

    def change(node: "Node") -> "Node":
        if wanted == "eligible" and node.drain_strategy is not None:
            raise HTTPError(400, "can not set node's scheduling eligibility to eligible: "
                                 "node has a drain strategy")
        return cluster.set_eligibility(node.id, wanted == "eligible")
    return _node_update(cluster, request, change)


@handle("PUT|POST /v1/node/{node}/purge")
def purge(request: Request, cluster: "LocalCluster") -> Reply:
    def change(node: "Node") -> "Node":
        cluster.remove_node(node.id)
        return node
    return _node_update(cluster, request, change)


@handle("PUT|POST /v1/node/{node}/evaluate")
def evaluate(request: Request, cluster: "LocalCluster") -> Reply:
    def change(node: "Node") -> "Node":
        cluster.evaluate_node(node.id)
        return node
    return _node_update(cluster, request, change)
