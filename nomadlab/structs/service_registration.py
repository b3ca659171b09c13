"""Nomad's native service discovery: a registered service instance and a check's result.

A :class:`ServiceRegistration` is what a client writes to the server when a task (or a
group) with a ``service { provider = "nomad" }`` block runs: one per service per
allocation, removed when the allocation stops.  A :class:`CheckQueryResult` is the latest
outcome of one of its checks, kept on the client that ran it (Nomad's check store) and
read through ``/v1/client/allocation/:id/checks``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ._base import APIStruct

__all__ = ["ServiceRegistration", "CheckQueryResult", "CHECK_STATUSES", "CHECK_MODES",
           "service_id", "check_id"]

#: Nomad's CheckStatus values: a check that has not run yet is pending.
CHECK_STATUSES = ("success", "failure", "pending")
#: Healthiness checks decide deployment health; readiness checks (``on_update =
#: "ignore"``) are run and shown but never fail an allocation.
CHECK_MODES = ("healthiness", "readiness")

#: The prefix of a Nomad service registration's ID (client/serviceregistration).
_TASK_PREFIX = "_nomad-task-"


def service_id(alloc_id: str, task: str, name: str, port_label: str) -> str:
    """Nomad's MakeAllocServiceID; ``task`` is ``group-<group>`` for a group service."""
    return f"{_TASK_PREFIX}{alloc_id}-{task}-{name}-{port_label}"


def check_id(alloc_id: str, group: str, task: str, service: str, check: str) -> str:
    """A stable ID of one check of one allocation (Nomad hashes the same parts)."""
    digest = hashlib.md5("\x00".join((alloc_id, group, task, service, check)).encode(),
                         usedforsecurity=False)
    return digest.hexdigest()


@dataclass
class ServiceRegistration(APIStruct):
    """One instance of a service: where the allocation's task answers for it."""

    id: str = ""
    service_name: str = ""
    namespace: str = "default"
    node_id: str = ""
    datacenter: str = ""
    job_id: str = ""
    alloc_id: str = ""
    tags: list[str] = field(default_factory=list)
    address: str = ""
    port: int = 0
    create_index: int = 0
    modify_index: int = 0


@dataclass
class CheckQueryResult(APIStruct):
    """The latest result of one check; ``timestamp`` is Unix seconds, as Nomad's."""

    id: str = ""
    mode: str = "healthiness"
    status: str = "pending"
    status_code: int = 0
    output: str = ""
    timestamp: int = 0
    group: str = ""
    task: str = ""
    service: str = ""
    check: str = ""
