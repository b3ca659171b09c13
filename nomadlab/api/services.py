"""Nomad's native service discovery over HTTP (command/agent/service_registration_endpoint.go):
``/v1/services``, ``/v1/service/:name``, ``DELETE /v1/service/:name/:id``,
``/v1/allocation/:id/services`` and the client's ``/v1/client/allocation/:id/checks``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .http import Reply, Request
from .routes import handle, lookup, read

if TYPE_CHECKING:
    from ..cluster import LocalCluster


def _namespaces(request: Request) -> Any:
    return None if request.namespace == "*" else request.namespace


@read("GET /v1/services")
def list_services(request: Request, snapshot: Any) -> tuple[Any, int]:
    """Per namespace, each service name with the union of its instances' tags."""
    by_namespace: dict[str, dict[str, set[str]]] = {}
    for reg in snapshot.service_registrations(_namespaces(request)):
        tags = by_namespace.setdefault(reg.namespace, {}).setdefault(reg.service_name, set())
        tags.update(reg.tags)
    body = [{"Namespace": ns, "Services": [{"ServiceName": name, "Tags": sorted(tags)}
                                           for name, tags in sorted(services.items())]}
            for ns, services in sorted(by_namespace.items())]
    return body, snapshot.table_index("services")


@read("GET /v1/service/{name}")
def read_service(request: Request, snapshot: Any) -> tuple[Any, int]:
    """Every instance of a service, in the request's namespace."""
    name = request.params["name"]
    regs = [r for r in snapshot.service_registrations(_namespaces(request))
            if r.service_name == name]
    return [r.to_api() for r in regs], snapshot.table_index("services")


@handle("DELETE /v1/service/{name}/{id}")
def delete_service(request: Request, cluster: "LocalCluster") -> Reply:
    index = cluster.delete_service(request.params["name"], request.params["id"],
                                   request.namespace)
    return Reply(None, index=index)


@read("GET /v1/allocation/{alloc}/services")
def allocation_services(request: Request, snapshot: Any) -> tuple[Any, int]:
    alloc = lookup(snapshot, "allocs", request.params["alloc"], "alloc")
    regs = snapshot.service_registrations_by_alloc(alloc.id)
    return [r.to_api() for r in regs], snapshot.table_index("services")


@handle("GET /v1/client/allocation/{alloc}/checks")
def allocation_checks(request: Request, cluster: "LocalCluster") -> Reply:
    """The latest result of each of the allocation's checks, from the client running it."""
    alloc = lookup(cluster.snapshot(), "allocs", request.params["alloc"], "alloc")
    results = cluster.alloc_checks(alloc.id)
    return Reply({check_id: r.to_api() for check_id, r in results.items()},
                 index=cluster.index)


@handle("GET /v1/allocation/{alloc}/checks")
def allocation_checks_short(request: Request, cluster: "LocalCluster") -> Reply:
    """The same answer at the path without ``/client`` (a convenience of nomadlab's)."""
    return allocation_checks(request, cluster)
