"""List stubs: the subset of fields Nomad's list endpoints return (structs.go ``*ListStub``).

Lists return stubs so that a cluster with thousands of allocations can be listed cheaply;
reads of one object return it whole.  The field sets are Nomad's JobListStub,
AllocListStub and NodeListStub.

Allocation lists are sent from stubs encoded once per version of each allocation
(:func:`alloc_stubs_json`): a list is answered again after every commit, and most
commits change a few allocations, or none.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Iterable, Optional

from ..structs import Allocation, Job, Node
from .http import EncodedJSON, encode_json

__all__ = ["job_stub", "alloc_stub", "alloc_stubs_json", "node_stub", "sanitized_node"]

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


def alloc_stubs_json(snapshot: Any, allocs: Iterable[Allocation], resources: bool = False,
                     task_states: bool = True) -> EncodedJSON:
    """The JSON array of these allocations' stubs (``task_states=False``: TaskStates null),
    each stub encoded only the first time its allocation is listed."""
    return _ALLOC_STUBS.array(snapshot, allocs, resources, task_states)


class _EncodedStubs:
    """Encoded allocation stubs, each kept with the allocation object it was built from.

    Why: building and encoding 1,000 stubs takes ~170 ms, during which the thread holds
    the GIL (json's C encoder never lets go of it for the whole list).  With the list
    built afresh after every commit, 20 clients polling it kept the agent rebuilding it,
    and a register or a blocking query's wake-up waited seconds behind that.

    Why this is exact: the state store never changes a stored object in place (a write
    stores a new object), so a stub built from one allocation object is that object's
    stub for good.  An entry is used only for the very object it was built from
    (``is``); it holds that object, so the object's identity cannot be reused.  Entries
    of allocations that are no longer current are dropped whenever the cache has grown
    to twice what it held after the last such pruning.
    """

    def __init__(self, floor: int = 1024) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, bool, bool], tuple[Allocation, bytes]] = {}
        self._floor = floor
        self._prune_at = floor

    def __len__(self) -> int:
        return len(self._entries)

    def array(self, snapshot: Any, allocs: Iterable[Allocation], resources: bool,
              task_states: bool) -> EncodedJSON:
        entries = self._entries
        encoded: list[bytes] = []
        fresh: list[tuple[tuple[str, bool, bool], tuple[Allocation, bytes]]] = []
        for alloc in allocs:
            key = (alloc.id, resources, task_states)
            entry = entries.get(key)
            if entry is None or entry[0] is not alloc:
                stub = alloc_stub(alloc, resources)
                if not task_states:
                    stub["TaskStates"] = None
                entry = (alloc, encode_json(stub))
                fresh.append((key, entry))
            encoded.append(entry[1])
        if fresh:
            with self._lock:
                self._entries.update(fresh)
                if len(self._entries) >= self._prune_at:
                    self._prune(snapshot)
        return EncodedJSON.array(encoded)

    def _prune(self, snapshot: Any) -> None:
        """Keep the entries of allocations current in ``snapshot`` (the caller holds the
        lock; readers keep using the dict they already have)."""
        self._entries = {key: entry for key, entry in self._entries.items()
                         if snapshot.alloc(key[0]) is entry[0]}
        self._prune_at = max(self._floor, 2 * len(self._entries))


_ALLOC_STUBS = _EncodedStubs()


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
