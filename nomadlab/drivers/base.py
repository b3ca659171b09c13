"""The driver seam: one interface for exec, raw_exec, docker and mock.

A task runner (``nomadlab.client``) talks to drivers only through :class:`Driver`, the way
Nomad's client talks to driver plugins: fingerprint the node, start a task from a
:class:`TaskConfig`, wait for it, stop it with a signal and a timeout, destroy what is left,
read its stats, and recover a handle after a client restart.  Errors cross the seam as
:class:`DriverError` (the task runner turns them into "Driver Failure" task events).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

__all__ = ["Driver", "DriverError", "Fingerprint", "TaskConfig", "TaskHandle", "ExitResult",
           "TaskStats", "Resources"]


class DriverError(Exception):
    """The driver could not do what was asked; ``recoverable`` errors may be retried."""

    def __init__(self, message: str, recoverable: bool = False) -> None:
        super().__init__(message)
        self.recoverable = recoverable


@dataclass
class Fingerprint:
    """What a driver tells the node about itself (Nomad's DriverInfo + node attributes).

    ``attributes`` use Nomad's names, e.g. ``driver.docker.version``; ``detected`` False
    means the scheduler filters the node for tasks using this driver ("missing drivers"),
    with ``health_description`` saying why.
    """

    detected: bool
    healthy: bool
    health_description: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Resources:
    """What the task may use: CPU in MHz (shares), memory in MB (max for oversubscription)."""

    cpu: int = 100
    memory_mb: int = 300
    memory_max_mb: int = 0


@dataclass
class TaskConfig:
    """Everything a driver needs to start one task, already interpolated.

    ``config`` is the task's driver config from the job spec (``command``/``args`` for
    exec and raw_exec, ``image``/``args``/``ports`` for docker, ``run_for``/``exit_code``
    for mock).  ``task_dir`` is ``<alloc dir>/<task>``; the task's ``local/`` and
    ``secrets/`` are inside it and ``alloc_dir`` is shared by the group.  Output goes to
    ``stdout_path`` / ``stderr_path`` (the alloc's ``logs/<task>.stdout.0`` files).
    ``ports`` maps a port label to ``(host_ip, host_port, to)`` for drivers that map ports.
    """

    id: str                      # "<alloc id>/<task name>", unique per task run
    alloc_id: str
    task_name: str
    job_id: str
    config: dict[str, Any]
    env: dict[str, str]
    task_dir: str
    alloc_dir: str
    stdout_path: str
    stderr_path: str
    resources: Resources = field(default_factory=Resources)
    user: str = ""
    ports: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    log_max_files: int = 10          # the job's logs { max_files }
    log_max_file_size_mb: int = 10   # the job's logs { max_file_size }
    #: Where a driver reports long steps (an image pull) so they become task events;
    #: not part of a saved handle.
    events: Optional[Callable[[str], None]] = field(default=None, compare=False, repr=False)


@dataclass
class TaskHandle:
    """A running task, as the driver can find it again: ``state`` is JSON-serialisable."""

    driver: str
    config: TaskConfig
    state: dict[str, Any] = field(default_factory=dict)
    started_at: int = 0          # nanoseconds


@dataclass
class ExitResult:
    """How a task ended. ``oom_killed`` says the memory limit killed it."""

    exit_code: int = 0
    signal: int = 0
    oom_killed: bool = False
    err: Optional[str] = None

    @property
    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0 and not self.oom_killed and not self.err


@dataclass
class TaskStats:
    """A point-in-time resource use: RSS memory in bytes and CPU percent of one core."""

    memory_rss_bytes: int = 0
    cpu_percent: float = 0.0
    timestamp: int = 0


class Driver(abc.ABC):
    """A task driver. Implementations must be safe to call from several threads."""

    #: The name a job spec uses in ``driver = "..."``.
    name: str = ""

    @abc.abstractmethod
    def fingerprint(self) -> Fingerprint:
        """Detect the driver on this host now (cheap; called at registration and periodically)."""

    @abc.abstractmethod
    def start(self, task: TaskConfig) -> TaskHandle:
        """Start the task; raise DriverError when it cannot start."""

    @abc.abstractmethod
    def wait(self, handle: TaskHandle, timeout: Optional[float] = None) -> Optional[ExitResult]:
        """Block until the task exits (its result) or ``timeout`` passes (None)."""

    @abc.abstractmethod
    def stop(self, handle: TaskHandle, signal: str = "SIGINT", timeout: float = 5.0) -> None:
        """Send ``signal``, wait up to ``timeout`` seconds, then kill."""

    @abc.abstractmethod
    def destroy(self, handle: TaskHandle) -> None:
        """Free everything the task held (container, cgroup); the task must be stopped."""

    def stats(self, handle: TaskHandle) -> TaskStats:
        """Resource use now; drivers that cannot measure return zeros."""
        return TaskStats()

    def recover(self, handle: TaskHandle) -> bool:
        """Re-attach to a task started by an earlier client (``handle.state``); False if gone."""
        return False
