"""Child jobs: what ``nomad job dispatch`` and a periodic launch register.

A parameterized job never runs itself; each dispatch registers a child job
``<parent>/dispatch-<unix>-<short id>`` carrying the payload and meta.  A periodic job
launches ``<parent>/periodic-<unix>`` children on its cron schedule (or when forced).  The
rules and messages are Nomad's (nomad/job_endpoint.go ``validateDispatchRequest``,
nomad/periodic.go ``derivedJob``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Optional

from ..errors import Invalid
from ..structs import Job

__all__ = ["DISPATCH_PAYLOAD_SIZE_LIMIT", "dispatched_job", "periodic_child"]

#: Nomad refuses dispatch payloads larger than 16 KiB.
DISPATCH_PAYLOAD_SIZE_LIMIT = 16 * 1024
DISPATCH_SUFFIX = "/dispatch-"
PERIODIC_SUFFIX = "/periodic-"


def _payload_bytes(payload: Optional[str]) -> bytes:
    """The API carries the payload base64-encoded (Go's []byte in JSON)."""
    if not payload:
        return b""
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(f"Payload is not valid base64: {exc}") from None


def validate_dispatch(job: Job, payload: Optional[str], meta: dict[str, str]) -> None:
    """Raise ValueError with Nomad's message when a dispatch request breaks the job's rules."""
    if job.parameterized_job is None or job.dispatched:
        raise Invalid(f'Specified job "{job.id}" is not a parameterized job')
    if job.stop:
        raise Invalid(f'Specified job "{job.id}" is stopped')
    rules = job.parameterized_job
    data = _payload_bytes(payload)
    mode = rules.payload or "optional"
    if mode == "required" and not data:
        raise Invalid("Payload is not provided but required by parameterized job")
    if mode == "forbidden" and data:
        raise Invalid("Payload provided but forbidden by parameterized job")
    if len(data) > DISPATCH_PAYLOAD_SIZE_LIMIT:
        raise Invalid(f"Payload exceeds maximum size; {len(data)} > "
                         f"{DISPATCH_PAYLOAD_SIZE_LIMIT}")
    allowed = set(rules.meta_required) | set(rules.meta_optional)
    unpermitted = sorted(k for k in meta if k not in allowed)
    if unpermitted:
        raise Invalid("Dispatch request included unpermitted metadata keys: "
                         f"[{' '.join(unpermitted)}]")
    missing = sorted(k for k in rules.meta_required if k not in meta)
    if missing:
        raise Invalid(f"Dispatch did not provide required meta keys: [{' '.join(missing)}]")


def dispatched_job(parent: Job, payload: Optional[str], meta: dict[str, str], now_ns: int,
                   short_id: str) -> Job:
    """The child job one dispatch registers: the parent's spec, its meta merged in."""
    validate_dispatch(parent, payload, meta)
    child_id = f"{parent.id}{DISPATCH_SUFFIX}{now_ns // 1_000_000_000}-{short_id}"
    return dataclasses.replace(
        parent, id=child_id, name=child_id, parent_id=parent.id, dispatched=True,
        payload=payload or None, meta={**(parent.meta or {}), **meta},
        version=0, create_index=0, modify_index=0, job_modify_index=0, status="",
        status_description="", stable=False, submit_time=now_ns)


def periodic_child(parent: Job, launch_ns: int) -> Job:
    """The child a periodic launch registers; it has no schedule of its own."""
    child_id = f"{parent.id}{PERIODIC_SUFFIX}{launch_ns // 1_000_000_000}"
    return dataclasses.replace(
        parent, id=child_id, name=child_id, parent_id=parent.id, periodic=None,
        version=0, create_index=0, modify_index=0, job_modify_index=0, status="",
        status_description="", stable=False, submit_time=launch_ns)
