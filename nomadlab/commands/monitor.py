"""``job run``'s monitor: follow an evaluation (and the deployment it starts) and print
each change the way ``nomad job run`` does (command/monitor.go).

Against the in-process agent in step mode nothing happens on its own, so the monitor
asks the agent to finish pending work before each look instead of waiting forever.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from ..format.evaluation import failed_placement_lines
from ..format.deployment import deployment_status, has_auto_revert
from ..format.units import limit
from ..structs import Deployment, Evaluation
from ..structs.duration import format_duration
from .base import IO
from .cluster import deployment, eval_allocations, is_in_process, latest_deployment, settle

__all__ = ["monitor", "monitor_deployment", "timestamp", "TERMINAL_DEPLOYMENT"]

TERMINAL_EVAL = ("complete", "failed", "canceled", "cancelled")
TERMINAL_DEPLOYMENT = ("successful", "failed", "cancelled", "blocked")
#: How long a monitor waits for the rollback of a failed auto-reverting deployment.
ROLLBACK_WAIT = 5.0


def timestamp() -> str:
    """Nomad's ``formatTime(time.Now())``: RFC 3339, local zone, whole seconds."""
    now = datetime.datetime.now().astimezone().replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


@dataclass
class _AllocSeen:
    client: str
    create_index: int


@dataclass
class _EvalState:
    status: str = "pending"
    node: str = ""
    job: str = ""
    deployment: str = ""
    index: int = 0
    allocs: dict[str, _AllocSeen] = field(default_factory=dict)


class _Monitor:
    def __init__(self, cluster: Any, io: IO, length: Optional[int], poll: float) -> None:
        self.cluster = cluster
        self.io = io
        self.length = length
        self.poll = poll

    def info(self, text: str) -> None:
        self.io.print(f"==> {timestamp()}: {text}")

    def output(self, text: str) -> None:
        self.io.print(f"    {timestamp()}: {text}")

    def detail(self, text: str) -> None:
        self.io.print(f"    {text}" if text else "")

    def update(self, old: _EvalState, new: _EvalState, allocs: list[Any]) -> None:
        if not old.node and new.node:
            self.output(f'Evaluation triggered by node "{limit(new.node, self.length)}"')
        if not old.job and new.job:
            self.output(f'Evaluation triggered by job "{new.job}"')
        if not old.deployment and new.deployment:
            self.output(f'Evaluation within deployment: "{limit(new.deployment, self.length)}"')
        for a in sorted(allocs, key=lambda a: (a.create_index, a.name)):
            seen = old.allocs.get(a.id)
            if seen is None:
                if a.create_index < new.index:
                    self.output(f'Allocation "{limit(a.id, self.length)}" modified: node '
                                f'"{limit(a.node_id, self.length)}", group "{a.task_group}"')
                elif a.desired_status == "run":
                    self.output(f'Allocation "{limit(a.id, self.length)}" created: node '
                                f'"{limit(a.node_id, self.length)}", group "{a.task_group}"')
            elif seen.client != a.client_status:
                why = f" ({a.client_description})" if a.client_description else ""
                self.output(f'Allocation "{limit(a.id, self.length)}" status changed: '
                            f'"{seen.client}" -> "{a.client_status}"{why}')
        if old.status and new.status != "pending" and old.status != new.status:
            self.output(f'Evaluation status changed: "{old.status}" -> "{new.status}"')

    def evaluation(self, eval_id: str) -> tuple[int, Optional[Evaluation]]:
        """Follow one evaluation (and its NextEval chain); (exit code, last evaluation)."""
        state = _EvalState()
        self.info(f'Monitoring evaluation "{limit(eval_id, self.length)}"')
        while True:
            settle(self.cluster)
            ev = self.cluster.eval(eval_id)
            allocs = eval_allocations(self.cluster, ev)
            new = _EvalState(ev.status, ev.node_id, ev.job_id, ev.deployment_id, ev.create_index,
                             {a.id: _AllocSeen(a.client_status, a.create_index) for a in allocs})
            self.update(state, new, allocs)
            state = new
            if ev.status not in TERMINAL_EVAL:
                time.sleep(self.poll)
                continue
            code = 0
            if not ev.failed_tg_allocs:
                self.info(f'Evaluation "{limit(ev.id, self.length)}" finished with status '
                          f'"{ev.status}"')
            else:
                code = 2
                self.info(f'Evaluation "{limit(ev.id, self.length)}" finished with status '
                          f'"{ev.status}" but failed to place all allocations:')
                self._failures(ev)
            if ev.next_eval:
                if ev.wait:
                    self.info(f'Monitoring next evaluation "{limit(ev.next_eval, self.length)}" '
                              f"in {format_duration(ev.wait)}")
                    time.sleep(ev.wait / 1e9)
                next_code, last = self.evaluation(ev.next_eval)
                return max(code, next_code), last
            return code, ev

    def _failures(self, ev: Evaluation) -> None:
        lines = failed_placement_lines(ev.to_api(), self.length)
        for line in lines:
            text = line.content
            if text.startswith("Task Group") or text.startswith("Evaluation "):
                self.output(text)
            elif text:
                self.detail(text)

    def deployment(self, d: Deployment, timeout: Optional[float]) -> int:
        """Wait for the deployment to finish and print its final state, then follow the
        rollback an auto-reverting job starts; 1 unless it was successful."""
        self.info(f'Monitoring deployment "{limit(d.id, self.length)}"')
        deadline = time.monotonic() + timeout if timeout is not None else None
        status = self.follow(d, deadline)
        return 0 if status in (None, "successful") else 1

    def follow(self, d: Deployment, deadline: Optional[float]) -> Optional[str]:
        """One deployment until it is terminal; its final status (None: the monitor
        stopped watching a deployment still in progress)."""
        while True:
            settle(self.cluster)
            current = deployment(self.cluster, d.id) or d
            if current.status in TERMINAL_DEPLOYMENT:
                break
            if deadline is not None and time.monotonic() > deadline:
                self.detail(f'Deployment "{limit(d.id, self.length)}" is still '
                            f'"{current.status}" ({current.status_description}); stopped '
                            "watching (nomadlab deployment status shows its progress)")
                self._deployment_block(current)
                return None
            if getattr(self.cluster, "mode", None) == "step" and current == d:
                self.detail(f'Deployment "{limit(d.id, self.length)}" is "{current.status}" '
                            "and the agent is idle: step the agent to move it along")
                self._deployment_block(current)
                return None
            d = current
            time.sleep(self.poll)
        mark = "✓" if current.status == "successful" else "!"
        self.io.print(f'  {mark} Deployment "{limit(current.id, self.length)}" {current.status}')
        self.io.print("")
        self._deployment_block(current)
        if current.status == "failed" and has_auto_revert(current.to_api()):
            rollback = self._rollback(current, deadline)
            if rollback is not None:
                self.io.print("")
                self.follow(rollback, deadline)
        return current.status

    def _rollback(self, failed: Deployment, deadline: Optional[float]) -> Optional[Deployment]:
        """The deployment of the version an auto-revert registered, once it exists (as
        Nomad's monitor, it waits a moment for the revert and gives up quietly)."""
        give_up = time.monotonic() + ROLLBACK_WAIT
        if deadline is not None:
            give_up = min(give_up, deadline)
        while True:
            settle(self.cluster)
            latest = self.cluster.latest_deployment(failed.job_id, failed.namespace)
            if latest is not None and latest.id != failed.id:
                return latest
            if time.monotonic() > give_up:
                return None
            time.sleep(self.poll)

    def _deployment_block(self, d: Deployment) -> None:
        allocs = None
        if self.length is None:  # -verbose: the deployment's allocations too
            allocs = [a.to_api() for a in self.cluster.deployment_allocations(d.id)]
            allocs.sort(key=lambda a: (-a.get("CreateIndex", 0), a.get("Name", "")))
        self.detail(timestamp())
        for line in deployment_status(d.to_api(), self.length, allocs).text().split("\n"):
            self.detail(line)


