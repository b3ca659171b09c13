"""Node, job and allocation fixtures for the scheduler tests, with Nomad's attribute names."""

from __future__ import annotations

import uuid
from typing import Iterable, Optional

from nomadlab.structs import (AllocatedCpuResources, AllocatedMemoryResources,
                              AllocatedResources, AllocatedSharedResources,
                              AllocatedTaskResources, Allocation, DriverInfo, Job,
                              NetworkResource, Node, NodeCpuResources, NodeDiskResources,
                              NodeMemoryResources, NodeResources, PortMapping, Resources, Task,
                              TaskGroup)

_NS = uuid.UUID("6c1e9a52-7a0e-4c5e-9d55-0b7c2f0f6a11")


def node_id(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


def make_node(name: str, cpu: int = 4000, memory: int = 8192, disk: int = 102400,
              dc: str = "dc1", node_class: str = "", pool: str = "default",
              attrs: Optional[dict[str, str]] = None, meta: Optional[dict[str, str]] = None,
              drivers: Iterable[str] = ("exec",), status: str = "ready",
              networks: Optional[list[NetworkResource]] = None) -> Node:
    drivers = tuple(drivers)
    attributes = {
        "kernel.name": "linux", "os.name": "ubuntu", "cpu.arch": "amd64",
        "cpu.numcores": "4", "nomad.version": "1.9.3", "unique.hostname": name,
        "unique.network.ip-address": "127.0.0.1",
        **{f"driver.{d}": "1" for d in drivers},
    }
    attributes.update(attrs or {})
    return Node(
        id=node_id(name), name=name, datacenter=dc, node_class=node_class, node_pool=pool,
        attributes=attributes, meta=dict(meta or {}),
        drivers={d: DriverInfo(detected=True, healthy=True) for d in drivers},
        node_resources=NodeResources(
            cpu=NodeCpuResources(cpu_shares=cpu), memory=NodeMemoryResources(memory_mb=memory),
            disk=NodeDiskResources(disk_mb=disk),
            networks=[NetworkResource(mode="host", device="lo", ip="127.0.0.1")]
            if networks is None else networks),
        status=status)


def make_group(name: str = "web", count: int = 1, cpu: int = 500, memory: int = 256,
               disk: int = 300, driver: str = "exec", **kwargs) -> TaskGroup:
    from nomadlab.structs import EphemeralDisk
    task = Task(name="server", driver=driver, resources=Resources(cpu=cpu, memory_mb=memory))
    return TaskGroup(name=name, count=count, tasks=[task],
                     ephemeral_disk=EphemeralDisk(size_mb=disk), **kwargs)


def make_job(job_id: str = "example", groups: Optional[list[TaskGroup]] = None, **kwargs) -> Job:
    return Job(id=job_id, name=job_id, namespace="default", type="service",
               datacenters=["dc1"], task_groups=groups or [make_group()], **kwargs)


def make_alloc(node: Node, job_id: str = "example", group: str = "web", index: int = 0,
               cpu: int = 500, memory: int = 256, disk: int = 300,
               ports: Iterable[tuple[str, int]] = (), alloc_id: Optional[str] = None,
               desired: str = "run", client: str = "running") -> Allocation:
    return Allocation(
        id=alloc_id or str(uuid.uuid5(_NS, f"{node.name}/{job_id}/{group}/{index}")),
        namespace="default", name=f"{job_id}.{group}[{index}]", node_id=node.id,
        node_name=node.name, job_id=job_id, task_group=group, desired_status=desired,
        client_status=client,
        allocated_resources=AllocatedResources(
            tasks={"server": AllocatedTaskResources(
                cpu=AllocatedCpuResources(cpu_shares=cpu),
                memory=AllocatedMemoryResources(memory_mb=memory))},
            shared=AllocatedSharedResources(
                disk_mb=disk,
                ports=[PortMapping(label=label, value=value, host_ip="127.0.0.1")
                       for label, value in ports])))
