"""What a task asks for: CPU, memory, disk, networks and ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct, api_field

__all__ = ["DEFAULT_CPU", "DEFAULT_MEMORY_MB", "DEFAULT_DISK_MB", "Resources", "NetworkResource", "Port", "DNSConfig", "EphemeralDisk",
           "RequestedDevice", "VolumeRequest", "VolumeMount"]

#: Nomad's defaults for a task's resources and a group's ephemeral disk: the job spec fills
#: them in, and the scheduler assumes them for a struct that came without (one place).
DEFAULT_CPU = 100
DEFAULT_MEMORY_MB = 300
DEFAULT_DISK_MB = 300


@dataclass
class Port(APIStruct):
    """A port label: static (``value``) or dynamic, optionally mapped ``to`` inside."""

    label: str = ""
    value: int = 0
    to: int = 0
    host_network: str = ""


@dataclass
class DNSConfig(APIStruct):
    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass
class NetworkResource(APIStruct):
    """A group's network: mode, and the static (reserved) and dynamic ports it needs."""

    mode: str = ""
    device: str = ""
    cidr: str = ""
    ip: str = ""
    hostname: str = ""
    mbits: int = api_field("MBits", default=0)
    dns: Optional[DNSConfig] = None
    reserved_ports: list[Port] = field(default_factory=list)
    dynamic_ports: list[Port] = field(default_factory=list)

    def ports(self) -> list[Port]:
        """All ports, static first, in the order the job spec named them within each kind."""
        return [*self.reserved_ports, *self.dynamic_ports]


@dataclass
class RequestedDevice(APIStruct):
    name: str = ""
    count: Optional[int] = None


@dataclass
class Resources(APIStruct):
    """A task's resource ask; CPU in MHz, memory in MB (``memory_max_mb`` for oversubscription)."""

    cpu: Optional[int] = api_field("CPU", default=None)
    cores: Optional[int] = None
    memory_mb: Optional[int] = None
    memory_max_mb: Optional[int] = None
    disk_mb: Optional[int] = None
    iops: Optional[int] = None
    networks: list[NetworkResource] = field(default_factory=list)
    devices: list[RequestedDevice] = field(default_factory=list)


@dataclass
class EphemeralDisk(APIStruct):
    """The group's scratch disk (the alloc dir), in MB."""

    sticky: Optional[bool] = None
    migrate: Optional[bool] = None
    size_mb: Optional[int] = None


@dataclass
class VolumeRequest(APIStruct):
    """A group's claim on a host (or CSI) volume, checked by the scheduler."""

    name: str = ""
    type: str = ""
    source: str = ""
    read_only: bool = False
    access_mode: str = ""
    attachment_mode: str = ""
    per_alloc: bool = False


@dataclass
class VolumeMount(APIStruct):
    """Where a task mounts one of its group's volumes."""

    volume: str = ""
    destination: str = ""
    read_only: Optional[bool] = None
    propagation_mode: Optional[str] = None
