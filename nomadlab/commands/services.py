"""``service list``, ``service info`` and ``service delete``: Nomad's native services
(command/service_list.go, service_info.go, service_delete.go)."""

from __future__ import annotations

import argparse
from typing import Any

from ..format.document import columnize
from .base import EXPECTED, IO, error_message

__all__ = ["service_list", "service_info", "service_delete"]


def _tags(tags: list[str]) -> str:
    return "[" + ",".join(sorted(tags)) + "]"


def service_list(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        regs = cluster.services(args.namespace or None)
    except EXPECTED as err:
        io.error(f"Error listing service registrations: {error_message(err)}")
        return 1
    if not regs:
        io.print("No service registrations found")
        return 0
    tags: dict[tuple[str, str], set[str]] = {}
    for reg in regs:
        tags.setdefault((reg.namespace, reg.service_name), set()).update(reg.tags)
    all_namespaces = args.namespace == "*"
    rows = [["Service Name", *(["Namespace"] if all_namespaces else []), "Tags"]]
    rows += [[name, *([ns] if all_namespaces else []), _tags(list(t))]
             for (ns, name), t in sorted(tags.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    io.print(columnize(rows))
    return 0


def service_info(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        regs = cluster.service(args.service, args.namespace or None)
    except EXPECTED as err:
        io.error(f"Error listing service registrations: {error_message(err)}")
        return 1
    if not regs:
        io.print("No service registrations found")
        return 0
    short = (lambda ident: ident) if args.verbose else (lambda ident: ident[:8])
    rows = [["Job ID", "Address", "Tags", "Node ID", "Alloc ID"]]
    rows += [[r.job_id, f"{r.address}:{r.port}", _tags(r.tags), short(r.node_id),
              short(r.alloc_id)] for r in regs]
    io.print(columnize(rows))
    return 0


def service_delete(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        cluster.delete_service(args.service, args.id, args.namespace or None)
    except EXPECTED as err:
        io.error(f"Error deleting service registration: {error_message(err)}")
        return 1
    io.print("Successfully deleted service registration")
    return 0
