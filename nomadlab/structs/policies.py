"""How a group restarts, reschedules, updates, migrates, repeats and is dispatched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct

__all__ = ["RestartPolicy", "ReschedulePolicy", "UpdateStrategy", "MigrateStrategy",
           "PeriodicConfig", "ParameterizedJobConfig", "DisconnectStrategy"]

# Durations are integer nanoseconds, as in Nomad's JSON (see nomadlab.structs.duration).


@dataclass
class RestartPolicy(APIStruct):
    """Local restarts on the client: ``attempts`` within ``interval``, then ``mode``."""

    attempts: Optional[int] = None
    interval: Optional[int] = None
    delay: Optional[int] = None
    mode: Optional[str] = None
    render_templates: Optional[bool] = None


@dataclass
class ReschedulePolicy(APIStruct):
    """Server-side replacement of failed allocations on another node."""

    attempts: Optional[int] = None
    interval: Optional[int] = None
    delay: Optional[int] = None
    delay_function: Optional[str] = None
    max_delay: Optional[int] = None
    unlimited: Optional[bool] = None


@dataclass
class UpdateStrategy(APIStruct):
    """Rolling updates and canaries for service (and system) jobs."""

    stagger: Optional[int] = None
    max_parallel: Optional[int] = None
    health_check: Optional[str] = None
    min_healthy_time: Optional[int] = None
    healthy_deadline: Optional[int] = None
    progress_deadline: Optional[int] = None
    canary: Optional[int] = None
    auto_revert: Optional[bool] = None
    auto_promote: Optional[bool] = None


@dataclass
class MigrateStrategy(APIStruct):
    """How allocations leave a draining node."""

    max_parallel: Optional[int] = None
    health_check: Optional[str] = None
    min_healthy_time: Optional[int] = None
    healthy_deadline: Optional[int] = None


@dataclass
class DisconnectStrategy(APIStruct):
    """What happens to allocations on a client that stops heartbeating (Nomad 1.8+)."""

    lost_after: Optional[int] = None
    stop_on_client_after: Optional[int] = None
    replace: Optional[bool] = None
    reconcile: Optional[str] = None


@dataclass
class PeriodicConfig(APIStruct):
    """A cron schedule that launches child jobs."""

    enabled: Optional[bool] = None
    spec: str = ""
    specs: list[str] = field(default_factory=list)
    spec_type: Optional[str] = None
    prohibit_overlap: Optional[bool] = None
    time_zone: Optional[str] = None


@dataclass
class ParameterizedJobConfig(APIStruct):
    """A job that runs only when dispatched, with a payload and meta."""

    payload: Optional[str] = None
    meta_required: list[str] = field(default_factory=list)
    meta_optional: list[str] = field(default_factory=list)
