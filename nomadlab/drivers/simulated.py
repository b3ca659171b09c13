"""The driver of simulated nodes: advertises a real driver, runs tasks as the mock driver.

Simulated nodes let a lab build a cluster of any shape (fifty nodes, two datacenters)
without running fifty real workloads.  Every task they run is a mock task, and the node
and the driver say so (``nomadlab.simulated``, ``driver.<name>.simulated``).  A task's
own mock settings (``run_for``, ``exit_code``, ...) are honoured; without them a service
task runs until it is stopped and a batch task completes at once.  A simulated task
survives its agent's restart: :meth:`SimulatedDriver.recover` resumes it.
"""

from __future__ import annotations

import dataclasses

from .base import Fingerprint, TaskConfig, TaskHandle
from .mock import MockDriver

__all__ = ["SimulatedDriver", "MOCK_KEYS"]

MOCK_KEYS = ("run_for", "exit_code", "exit_signal", "exit_err_msg", "start_error",
             "start_error_recoverable", "start_block_for", "kill_after", "stdout_string",
             "stdout_repeat", "stdout_repeat_duration")


class SimulatedDriver(MockDriver):
    def __init__(self, advertised: str) -> None:
        super().__init__()
        self.name = advertised
        self.advertised = advertised

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(True, True, "simulated: tasks run with the mock driver",
                           {f"driver.{self.advertised}": "1",
                            f"driver.{self.advertised}.simulated": "true"})

    def start(self, task: TaskConfig) -> TaskHandle:
        config = {k: v for k, v in task.config.items() if k in MOCK_KEYS}
        if "run_for" not in config:
            batch = task.labels.get("nomadlab.job_type") in ("batch", "sysbatch")
            config["run_for"] = "0s" if batch else "87600h"
        return super().start(dataclasses.replace(task, config=config))

    def recover(self, handle: TaskHandle) -> bool:
        """Resume a simulated task after an agent restart: no process died with the agent,
        so the simulation carries on (its ``run_for`` counted again from now)."""
        if super().recover(handle):
            return True
        handle.state.update(self.start(handle.config).state)
        return True
