"""The allocation health tracker as a state machine: task states, checks and deadlines in,
one verdict out (driven here with a clock of the test's own; the timer thread is real)."""

from __future__ import annotations

import threading

import pytest

from nomadlab.client.alloc_health import HealthParams, HealthTracker, health_params
from nomadlab.client.timers import Timers
from nomadlab.jobspec import parse_job
from nomadlab.structs import Allocation, AllocDeploymentStatus, TaskState
from nomadlab.structs.duration import SECOND

GROUP = parse_job('''job "j" {
  group "g" {
    task "main" {
      driver = "exec"
      config { command = "/bin/sleep" }
    }
    task "init" {
      driver = "exec"
      config { command = "/bin/true" }
      lifecycle { hook = "prestart" }
    }
  }
}''').task_groups[0]


class Harness:
    def __init__(self, use_checks: bool = False, deadline: int = 5) -> None:
        self.now = 0.0
        self.passing = False
        self.timers = Timers("test-timers")
        self.verdicts: list[tuple[bool, dict[str, str]]] = []
        self.reported = threading.Event()
        params = HealthParams(min_healthy_time=1 * SECOND, healthy_deadline=deadline * SECOND,
                              use_checks=use_checks, deploy=True)
        self.tracker = HealthTracker(params, GROUP, self.timers, lambda: self.passing,
                                     self.report, now=lambda: self.now)
        self.tracker.start()

    def report(self, healthy: bool, events: dict[str, str]) -> None:
        self.verdicts.append((healthy, events))
        self.reported.set()

    def tasks(self, at: float, main: str = "running", restarts: int = 0,
              failed: bool = False, init: str = "dead") -> None:
        self.now = at
        states = {"main": TaskState(state=main, failed=failed, restarts=restarts,
                                    started_at=f"start-{restarts}"),
                  "init": TaskState(state=init, started_at="s")}
        self.tracker.tasks_changed(states, "failed" if failed else "running")

    def at(self, now: float) -> None:
        """Time passes and the tracker looks again (what its timer does)."""
        self.now = now
        self.tracker.checks_changed()

    def verdict(self) -> tuple[bool, dict[str, str]]:
        assert self.reported.wait(5), "no verdict reported"
        return self.verdicts[0]


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.timers.stop()


def test_healthy_after_min_healthy_time_of_running_tasks(h) -> None:
    h.tasks(0.0)
    h.at(0.9)
    assert not h.tracker.done
    h.at(1.0)
    assert h.verdict() == (True, {})


def test_a_restart_starts_the_wait_again(h) -> None:
    h.tasks(0.0)
    h.tasks(0.8, main="pending", restarts=1)
    h.tasks(0.9, main="running", restarts=1)
    h.at(1.5)
    assert not h.tracker.done
    h.at(1.9)
    assert h.verdict() == (True, {})


def test_a_failed_task_is_unhealthy_at_once(h) -> None:
    h.tasks(0.5, main="dead", failed=True)
    assert h.verdict() == (False, {"main": "Unhealthy because of failed task"})


def test_tasks_not_running_by_the_deadline(h) -> None:
    h.tasks(0.0, main="pending", init="running")
    h.at(5.0)
    assert h.verdict() == (False, {"main": "Task not running by healthy_deadline of 5s"})


def test_tasks_started_too_late_for_min_healthy_time() -> None:
    h = Harness(deadline=2)
    try:
        h.tasks(1.5)
        h.at(2.0)
        assert h.verdict() == (False, {"main": "Task not running for min_healthy_time of 1s "
                                               "by healthy_deadline of 2s"})
    finally:
        h.timers.stop()


def test_checks_must_pass_for_min_healthy_time_without_a_failure() -> None:
    h = Harness(use_checks=True)
    try:
        h.tasks(0.0)
        h.at(1.5)                      # tasks healthy, checks not passing
        h.passing = True
        h.at(2.0)
        h.passing = False
        h.at(2.5)                      # a failure: the wait starts again
        h.passing = True
        h.at(2.8)
        h.at(3.7)
        assert not h.tracker.done
        h.at(3.8)
        assert h.verdict() == (True, {})
    finally:
        h.timers.stop()


def test_checks_failing_at_the_deadline_are_named() -> None:
    h = Harness(use_checks=True)
    try:
        h.tasks(0.0)
        h.at(5.0)
        assert h.verdict() == (False, {"main": "Services not healthy by deadline"})
    finally:
        h.timers.stop()


def test_the_timer_thread_wakes_the_tracker_for_its_deadline() -> None:
    """Nothing calls the tracker: its own timer (real time) decides at the deadline."""
    timers = Timers("test")
    reported = threading.Event()
    params = HealthParams(min_healthy_time=0, healthy_deadline=SECOND // 10,
                          use_checks=False, deploy=False)
    tracker = HealthTracker(params, GROUP, timers, lambda: True,
                            lambda healthy, events: reported.set())
    try:
        tracker.start()
        assert reported.wait(10)
    finally:
        timers.stop()


def _alloc(job_text: str, deployment_id: str = "", healthy=None) -> tuple[Allocation, object]:
    job = parse_job(job_text)
    alloc = Allocation(id="a", job=job, task_group="g", deployment_id=deployment_id,
                       deployment_status=AllocDeploymentStatus(healthy=healthy)
                       if healthy is not None else None)
    return alloc, job.task_groups[0]


GROUP_TEXT = '''
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
    }
  }
}'''
SERVICE_JOB = '''job "j" {
  update {
    min_healthy_time = "2s"
    healthy_deadline = "1m"
    health_check     = "%s"
  }
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
    }
  }
}'''


def test_health_params_follow_update_for_deployments_and_migrate_otherwise() -> None:
    alloc, group = _alloc(SERVICE_JOB % "task_states", deployment_id="d1")
    assert health_params(alloc, group) == HealthParams(2 * SECOND, 60 * SECOND, False, True)
    alloc, group = _alloc(SERVICE_JOB % "checks")
    assert health_params(alloc, group) == HealthParams(10 * SECOND, 300 * SECOND, True, False)
    alloc, group = _alloc(SERVICE_JOB % "manual", deployment_id="d1")
    assert health_params(alloc, group) is None
    alloc, group = _alloc(SERVICE_JOB % "checks", deployment_id="d1", healthy=True)
    assert health_params(alloc, group) is None
    alloc, group = _alloc('job "j" {\n type = "batch"' + GROUP_TEXT)
    assert health_params(alloc, group) is None
