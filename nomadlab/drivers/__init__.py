"""Task drivers: the :class:`Driver` seam and the exec, raw_exec, docker and mock drivers."""

from __future__ import annotations

from .base import (Driver, DriverError, ExitResult, Fingerprint, Resources, TaskConfig,
                   TaskHandle, TaskStats)
from .exec import ExecDriver
from .mock import MockDriver
from .raw_exec import RawExecDriver

__all__ = ["Driver", "DriverError", "TaskConfig", "TaskHandle", "ExitResult", "Fingerprint",
           "TaskStats", "Resources", "ExecDriver", "RawExecDriver", "MockDriver",
           "builtin_drivers"]


def builtin_drivers(raw_exec_enabled: bool = False, docker: bool = True,
                    mock: bool = False, *, agent_id: str = "",
                    docker_volumes: bool = False) -> dict[str, Driver]:
    """One instance of each built-in driver, by the name a job spec uses.

    raw_exec is present but disabled unless ``raw_exec_enabled``, as in Nomad; mock only
    with ``mock=True``; docker is
    included when ``docker`` is true and its module imports (the ``docker`` SDK is
    installed); whether an engine answers is for its fingerprint to say.  ``agent_id``
    names what the drivers start (containers, cgroups) apart from other agents' on the
    host; ``docker_volumes`` allows host paths in docker ``volumes`` (off, as in Nomad).
    """
    drivers: dict[str, Driver] = {"exec": ExecDriver(agent_id=agent_id),
                                  "raw_exec": RawExecDriver(enabled=raw_exec_enabled,
                                                            agent_id=agent_id)}
    if mock:  # only where asked: the mock driver never stands in for a real one
        drivers["mock"] = MockDriver()
    if docker:
        try:
            from .docker import DockerDriver
        except ImportError:
            pass
        else:
            drivers["docker"] = DockerDriver(agent_id=agent_id, volumes_enabled=docker_volumes)
    return drivers
