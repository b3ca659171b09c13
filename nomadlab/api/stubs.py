"""List stubs: the subset of fields Nomad's list endpoints return (structs.go ``*ListStub``).

Lists return stubs so that a cluster with thousands of allocations can be listed cheaply;
reads of one object return it whole.  The field sets are Nomad's JobListStub,
AllocListStub and NodeListStub.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from ..structs import Allocation, Job, Node

__all__ = ["job_stub", "alloc_stub", "node_stub", "sanitized_node"]

_ALLOC_FIELDS = ("ID", "EvalID", "Name", "Namespace", "NodeID", "NodeName", "JobID",
                 "TaskGroup", "DesiredStatus", "DesiredDescription", "ClientStatus",
                 "ClientDescription", "DesiredTransition", "TaskStates", "DeploymentStatus",
                 "FollowupEvalID", "NextAllocation", "RescheduleTracker",
                 "PreemptedAllocations", "PreemptedByAllocation", "CreateIndex",
                 "ModifyIndex", "CreateTime", "ModifyTime")

_NODE_FIELDS = ("Address", "ID", "Datacenter", "Name", "NodeClass", "NodePool", "Version",
                "Drain", "SchedulingEligibility", "Status", "StatusDescription", "Drivers",
                "HostVolumes", "LastDrain", "CreateIndex", "ModifyIndex")


def sanitized_node(node: Node) -> dict[str, Any]:
    """A node as the API shows it: never its SecretID (Nomad's Node.Sanitize)."""
    full = node.to_api()
    full["SecretID"] = ""
    return full


def job_stub(job: Job, summary: Optional[Any]) -> dict[str, Any]:
    """Nomad's JobListStub."""
    return {
        "ID": job.id, "ParentID": job.parent_id, "Name": job.name or job.id,
        "Namespace": job.namespace or "default", "Datacenters": list(job.datacenters),
        "NodePool": getattr(job, "node_pool", None) or "default",
        "Multiregion": None, "Type": job.type, "Priority": job.priority,
        "Periodic": job.periodic is not None, "ParameterizedJob": job.parameterized_job is not None,
        "Stop": bool(job.stop), "Status": job.status,
        "StatusDescription": job.status_description,
        "JobSummary": summary.to_api() if summary is not None else None,
        "CreateIndex": job.create_index, "ModifyIndex": job.modify_index,
        "JobModifyIndex": job.job_modify_index, "SubmitTime": job.submit_time,
        "Meta": dict(job.meta or {}) or None,
    }


def alloc_stub(alloc: Allocation, resources: bool = False) -> dict[str, Any]:
    """Nomad's AllocListStub (``resources=true`` adds AllocatedResources)."""
    # Encode only what the stub shows: the embedded job and the metrics are most of an
    # allocation's JSON, and a list of 1,000 stubs would otherwise encode 1,000 jobs.
    light = dataclasses.replace(alloc, job=None, metrics=None, resources=None,
                                task_resources={}, allocated_resources=alloc.allocated_resources
                                if resources else None)
    full = light.to_api()
    stub = {k: full.get(k) for k in _ALLOC_FIELDS}
    job = alloc.job
    stub["JobType"] = job.type if job is not None else ""
    stub["JobVersion"] = job.version if job is not None else 0
    if resources:
        stub["AllocatedResources"] = full.get("AllocatedResources")
    return stub


def node_stub(node: Node, resources: bool = False, os: bool = False) -> dict[str, Any]:
    """Nomad's NodeListStub (``resources=true`` adds the resources, ``os=true`` the OS)."""
    full = node.to_api()
    stub = {k: full.get(k) for k in _NODE_FIELDS}
    attributes = full.get("Attributes") or {}
    stub["Address"] = attributes.get("unique.network.ip-address", "")
    stub["Version"] = attributes.get("nomad.version", "")
    stub["Attributes"] = None
    if os:
        stub["Attributes"] = {k: attributes[k] for k in ("os.name", "os.version")
                              if k in attributes}
    if resources:
        stub["NodeResources"] = full.get("NodeResources")
        stub["ReservedResources"] = full.get("ReservedResources")
    return stub
