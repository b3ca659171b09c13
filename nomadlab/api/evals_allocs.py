"""``/v1/evaluations``, ``/v1/evaluation/:id``, ``/v1/allocations``, ``/v1/allocation/:id``
(command/agent/eval_endpoint.go, alloc_endpoint.go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .http import Reply, Request
from .routes import handle, lookup, read
from .stubs import alloc_stubs_json

if TYPE_CHECKING:
    from ..cluster import LocalCluster


def _in_namespace(obj: Any, request: Request) -> bool:
    namespace = request.namespace
    return namespace == "*" or (obj.namespace or "default") == namespace


@read("GET /v1/evaluations")
def list_evaluations(request: Request, snapshot: Any) -> tuple[Any, int]:
    prefix = request.arg("prefix")
    job_id = request.arg("filter_job_id") or request.arg("job")
    status = request.arg("filter_eval_status")
    evals = [e for e in snapshot.evals() if e.id.startswith(prefix) and _in_namespace(e, request)
             and (not job_id or e.job_id == job_id) and (not status or e.status == status)]
    evals.sort(key=lambda e: e.create_index, reverse=request.flag("reverse"))
    return [e.to_api() for e in evals], snapshot.table_index("evals")


@read("GET /v1/evaluation/{eval}/allocations")
def evaluation_allocations(request: Request, snapshot: Any) -> tuple[Any, int]:
    lookup(snapshot, "evals", request.params["eval"], "eval")
    allocs = snapshot.allocs_by_eval(request.params["eval"])
    return alloc_stubs_json(snapshot, allocs), snapshot.table_index("allocs")


@read("GET /v1/evaluation/{eval}")
def read_evaluation(request: Request, snapshot: Any) -> tuple[Any, int]:
    ev = lookup(snapshot, "evals", request.params["eval"], "eval")
    body = ev.to_api()
    if request.flag("related"):
        body["RelatedEvals"] = [_eval_stub(e) for e in snapshot.evals(ev.job_id, ev.namespace)
                                if e.id != ev.id]
    return body, ev.modify_index


def _eval_stub(ev: Any) -> dict[str, Any]:
    full = ev.to_api()
    keys = ("ID", "Namespace", "Priority", "Type", "TriggeredBy", "JobID", "NodeID",
            "DeploymentID", "Status", "StatusDescription", "WaitUntil", "NextEval",
            "PreviousEval", "BlockedEval", "CreateIndex", "ModifyIndex", "CreateTime",
            "ModifyTime")
    return {k: full.get(k) for k in keys}


@read("GET /v1/allocations")
def list_allocations(request: Request, snapshot: Any) -> tuple[Any, int]:
    prefix = request.arg("prefix")
    allocs = (a for a in snapshot.allocs()
              if a.id.startswith(prefix) and _in_namespace(a, request))
    return (alloc_stubs_json(snapshot, allocs, request.flag("resources"),
                             request.flag("task_states", True)),
            snapshot.table_index("allocs"))


@read("GET /v1/allocation/{alloc}")
def read_allocation(request: Request, snapshot: Any) -> tuple[Any, int]:
    alloc = lookup(snapshot, "allocs", request.params["alloc"], "alloc")
    return alloc.to_api(), alloc.modify_index


@handle("PUT|POST /v1/allocation/{alloc}/stop")
def stop_allocation(request: Request, cluster: "LocalCluster") -> Reply:
    alloc = lookup(cluster.snapshot(), "allocs", request.params["alloc"], "alloc")
    ev = cluster.stop_alloc(alloc.id)
    index = cluster.index
    return Reply({"EvalID": ev.id, "Index": index}, index=index)
