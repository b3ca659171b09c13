"""One allocation on a client: its directory, its tasks in lifecycle order, its status.

Order as in Nomad: prestart tasks (sidecars keep running; the others must finish
successfully), then the main tasks and poststart tasks, then poststop tasks once the
main tasks are done.  A failed main task, or a dead leader, stops its siblings.  The
allocation's client status (pending, running, complete, failed) follows from its tasks
and is reported to the server on every change.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from typing import Callable, Optional

from ..drivers.base import Driver, Resources, TaskConfig, TaskHandle
from ..structs import AllocDeploymentStatus, Allocation, CheckQueryResult, Node, Task
from ..structs.timestamps import format_rfc3339
from .alloc_health import HealthTracker, health_params
from .allocdir import AllocDir
from .interpolate import interpolate
from .restarts import RestartTracker, jitter_rng
from .restore import load_handle
from .services import AllocServices, ClientServices
from .taskenv import build_task_env
from .taskrunner import TaskRunner, event

__all__ = ["AllocRunner"]


class AllocRunner:
    """Runs one allocation's tasks on one client."""

    def __init__(self, alloc: Allocation, node: Node, drivers: dict[str, Driver], data_dir: str,
                 report: Callable[[Allocation], None], clock: Callable[[], int],
                 region: str = "global", restore: bool = False, seed: int = 0,
                 services: Optional[ClientServices] = None) -> None:
        self.alloc = alloc
        self.seed = seed  # the agent's: restart jitter is drawn from it
        self.node = node
        self.drivers = drivers
        self.dir = AllocDir(f"{data_dir}/alloc/{alloc.id}")
        self._report = report
        self._clock = clock
        self.region = region
        assert alloc.job is not None
        self.group = alloc.job.group(alloc.task_group)
        self.runners: dict[str, TaskRunner] = {}
        self._killing = threading.Event()
        self._kill_reason = ""
        self._lock = threading.Lock()
        self._tasks_changed = threading.Event()   # a task runner reported something
        self.restore = restore  # a restarted client re-attaching to running tasks
        self.client_status = "pending"
        self.client_description = ""
        #: Services, checks and health: the client's shared parts (None: not tracked).
        self._shared = services
        self.services: Optional[AllocServices] = None
        if services is not None:
            self.services = AllocServices(alloc, node, services.server, services.checks,
                                          self._service_env, simulated=services.simulated,
                                          on_check=self._check_result,
                                          restart=self._restart_for_check)
        self._tracker: Optional[HealthTracker] = None
        self._health: Optional[AllocDeploymentStatus] = None
        self._thread = threading.Thread(target=self._run, name=f"alloc-{alloc.id[:8]}",
                                        daemon=True)

    # -- public -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def kill(self, reason: str = "alloc was stopped",
             max_kill_timeout: Optional[float] = None) -> None:
        """Stop every task (each with its kill_signal and kill_timeout, capped at
        ``max_kill_timeout`` seconds when given)."""
        self._kill_reason = reason
        self._killing.set()
        self._stop_tracking()
        if self.services is not None:  # deregistered first, so no new traffic comes
            self.services.stop()
        for runner in list(self.runners.values()):
            runner.kill(reason, max_kill_timeout=max_kill_timeout)

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        for runner in list(self.runners.values()):
            runner.join(timeout)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    # -- running ----------------------------------------------------------------------

    def detach(self) -> None:
        """Stop watching but leave every task running (the client is restarting)."""
        self._stop_tracking()
        for runner in list(self.runners.values()):
            runner.detach()

    def update(self, alloc: Allocation) -> None:
        """The server changed the allocation in place (Nomad's alloc runner Update): a
        new deployment is tracked afresh; a promoted canary is registered with its tags."""
        new_deployment = alloc.deployment_id != self.alloc.deployment_id
        with self._lock:
            self.alloc = alloc
            if new_deployment:
                self._health = None
        if self.services is not None:
            self.services.update(alloc)
        if new_deployment and not self._killing.is_set():
            self._stop_tracking()
            self._start_tracking()
        self._changed()

    # -- health -----------------------------------------------------------------------

    def _start_tracking(self) -> None:
        """Nomad's health hook: track the allocation's health if its deployment (or its
        migration) asks for it."""
        params = health_params(self.alloc, self.group)
        if params is None or self._shared is None:
            return
        self._tracker = HealthTracker(params, self.group, self._shared.timers,
                                      self._checks_passing, self._set_health)
        self._tracker.start()

    def _stop_tracking(self) -> None:
        if self._tracker is not None:
            self._tracker.stop()

    def _checks_passing(self) -> bool:
        if self.services is None or self._shared is None:
            return True
        return self.services.checks_passing(self._shared.store.results(self.alloc.id))

    def _check_result(self, result: CheckQueryResult) -> None:
        if self._tracker is not None:
            self._tracker.checks_changed()

    def _set_health(self, healthy: bool, events: dict[str, str]) -> None:
        """The tracker's verdict: reported as the allocation's DeploymentStatus; an
        unhealthy deployment's tasks are told why (``Alloc Unhealthy``)."""
        tracker = self._tracker
        if self._killing.is_set() or tracker is None:
            return
        with self._lock:
            self._health = AllocDeploymentStatus(healthy=healthy,
                                                 timestamp=format_rfc3339(self._clock()))
        if not healthy and tracker.params.deploy:
            now = self._clock()
            for task, message in events.items():
                if task in self.runners:
                    self.runners[task].emit(event("Alloc Unhealthy", now, message))
        self._changed()

    def _restart_for_check(self, task: str, reason: str) -> None:
        """A check's check_restart gave up on it: restart its task, or every main task
        for a group service (Nomad restarts the allocation)."""
        names = [task] if task else [t.name for t in self.group.tasks if not t.lifecycle]
        for name in names:
            if name in self.runners:
                self.runners[name].restart(reason)

    def _service_env(self, task: str) -> dict[str, str]:
        """The environment a service's name and tags are interpolated with."""
        if not task and not self.group.tasks:
            return {}
        named = self.group.task(task) if task else self.group.tasks[0]
        return build_task_env(self.alloc, named, self.node, alloc_dir=self.dir.shared,
                              task_dir=self.dir.local(named.name),
                              secrets_dir=self.dir.secrets(named.name), region=self.region)

    def _saved_handle(self, task: Task) -> Optional[TaskHandle]:
        return load_handle(self.dir.handle_path(task.name))

    def _runner(self, task: Task) -> TaskRunner:
        job = self.alloc.job
        assert job is not None
        driver = self.drivers.get(task.driver)
        policy = task.restart_policy or self.group.restart_policy
        assert policy is not None
        previous = self.alloc.task_states.get(task.name) if self.restore else None
        runner = TaskRunner(task, driver or _MissingDriver(task.driver),
                            lambda: self._task_config(task),
                            RestartTracker(policy, batch=job.type in ("batch", "sysbatch"),
                                           rng=jitter_rng(self.seed, self.alloc.id,
                                                          task.name)),
                            self._changed, self._clock,
                            handle_path=self.dir.handle_path(task.name),
                            recover=self._saved_handle(task) if previous is not None else None,
                            state=copy.deepcopy(previous) if previous is not None else None)
        self.runners[task.name] = runner
        if self._killing.is_set():  # stopped while being set up: never run
            runner.kill(self._kill_reason)
        return runner

    def _task_config(self, task: Task) -> TaskConfig:
        job = self.alloc.job
        assert job is not None
        env = build_task_env(self.alloc, task, self.node, alloc_dir=self.dir.shared,
                             task_dir=self.dir.local(task.name),
                             secrets_dir=self.dir.secrets(task.name), region=self.region)
        res = task.resources
        ports = {}
        shared = self.alloc.allocated_resources.shared if self.alloc.allocated_resources else None
        for port in (shared.ports if shared else []):
            ports[port.label] = (port.host_ip or "127.0.0.1", port.value, port.to)
        return TaskConfig(
            id=f"{self.alloc.id}/{task.name}", alloc_id=self.alloc.id, task_name=task.name,
            job_id=self.alloc.job_id, config=interpolate(task.config, env, self.node), env=env,
            task_dir=self.dir.task_dir(task.name), alloc_dir=self.dir.shared,
            stdout_path=self.dir.log_path(task.name, "stdout"),
            stderr_path=self.dir.log_path(task.name, "stderr"),
            resources=Resources(cpu=(res.cpu or 100) if res else 100,
                                memory_mb=(res.memory_mb or 300) if res else 300,
                                memory_max_mb=(res.memory_max_mb or 0) if res else 0),
            user=task.user, ports=ports,
            log_max_files=(task.log_config.max_files or 10) if task.log_config else 10,
            log_max_file_size_mb=(task.log_config.max_file_size_mb or 10)
            if task.log_config else 10,
            labels={"com.hashicorp.nomad.alloc_id": self.alloc.id,
                    "com.hashicorp.nomad.task_name": task.name,
                    "com.hashicorp.nomad.job_id": self.alloc.job_id,
                    "nomadlab.job_type": job.type or "service"})

    def _setup(self, tasks: list[Task]) -> bool:
        """Received, Task Setup, templates: False when a task could not be set up."""
        now = self._clock()
        self.dir.build([t.name for t in tasks])
        for task in tasks:
            runner = self._runner(task)
            runner.emit(event("Received", now, "Task received by client"))
            runner.emit(event("Task Setup", now, "Building Task Directory"))
        from .template import TemplateError, write_templates
        ok = True
        for task in tasks:
            if not task.templates:
                continue
            env = build_task_env(self.alloc, task, self.node, alloc_dir=self.dir.shared,
                                 task_dir=self.dir.local(task.name),
                                 secrets_dir=self.dir.secrets(task.name), region=self.region)
            try:
                write_templates(task, env, self.node, self.dir.task_dir(task.name),
                                catalog=getattr(self._shared.server, "state", None)
                                if self._shared is not None else None,
                                namespace=self.alloc.namespace)
            except (TemplateError, OSError) as err:
                runner = self.runners[task.name]
                runner.emit(event("Setup Failure", self._clock(), f"failed to render template:"
                                  f" {err}", setup_error=str(err), fails_task=True))
                runner._finish(failed=True)
                ok = False
        return ok

    def _run_restored(self) -> None:
        """After a client restart: re-attach to what runs, leave what finished alone."""
        self._start_tracking()
        tasks = list(self.group.tasks)
        main = [t for t in tasks if not t.lifecycle]
        for task in tasks:
            runner = self._runner(task)
            if runner.state.state != "dead":
                runner.start()
            else:
                runner.done.set()
                runner.started.set()
        self._changed()  # services registered again, checks running again
        self._watch_main(main)
        self._finish([])

    def _run(self) -> None:
        if self.restore:
            self._run_restored()
            return
        tasks = list(self.group.tasks)
        self._start_tracking()
        try:
            ready = self._setup(tasks)
        except OSError:
            if self._killing.is_set():  # the client shut down while this alloc was set up
                return
            raise
        if not ready:
            self._changed()
            return
        def hook(t: Task) -> str:
            return t.lifecycle.hook if t.lifecycle else ""
        prestart = [t for t in tasks if hook(t) == "prestart"]
        main = [t for t in tasks if not hook(t)]
        poststart = [t for t in tasks if hook(t) == "poststart"]
        poststop = [t for t in tasks if hook(t) == "poststop"]

        for task in prestart:
            self.runners[task.name].start()
        for task in prestart:
            if not (task.lifecycle and task.lifecycle.sidecar):
                self.runners[task.name].done.wait()
                if self.runners[task.name].state.failed or self._killing.is_set():
                    self._stop_all(f'prestart task "{task.name}" failed', skip=task.name)
                    self._finish(poststop)
                    return
        for task in main:
            self.runners[task.name].start()
        for task in main:  # poststart tasks wait until the main tasks started (or ended)
            runner = self.runners[task.name]
            while not runner.started.wait(0.05) and not runner.done.is_set():
                pass
        for task in poststart:
            self.runners[task.name].start()
        self._watch_main(main)
        self._finish(poststop)

    def _watch_main(self, main: list[Task]) -> None:
        """Wait for the main tasks; a failure or a dead leader stops the others."""
        leader = next((t.name for t in self.group.tasks if t.leader), None)
        pending = {t.name for t in main}
        while pending:
            self._tasks_changed.clear()
            for name in list(pending):
                runner = self.runners[name]
                if not runner.done.is_set():
                    continue
                pending.discard(name)
                if runner.state.failed and not self._killing.is_set():
                    self._stop_all(f'Task\'s sibling "{name}" failed', skip=name,
                                   event_type="Sibling Task Failed")
                elif name == leader and not self._killing.is_set():
                    self._stop_all(f'Leader Task "{name}" is dead', skip=name,
                                   event_type="Leader Task Dead")
            if pending:  # woken by the next task event (a finished task sends one)
                self._tasks_changed.wait(1.0)
        # sidecars and poststart tasks end with the main tasks
        others = [r for n, r in self.runners.items() if n not in {t.name for t in main}]
        for runner in others:
            if not runner.done.is_set() and runner._thread.is_alive():
                runner.kill("main tasks dead", "Main Tasks Dead")

    def _stop_all(self, reason: str, skip: str = "", event_type: str = "") -> None:
        for name, runner in self.runners.items():
            if name != skip and not runner.done.is_set():
                runner.kill(reason, event_type)

    def _finish(self, poststop: list[Task]) -> None:
        self._stop_tracking()
        if self.services is not None:
            self.services.stop()
        for task in poststop:
            runner = self.runners[task.name]
            runner.start()
            runner.done.wait()
        for runner in self.runners.values():
            if runner._thread.is_alive():
                runner.join(60)
        self._changed()

    # -- status -----------------------------------------------------------------------

    def _status(self) -> tuple[str, str]:
        main = [t.name for t in self.group.tasks if not t.lifecycle]
        states = {n: r.state for n, r in self.runners.items()}
        if any(s.failed for s in states.values()):
            return "failed", "Failed tasks"
        if main and all(states.get(n) and states[n].state == "dead" for n in main) and \
                all(s.state == "dead" for s in states.values()):
            return "complete", "All tasks have completed"
        if main and all(states.get(n) and states[n].state == "running" for n in main):
            return "running", "Tasks are running"
        return "pending", "No tasks have started"

    def _changed(self) -> None:
        with self._lock:
            status, description = self._status()
            self.client_status, self.client_description = status, description
            update = dataclasses.replace(
                self.alloc, client_status=status, client_description=description,
                task_states={n: r.snapshot() for n, r in self.runners.items()},
                deployment_status=self._health, modify_time=self._clock())
        self._report(update)
        self._tasks_changed.set()
        if self._tracker is not None:
            self._tracker.tasks_changed(update.task_states, status)
        if self.services is not None and not self._killing.is_set():
            running = {n for n, s in update.task_states.items() if s.state == "running"}
            self.services.sync(running, group_running=status == "running")


class _MissingDriver(Driver):
    """Stands for a driver this client does not have: every start is a Driver Failure."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fingerprint(self):
        from ..drivers.base import Fingerprint
        return Fingerprint(False, False, f'driver "{self.name}" is not available on this client')

    def start(self, task: TaskConfig):
        from ..drivers.base import DriverError
        raise DriverError(f'driver "{self.name}" is not available on this client')

    def wait(self, handle, timeout=None):  # pragma: no cover
        return None

    def stop(self, handle, signal="SIGINT", timeout=5.0):  # pragma: no cover
        return None

    def destroy(self, handle):  # pragma: no cover
        return None
