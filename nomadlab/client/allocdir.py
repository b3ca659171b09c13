"""An allocation's directory, laid out as Nomad's client lays it out.

``<data dir>/alloc/<alloc id>/`` holds ``alloc/`` (shared by the group: ``logs/``,
``data/``, ``tmp/``) and one directory per task with ``local/``, ``secrets/`` and ``tmp/``.
As in Nomad, the group's ``alloc/`` with its ``data/`` and ``tmp/`` is writable by every
task of the group whatever its user (0777, tmp sticky); the logs are the client's; what
belongs to one task is chowned to that task's user by the driver that knows it (exec).
Task output goes to ``alloc/logs/<task>.stdout.0`` and ``<task>.stderr.0``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

__all__ = ["AllocDir"]


@dataclass
class AllocDir:
    root: str  # <data dir>/alloc/<alloc id>

    @property
    def shared(self) -> str:
        return os.path.join(self.root, "alloc")

    @property
    def logs(self) -> str:
        return os.path.join(self.shared, "logs")

    def task_dir(self, task: str) -> str:
        return os.path.join(self.root, task)

    def local(self, task: str) -> str:
        return os.path.join(self.task_dir(task), "local")

    def secrets(self, task: str) -> str:
        return os.path.join(self.task_dir(task), "secrets")

    def log_path(self, task: str, stream: str = "stdout", index: int = 0) -> str:
        return os.path.join(self.logs, f"{task}.{stream}.{index}")

    def handle_path(self, task: str) -> str:
        """Where the client keeps what finding ``task`` again after a restart needs."""
        return os.path.join(self.root, ".state", f"{task}.json")

    def build(self, tasks: list[str]) -> None:
        """Create the directories (Nomad's "Building Task Directory")."""
        for sub, mode in (("logs", 0o755), ("data", 0o777), ("tmp", 0o1777)):
            os.makedirs(os.path.join(self.shared, sub), exist_ok=True)
            os.chmod(os.path.join(self.shared, sub), mode)
        os.chmod(self.shared, 0o777)
        os.makedirs(os.path.join(self.root, ".state"), exist_ok=True)
        for task in tasks:
            for sub in ("local", "secrets", "tmp"):
                os.makedirs(os.path.join(self.task_dir(task), sub), exist_ok=True)
            os.chmod(self.secrets(task), 0o700)
            for stream in ("stdout", "stderr"):
                open(self.log_path(task, stream), "a").close()

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