def monitor(cluster: Any, io: IO, eval_id: str, verbose: bool = False,
            poll: Optional[float] = None, deployment_timeout: Optional[float] = 600.0) -> int:
    """Follow ``eval_id`` like ``nomad job run``: 0 when everything was placed (and the
    deployment, if one was started, succeeded), 2 on placement failures, 1 on errors."""
    length = None if verbose else 8
    m = _Monitor(cluster, io, length, poll if poll is not None else
                 (0.05 if is_in_process(cluster) else 0.5))
    code, ev = m.evaluation(eval_id)
    if ev is None or code == 2:
        return code
    d = _deployment_for(cluster, ev)
    if d is None:
        return code
    return max(code, m.deployment(d, deployment_timeout))


def monitor_deployment(cluster: Any, io: IO, d: Deployment, verbose: bool = False,
                       poll: Optional[float] = None, timeout: Optional[float] = None) -> int:
    """``nomad deployment status -monitor``: follow one deployment (and the rollback an
    auto-revert starts) until it finishes; 0 when it succeeded."""
    m = _Monitor(cluster, io, None if verbose else 8, poll if poll is not None else
                 (0.05 if is_in_process(cluster) else 0.5))
    deadline = time.monotonic() + timeout if timeout is not None else None
    return 0 if m.follow(d, deadline) in (None, "successful") else 1


def _deployment_for(cluster: Any, ev: Evaluation) -> Optional[Deployment]:
    """The evaluation's deployment, or the one started for the job version a registration
    scheduled (a stop starts none)."""
    if ev.deployment_id:
        return deployment(cluster, ev.deployment_id)
    if ev.triggered_by != "job-register":
        return None
    try:
        job = cluster.job(ev.job_id, ev.namespace)
    except (KeyError, LookupError):
        return None
    d = latest_deployment(cluster, job)
    if d is not None and d.job_version == job.version:
        return d
    return None
