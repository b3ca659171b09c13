"""Nodes: the machines (here, in-process clients) that run allocations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct
from .resources import NetworkResource, Resources

__all__ = ["Node", "NodeResources", "NodeCpuResources", "NodeMemoryResources",
           "NodeDiskResources", "NodeReservedResources", "NodeReservedCpuResources",
           "NodeReservedMemoryResources", "NodeReservedDiskResources",
           "NodeReservedNetworkResources", "DriverInfo", "NodeEvent", "DrainStrategy",
           "DrainMetadata", "DRAIN_DRAINING", "DRAIN_COMPLETE", "DRAIN_CANCELED",
           "NODE_STATUSES", "NODE_ELIGIBILITY"]

NODE_STATUSES = ("initializing", "ready", "down", "disconnected")
NODE_ELIGIBILITY = ("eligible", "ineligible")


@dataclass
class NodeCpuResources(APIStruct):
    cpu_shares: int = 0
    total_cpu_cores: int = 0
    reservable_cpu_cores: list[int] = field(default_factory=list)


@dataclass
class NodeMemoryResources(APIStruct):
    memory_mb: int = 0


@dataclass
class NodeDiskResources(APIStruct):
    disk_mb: int = 0


@dataclass
class NodeResources(APIStruct):
    """What the node offers: CPU in MHz (shares), memory and disk in MB, networks, ports."""

    cpu: NodeCpuResources = field(default_factory=NodeCpuResources)
    memory: NodeMemoryResources = field(default_factory=NodeMemoryResources)
    disk: NodeDiskResources = field(default_factory=NodeDiskResources)
    networks: list[NetworkResource] = field(default_factory=list)
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000


@dataclass
class NodeReservedCpuResources(APIStruct):
    cpu_shares: int = 0


@dataclass
class NodeReservedMemoryResources(APIStruct):
    memory_mb: int = 0


@dataclass
class NodeReservedDiskResources(APIStruct):
    disk_mb: int = 0


@dataclass
class NodeReservedNetworkResources(APIStruct):
    reserved_host_ports: str = ""


@dataclass
class NodeReservedResources(APIStruct):
    """What the node keeps back for itself and is never offered to allocations."""

    cpu: NodeReservedCpuResources = field(default_factory=NodeReservedCpuResources)
    memory: NodeReservedMemoryResources = field(default_factory=NodeReservedMemoryResources)
    disk: NodeReservedDiskResources = field(default_factory=NodeReservedDiskResources)
    networks: NodeReservedNetworkResources = field(default_factory=NodeReservedNetworkResources)


@dataclass
class DriverInfo(APIStruct):
    """A driver as fingerprinted on a node: detected, healthy, and its own attributes."""

    attributes: dict[str, str] = field(default_factory=dict)
    detected: bool = False
    healthy: bool = False
    health_description: str = ""
    update_time: Optional[str] = None


@dataclass
class NodeEvent(APIStruct):
    message: str = ""
    subsystem: str = ""
    details: dict[str, str] = field(default_factory=dict)
    timestamp: Optional[str] = None
    create_index: int = 0


@dataclass
class DrainStrategy(APIStruct):
    deadline: int = 0
    ignore_system_jobs: bool = False
    force_deadline: Optional[str] = None
    started_at: Optional[str] = None


#: Nomad's DrainStatus values, as LastDrain.Status carries them.
DRAIN_DRAINING, DRAIN_COMPLETE, DRAIN_CANCELED = "draining", "complete", "canceled"


@dataclass
class DrainMetadata(APIStruct):
    """Nomad's LastDrain: the node's most recent drain, kept after it ended, with the
    operator's ``-m`` message and ``-meta`` pairs (``message``, ``cancel_message``)."""

    started_at: Optional[str] = None
    updated_at: Optional[str] = None
    status: str = ""
    accessor_id: str = ""
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class Node(APIStruct):
    """A client node with its fingerprinted attributes, drivers and resources."""

    id: str = ""
    secret_id: str = ""
    name: str = ""
    datacenter: str = "dc1"
    node_class: str = ""
    node_pool: str = "default"
    computed_class: str = ""
    http_addr: str = ""
    tls_enabled: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    drivers: dict[str, DriverInfo] = field(default_factory=dict)
    node_resources: NodeResources = field(default_factory=NodeResources)
    reserved_resources: NodeReservedResources = field(default_factory=NodeReservedResources)
    resources: Optional[Resources] = None
    reserved: Optional[Resources] = None
    status: str = "initializing"
    status_description: str = ""
    status_updated_at: int = 0
    scheduling_eligibility: str = "eligible"
    drain: bool = False
    drain_strategy: Optional[DrainStrategy] = None
    last_drain: Optional[DrainMetadata] = None
    events: list[NodeEvent] = field(default_factory=list)
    create_index: int = 0
    modify_index: int = 0
