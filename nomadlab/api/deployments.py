"""``/v1/deployments`` and ``/v1/deployment/...``: read deployments and steer them
(command/agent/deployment_endpoint.go, nomad/deployment_endpoint.go).

Reads are blocking queries like every other list and read.  The writes (promote, fail,
pause, unblock, allocation-health) check the body as Nomad does (the ``DeploymentID`` in
the body must be the one in the path), then call the cluster, which hands them to the
deployment watcher in one transaction; the answer is Nomad's DeploymentUpdateResponse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ..cluster import reverted_job_version
from ..structs import Deployment, Evaluation
from .bodies import (DEPLOYMENT_ALLOC_HEALTH, DEPLOYMENT_PAUSE, DEPLOYMENT_PROMOTE,
                     DEPLOYMENT_UNBLOCK, Shape, decode_body)
from .errors import HTTPError
from .http import Reply, Request
from .routes import handle, lookup, read
from .stubs import alloc_stub

if TYPE_CHECKING:
    from ..cluster import LocalCluster

@read("GET /v1/deployments")
def list_deployments(request: Request, snapshot: Any) -> tuple[Any, int]:
    """Oldest first (by ID with ``prefix``, as Nomad's prefix index walks them);
    ``reverse=true`` turns the order round."""
    prefix = request.arg("prefix")
    namespace = request.namespace
    found = [d for d in snapshot.deployments() if d.id.startswith(prefix)
             and (namespace == "*" or d.namespace == namespace)]
    found.sort(key=(lambda d: d.id) if prefix else (lambda d: (d.create_index, d.id)),
               reverse=request.flag("reverse"))
    return [d.to_api() for d in found], snapshot.table_index("deployments")


@read("GET /v1/deployment/allocations/{deployment}")
def deployment_allocations(request: Request, snapshot: Any) -> tuple[Any, int]:
    deployment = lookup(snapshot, "deployments", request.params["deployment"], "deployment")
    allocs = [a for a in snapshot.allocs(deployment.job_id, deployment.namespace)
              if a.deployment_id == deployment.id]
    return [alloc_stub(a) for a in allocs], snapshot.table_index("allocs")


@read("GET /v1/deployment/{deployment}")
def read_deployment(request: Request, snapshot: Any) -> tuple[Any, int]:
    deployment = lookup(snapshot, "deployments", request.params["deployment"], "deployment")
    return deployment.to_api(), deployment.modify_index


# -- writes -------------------------------------------------------------------------------

def _body(request: Request, shape: Shape) -> dict[str, Any]:
    """The request body, with the path's deployment ID checked against its own."""
    body = decode_body(request, shape)
    if not body.get("DeploymentID"):
        raise HTTPError(400, "DeploymentID must be specified")
    if body["DeploymentID"] != request.params["deployment"]:
        raise HTTPError(400, "Deployment ID does not match")
    return body


def _deployment(request: Request, cluster: "LocalCluster") -> Deployment:
    return lookup(cluster.snapshot(), "deployments", request.params["deployment"], "deployment")


def update_response(cluster: Any, deployment: Deployment, ev: Optional[Evaluation],
                    version_before: Optional[int]) -> dict[str, Any]:
    """Nomad's DeploymentUpdateResponse.  ``RevertedJobVersion`` is the stable version a
    failed deployment rolled its job back to (auto_revert), when the write did that."""
    after = cluster.deployment(deployment.id)
    reverted = None if version_before is None else \
        reverted_job_version(cluster, deployment, version_before)
    index = cluster.index
    return {"EvalID": ev.id if ev is not None else "",
            "EvalCreateIndex": ev.create_index if ev is not None else 0,
            "DeploymentModifyIndex": after.modify_index, "RevertedJobVersion": reverted,
            "Index": index}


def _write(request: Request, cluster: "LocalCluster",
           call: Callable[[str], Optional[Evaluation]], may_revert: bool = False) -> Reply:
    deployment = _deployment(request, cluster)
    before = None
    if may_revert:
        try:
            before = cluster.job(deployment.job_id, deployment.namespace).version
        except KeyError:
            before = None
    ev = call(deployment.id)
    body = update_response(cluster, deployment, ev, before)
    return Reply(body, index=body["Index"])


@handle("PUT|POST /v1/deployment/fail/{deployment}")
def fail(request: Request, cluster: "LocalCluster") -> Reply:
    return _write(request, cluster, cluster.fail_deployment, may_revert=True)


@handle("PUT|POST /v1/deployment/pause/{deployment}")
def pause(request: Request, cluster: "LocalCluster") -> Reply:
    body = _body(request, DEPLOYMENT_PAUSE)
    wanted = bool(body.get("Pause"))
    return _write(request, cluster, lambda d: cluster.pause_deployment(d, wanted))


@handle("PUT|POST /v1/deployment/promote/{deployment}")
def promote(request: Request, cluster: "LocalCluster") -> Reply:
    body = _body(request, DEPLOYMENT_PROMOTE)
    groups = None if body.get("All") else list(body.get("Groups") or [])
    return _write(request, cluster, lambda d: cluster.promote_deployment(d, groups))


@handle("PUT|POST /v1/deployment/unblock/{deployment}")
def unblock(request: Request, cluster: "LocalCluster") -> Reply:
    _body(request, DEPLOYMENT_UNBLOCK)
    return _write(request, cluster, cluster.unblock_deployment)


@handle("PUT|POST /v1/deployment/allocation-health/{deployment}")
def allocation_health(request: Request, cluster: "LocalCluster") -> Reply:
    body = _body(request, DEPLOYMENT_ALLOC_HEALTH)
    healthy = list(body.get("HealthyAllocationIDs") or [])
    unhealthy = list(body.get("UnhealthyAllocationIDs") or [])
    if not healthy and not unhealthy:
        raise HTTPError(400, "must specify at least one healthy/unhealthy allocation ID")
    return _write(request, cluster,
                  lambda d: cluster.set_alloc_health(d, healthy, unhealthy), may_revert=True)
