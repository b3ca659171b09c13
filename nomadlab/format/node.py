"""``nomad node status``: the node list, and one node with its events, resources and
allocations."""

from __future__ import annotations

from typing import Any, Optional

from .document import KV, Document, Line, Table
from .job import alloc_list
from .units import SHORT_ID, format_time, ibytes, limit

__all__ = ["node_list", "node_status"]


def node_list(nodes: list[dict[str, Any]], verbose: bool = False) -> Document:
    """One row per node (stubs or full nodes), as ``nomad node status`` lists them."""
    if not nodes:
        return Document([Line("No nodes registered")])
    length = None if verbose else SHORT_ID
    header = ["ID", "Node Pool", "DC", "Name", "Class", "Drain", "Eligibility", "Status"]
    if verbose:
        header[5:5] = ["Address", "Version"]
    rows = []
    for n in nodes:
        row = [limit(n.get("ID", ""), length), n.get("NodePool") or "default",
               n.get("Datacenter", ""), n.get("Name", ""), n.get("NodeClass", ""),
               _bool(n.get("Drain")), n.get("SchedulingEligibility", ""), n.get("Status", "")]
        if verbose:
            row[5:5] = [n.get("Address") or n.get("HTTPAddr", ""),
                        n.get("Version") or (n.get("Attributes") or {}).get("nomad.version", "")]
        rows.append(row)
    return Document([Table(header, rows)])


def node_status(node: dict[str, Any], allocs: Optional[list[dict[str, Any]]] = None,
                verbose: bool = False, now: Optional[int] = None) -> Document:
    """One node: its identity and state, drivers, events, what its allocations reserve
    out of what it offers, and the allocations themselves (left out when ``allocs`` is
    None: a node struct on its own)."""
    length = None if verbose else SHORT_ID
    drivers = node.get("Drivers") or {}
    healthy = sorted(name for name, d in drivers.items() if (d or {}).get("Detected") and
                     (d or {}).get("Healthy"))
    doc = Document([KV([
        ("ID", limit(node.get("ID", ""), length)), ("Name", node.get("Name", "")),
        ("Node Pool", node.get("NodePool") or "default"), ("Class", node.get("NodeClass", "")),
        ("DC", node.get("Datacenter", "")), ("Drain", _bool(node.get("Drain"))),
        ("Eligibility", node.get("SchedulingEligibility", "")), ("Status", node.get("Status", "")),
        ("Driver Status", ",".join(healthy))])])
    events = node.get("Events") or []
    if events:
        shown = events if verbose else events[-10:]
        rows = [[format_time(e.get("Timestamp")), e.get("Subsystem", ""), e.get("Message", "")]
                for e in reversed(shown)]
        doc.section("Node Events", Table(["Time", "Subsystem", "Message"], rows))
    if allocs is not None:
        live = [a for a in allocs if a.get("ClientStatus") in ("pending", "running")
                and a.get("DesiredStatus") == "run"]
        doc.section("Allocated Resources", _allocated(node, live))
    if verbose:
        attributes = node.get("Attributes") or {}
        doc.section("Attributes", KV([(k, str(attributes[k])) for k in sorted(attributes)]))
        meta = node.get("Meta") or {}
        if meta:
            doc.section("Meta", KV([(k, str(meta[k])) for k in sorted(meta)]))
    if allocs is not None:
        doc.section("Allocations", alloc_list(allocs, verbose, now))
    return doc


def _allocated(node: dict[str, Any], allocs: list[dict[str, Any]]) -> Table:
    """``used/total`` CPU (MHz), memory and disk (bytes, humanised) over live allocations."""
    resources = node.get("NodeResources") or {}
    reserved = node.get("ReservedResources") or {}
    total_cpu = ((resources.get("Cpu") or {}).get("CpuShares") or 0) - \
        ((reserved.get("Cpu") or {}).get("CpuShares") or 0)
    total_mem = ((resources.get("Memory") or {}).get("MemoryMB") or 0) - \
        ((reserved.get("Memory") or {}).get("MemoryMB") or 0)
    total_disk = ((resources.get("Disk") or {}).get("DiskMB") or 0) - \
        ((reserved.get("Disk") or {}).get("DiskMB") or 0)
    cpu = mem = disk = 0
    for a in allocs:
        allocated = a.get("AllocatedResources") or {}
        for task in (allocated.get("Tasks") or {}).values():
            cpu += ((task or {}).get("Cpu") or {}).get("CpuShares") or 0
            mem += ((task or {}).get("Memory") or {}).get("MemoryMB") or 0
        disk += (allocated.get("Shared") or {}).get("DiskMB") or 0
    mib = 1024 * 1024
    return Table(["CPU", "Memory", "Disk"],
                 [[f"{cpu}/{total_cpu} MHz", f"{ibytes(mem * mib)}/{ibytes(total_mem * mib)}",
                   f"{ibytes(disk * mib)}/{ibytes(total_disk * mib)}"]])


def _bool(value: Any) -> str:
    return "true" if value else "false"
