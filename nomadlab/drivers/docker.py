"""The docker driver: tasks as containers on a real Docker engine, through the docker SDK.

It follows Nomad's docker driver where a learner can see it: the job spec's ``config``
keys (``image``, ``command``, ``args``, ``entrypoint``, ``ports``, ``labels``, ``work_dir``,
``volumes``, ``network_mode``), the alloc dir mounted at ``/alloc`` with the task's
``local/`` and ``secrets/`` at ``/local`` and ``/secrets``, memory limits without swap,
CPU as shares, and Nomad's container labels (``com.hashicorp.nomad.alloc_id``, ...).  Every
container also carries ``nomadlab.managed=true`` and ``nomadlab.agent=<agent id>``, and its
name ends with the agent id: two agents on one host made with the same seed (so the same
allocation IDs) never find, replace or remove each other's containers, a restarted client
(same data dir, same agent id) finds its own again, and :meth:`DockerDriver.find_managed`
can prove nothing was left behind.

Containers of an agent that may not leave them behind (in a Jupyter kernel, or without
a data dir: ``tasks_outlive_agent`` False, see ``Agent._tasks_outlive_agent``) also carry
``nomadlab.owner=<boot id>/<pid namespace>/<pid>/<start time>`` naming the agent's
process.  The engine, not the agent, runs them, so nothing in the agent survives a
SIGKILL to remove them; instead a reaper process started with the first of them
(:mod:`.container_reaper`) removes them the moment the agent's process exits.  Should
the reaper be killed too, the next driver to reach the engine on this host
(:meth:`DockerDriver.remove_orphans`, at its first fingerprint) removes every container
whose owner process is gone; and an agent that stops its tasks finishes with
:meth:`DockerDriver.remove_all` (``docker rm -f`` of all its containers at once), so a
container killed but not yet removed never stays.

Host paths in ``volumes`` are refused unless the client enables them, as Nomad's
``plugin "docker" { config { volumes { enabled = false } } }`` default does; a relative
path (inside the task's directory) or any path inside the allocation is always allowed.

Output is copied from the engine into the task's log files by one background thread per
stream.  SDK and engine errors are translated here, once, into :class:`DriverError` with a
message naming the image or the container.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional

import docker
import docker.errors
import requests.exceptions

from .base import (
    Driver,
    DriverError,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskHandle,
    TaskStats,
)
from .container_reaper import ensure_running
from .logs import RotatingLog
from .process import pid_alive, process_start_time

__all__ = ["DockerDriver", "MANAGED_LABEL", "AGENT_LABEL", "OWNER_LABEL", "ALLOC_ID_LABEL", "TASK_NAME_LABEL",
           "JOB_ID_LABEL"]

MANAGED_LABEL = "nomadlab.managed"
AGENT_LABEL = "nomadlab.agent"
OWNER_LABEL = "nomadlab.owner"
ALLOC_ID_LABEL = "com.hashicorp.nomad.alloc_id"
TASK_NAME_LABEL = "com.hashicorp.nomad.task_name"
JOB_ID_LABEL = "com.hashicorp.nomad.job_id"

#: Where Nomad's docker driver mounts the task's directories inside the container.
ALLOC_MOUNT, LOCAL_MOUNT, SECRETS_MOUNT = "/alloc", "/local", "/secrets"

#: Config keys this driver understands; ``port_map`` is Nomad's legacy form, accepted and ignored.
CONFIG_KEYS = frozenset({"image", "command", "args", "entrypoint", "ports", "labels", "work_dir",
                         "volumes", "network_mode", "hostname", "port_map"})

_TIMEOUTS = (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError)
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def _explain(exc: BaseException) -> str:
    """The engine's own words for an SDK error, without the HTTP wrapping."""
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    return str(exc) or type(exc).__name__


def _container_name(task: TaskConfig, agent_id: str) -> str:
    """``<task>-<alloc id>-<agent id>``, as the engine allows names."""
    name = _NAME_UNSAFE.sub("_", f"{task.task_name}-{task.alloc_id}-{agent_id}").lstrip("_.-")
    return name or f"{task.alloc_id}-{agent_id}"


class _LogPump:
    """Copies one container stream (stdout or stderr) into a file until the container ends."""

    def __init__(self, api: docker.APIClient, container_id: str, stream: str, path: str,
                 since: Optional[float], max_files: int = 10, max_file_size_mb: int = 10) -> None:
        self._api, self._id, self._stream, self._path, self._since = (
            api, container_id, stream, path, since)
        self._max_files, self._max_mb = max_files, max_file_size_mb
        self._response: Any = None
        self._closed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"docker-logs-{container_id[:12]}-{stream}")
        self.thread.start()

    def _run(self) -> None:
        try:
            self._response = self._api.logs(
                self._id, stdout=self._stream == "stdout", stderr=self._stream == "stderr",
                stream=True, follow=True, since=self._since)
            if self._closed.is_set():
                self._response.close()
                return
            log = RotatingLog(self._path, self._max_files, self._max_mb)
            try:
                for chunk in self._response:
                    log.write(chunk)
            finally:
                log.close()
        except Exception:  # the container went away or the engine closed the stream
            pass
        finally:
            if self._response is not None:
                self._response._response.close()

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:
                pass
        self.thread.join(timeout)


class DockerDriver(Driver):
    """Runs each task as a Docker container (Nomad's ``docker`` driver).

    ``progress`` receives a line of text for each step of an image pull;
    ``timeout`` bounds every call to the engine except waiting and pulling, so a missing
    or hung engine fails in seconds instead of hanging a notebook.  ``agent_id`` names and
    labels this agent's containers (see :mod:`nomadlab.client.identity`; a driver made on
    its own gets a random one); ``volumes_enabled`` allows host paths in ``volumes``.
    """

    name = "docker"
    #: False: label containers with this process as their owner (see the module docstring).
    tasks_outlive_agent = False

    def __init__(self, progress: Optional[Callable[[str], None]] = None, *,
                 base_url: Optional[str] = None, timeout: float = 10.0, agent_id: str = "",
                 volumes_enabled: bool = False) -> None:
        self.agent_id = agent_id or os.urandom(4).hex()
        self.volumes_enabled = volumes_enabled
        self._progress = progress
        self._base_url = base_url
        self._timeout = timeout
        self._client: Optional[docker.DockerClient] = None
        self._lock = threading.Lock()
        self._pumps: dict[str, list[_LogPump]] = {}
        self._swept = False

    # -- engine --------------------------------------------------------------------------

    @staticmethod
    def connect(base_url: Optional[str] = None, timeout: float = 10.0) -> docker.DockerClient:
        """A client for ``base_url`` or, without one, the engine DOCKER_HOST names."""
        if base_url:
            return docker.DockerClient(base_url=base_url, version="auto", timeout=timeout)
        return docker.from_env(timeout=timeout)

    @property
    def connected(self) -> bool:
        """Whether this driver reached the engine (and did not hang up since)."""
        return self._client is not None

    def client(self) -> docker.DockerClient:
        """The engine client, connected on first use (and again after a failure)."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = self.connect(self._base_url, self._timeout)
                except Exception as exc:
                    raise DriverError(f"Docker engine not reachable: {_explain(exc)}",
                                      recoverable=True) from exc
            return self._client

    def fingerprint(self) -> Fingerprint:
        try:
            info = self.client().info()
        except Exception as exc:
            with self._lock:
                self._client = None
            message = str(exc) if isinstance(exc, DriverError) else (
                f"Docker engine not reachable: {_explain(exc)}")
            return Fingerprint(detected=False, healthy=False, health_description=message)
        if not self._swept:
            self._swept = True
            try:
                self.remove_orphans()
            except DriverError:
                pass   # a listing that failed: the next agent's sweep finds them
        return Fingerprint(
            detected=True, healthy=True, health_description="Healthy",
            attributes={
                "driver.docker": "1",
                "driver.docker.version": str(info.get("ServerVersion", "")),
                "driver.docker.os_type": str(info.get("OSType", "")),
                "driver.docker.runtimes": ",".join(sorted(info.get("Runtimes") or {})),
                "driver.docker.volumes.enabled": str(self.volumes_enabled).lower(),
            })

    # -- start ---------------------------------------------------------------------------

    def start(self, task: TaskConfig) -> TaskHandle:
        config = dict(task.config or {})
        unknown = sorted(set(config) - CONFIG_KEYS)
        if unknown:
            raise DriverError(
                f"docker config for task {task.task_name!r}: unsupported key(s) "
                f"{', '.join(unknown)}; nomadlab's docker driver supports "
                f"{', '.join(sorted(CONFIG_KEYS - {'port_map'}))}")
        image = config.get("image")
        if not image or not isinstance(image, str):
            raise DriverError(f'docker config for task {task.task_name!r}: missing required '
                              f'key "image"')
        client = self.client()
        self._ensure_image(client, image, task.events)
        kwargs = self._create_kwargs(task, config)
        container = self._create(client, image, kwargs, task)
        try:
            container.start()
        except docker.errors.DockerException as exc:
            self._remove_quietly(container)
            raise DriverError(f'failed to start container {kwargs["name"]!r} (image '
                              f'"{image}"): {_explain(exc)}') from exc
        self._attach_logs(container.id, task, since=None)
        return TaskHandle(driver=self.name, config=task, started_at=time.time_ns(),
                          state={"container_id": container.id, "container_name": kwargs["name"],
                                 "image": image})

    def _ensure_image(self, client: docker.DockerClient, image: str,
                      events: Optional[Callable[[str], None]] = None) -> None:
        """The image locally, or pulled; the task hears the steps, ``progress`` every line."""
        def step(line: str) -> None:
            self._report(line)
            if events is not None:
                events(line)

        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.DockerException as exc:
            raise DriverError(f'failed to inspect image "{image}": {_explain(exc)}') from exc
        repository, tag = _split_image(image)
        step(f'Downloading image "{image}"')
        try:
            for event in client.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise docker.errors.APIError(event["error"])
                status = " ".join(str(event[k]) for k in ("id", "status", "progress")
                                  if event.get(k))
                if status:
                    self._report(f"{image}: {status}")
            client.images.get(image)
        except Exception as exc:
            raise DriverError(f'image "{image}" is not present locally and could not be '
                              f'pulled: {_explain(exc)}') from exc
        step(f'Downloaded image "{image}"')

    def _report(self, line: str) -> None:
        if self._progress is not None:
            self._progress(line)

    def _create_kwargs(self, task: TaskConfig, config: dict[str, Any]) -> dict[str, Any]:
        local_dir = os.path.join(task.task_dir, "local")
        secrets_dir = os.path.join(task.task_dir, "secrets")
        for path in (task.alloc_dir, local_dir, secrets_dir):
            os.makedirs(path, exist_ok=True)
        volumes = [f"{os.path.abspath(task.alloc_dir)}:{ALLOC_MOUNT}",
                   f"{os.path.abspath(local_dir)}:{LOCAL_MOUNT}",
                   f"{os.path.abspath(secrets_dir)}:{SECRETS_MOUNT}"]
        volumes += [self._bind(task, spec) for spec in _strings(config.get("volumes"), "volumes")]

        env = dict(task.env)
        env.update(NOMAD_ALLOC_DIR=ALLOC_MOUNT, NOMAD_TASK_DIR=LOCAL_MOUNT,
                   NOMAD_SECRETS_DIR=SECRETS_MOUNT)
        labels = {str(k): str(v) for k, v in (config.get("labels") or {}).items()}
        labels.update({str(k): str(v) for k, v in task.labels.items()})
        labels.update({ALLOC_ID_LABEL: task.alloc_id, TASK_NAME_LABEL: task.task_name,
                       JOB_ID_LABEL: task.job_id, MANAGED_LABEL: "true",
                       AGENT_LABEL: self.agent_id})
        if not self.tasks_outlive_agent:
            labels[OWNER_LABEL] = owner()
            ensure_running(labels[OWNER_LABEL], self._base_url)

        memory = max(task.resources.memory_mb, 0)
        limit_mb = max(task.resources.memory_max_mb, memory)
        kwargs: dict[str, Any] = {
            "name": _container_name(task, self.agent_id),
            "environment": env,
            "labels": labels,
            "volumes": volumes,
            "ports": self._ports(task, config.get("ports")),
            "detach": True,
            "cpu_shares": max(int(task.resources.cpu), 2),
        }
        if limit_mb:
            kwargs["mem_limit"] = f"{limit_mb}m"
            kwargs["memswap_limit"] = f"{limit_mb}m"  # no swap, as Nomad sets it
            if limit_mb > memory > 0:
                kwargs["mem_reservation"] = f"{memory}m"
        command = config.get("command")
        args = [str(a) for a in _strings(config.get("args"), "args")]
        if command:
            kwargs["command"] = [str(command), *args]
        elif args:
            kwargs["command"] = args
        if config.get("entrypoint"):
            kwargs["entrypoint"] = [str(e) for e in _strings(config["entrypoint"], "entrypoint")]
        if config.get("work_dir"):
            kwargs["working_dir"] = str(config["work_dir"])
        if config.get("network_mode"):
            kwargs["network_mode"] = str(config["network_mode"])
        if config.get("hostname"):
            kwargs["hostname"] = str(config["hostname"])
        if task.user:
            kwargs["user"] = task.user
        return kwargs

    def _bind(self, task: TaskConfig, spec: str) -> str:
        """``host:container[:mode]``; a relative host path is inside the task dir, as in Nomad.

        Unless volumes are enabled, the host path must lie inside the task's allocation
        directory (Nomad's check and message), so a job cannot mount ``/etc`` or another
        allocation's secrets.
        """
        parts = str(spec).split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise DriverError(f'docker config for task {task.task_name!r}: volume "{spec}" is '
                              f'not of the form "host_path:container_path[:ro|rw]"')
        parts[0] = os.path.normpath(os.path.join(task.task_dir, parts[0]))
        alloc_root = os.path.dirname(os.path.normpath(task.task_dir))
        inside = os.path.commonpath([alloc_root, parts[0]]) == alloc_root
        if not self.volumes_enabled and not inside:
            raise DriverError(f"volumes are not enabled; cannot mount host paths: "
                              f"{json.dumps(str(spec))}")
        return ":".join(parts)

    @staticmethod
    def _ports(task: TaskConfig, labels: Any) -> dict[str, Any]:
        """Each port label's host port, forwarded to ``to`` (or the same port) in the container."""
        mapping: dict[str, Any] = {}
        for label in _strings(labels, "ports"):
            if label not in task.ports:
                raise DriverError(f'Port "{label}" not found, check network block '
                                  f'(task {task.task_name!r} has {sorted(task.ports) or "none"})')
            host_ip, host_port, to = task.ports[label]
            container_port = to if to and to > 0 else host_port
            for proto in ("tcp", "udp"):
                mapping[f"{container_port}/{proto}"] = (host_ip or "0.0.0.0", host_port)
        return mapping

    def _create(self, client: docker.DockerClient, image: str, kwargs: dict[str, Any],
                task: TaskConfig) -> Any:
        """Create the container, replacing a leftover of the same task and allocation."""
        for attempt in (1, 2):
            try:
                return client.containers.create(image, **kwargs)
            except docker.errors.APIError as exc:
                if attempt == 1 and exc.status_code == 409:
                    old = self._get(client, kwargs["name"])
                    if old is not None and old.labels.get(ALLOC_ID_LABEL) == task.alloc_id \
                            and old.labels.get(AGENT_LABEL) == self.agent_id:
                        self._remove_quietly(old)
                        continue
                raise DriverError(f'failed to create container {kwargs["name"]!r} (image '
                                  f'"{image}"): {_explain(exc)}') from exc
            except docker.errors.DockerException as exc:
                raise DriverError(f'failed to create container {kwargs["name"]!r} (image '
                                  f'"{image}"): {_explain(exc)}') from exc
        raise AssertionError("unreachable")

    # -- running tasks -------------------------------------------------------------------

    def wait(self, handle: TaskHandle, timeout: Optional[float] = None) -> Optional[ExitResult]:
        container_id = self._container_id(handle)
        api = self.client().api
        try:
            result = api.wait(container_id, timeout=timeout)
        except _TIMEOUTS:
            return None
        except docker.errors.NotFound as exc:
            return ExitResult(exit_code=-1, err=f"container {self._label(handle)} is gone: "
                                                f"{_explain(exc)}")
        except docker.errors.DockerException as exc:
            return ExitResult(exit_code=-1, err=f"waiting for container {self._label(handle)}: "
                                                f"{_explain(exc)}")
        error = (result.get("Error") or {}).get("Message") or None
        oom = False
        try:
            oom = bool(api.inspect_container(container_id)["State"].get("OOMKilled"))
        except docker.errors.DockerException:
            pass
        self._drain_logs(handle)
        return ExitResult(exit_code=int(result.get("StatusCode", -1)), oom_killed=oom, err=error)

    def stop(self, handle: TaskHandle, signal: str = "SIGINT", timeout: float = 5.0) -> None:
        container_id = self._container_id(handle)
        api = self.client().api
        grace = max(0, int(-(-timeout // 1)))  # the engine counts whole seconds
        try:
            if not signal or signal.upper() in ("SIGTERM", "TERM"):
                api.stop(container_id, timeout=grace)
                return
            api.kill(container_id, signal=signal)
            try:
                api.wait(container_id, timeout=timeout)
                return
            except _TIMEOUTS:
                pass
            api.kill(container_id, signal="SIGKILL")
            api.wait(container_id, timeout=self._timeout)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 or "is not running" in _explain(exc):
                return
            raise DriverError(f"failed to stop container {self._label(handle)}: "
                              f"{_explain(exc)}") from exc
        except docker.errors.DockerException as exc:
            raise DriverError(f"failed to stop container {self._label(handle)}: "
                              f"{_explain(exc)}") from exc

    def destroy(self, handle: TaskHandle) -> None:
        try:
            self.client().api.remove_container(self._container_id(handle), force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in _explain(exc):
                raise DriverError(f"failed to remove container {self._label(handle)}: "
                                  f"{_explain(exc)}") from exc
        except docker.errors.DockerException as exc:
            raise DriverError(f"failed to remove container {self._label(handle)}: "
                              f"{_explain(exc)}") from exc
        finally:
            with self._lock:
                pumps = self._pumps.pop(handle.config.id, [])
            for pump in pumps:
                pump.close()

    def stats(self, handle: TaskHandle) -> TaskStats:
        try:
            raw = self.client().api.stats(self._container_id(handle), stream=False)
        except docker.errors.NotFound as exc:
            raise DriverError(f"container {self._label(handle)} is gone: {_explain(exc)}") from exc
        except docker.errors.DockerException as exc:
            raise DriverError(f"stats for container {self._label(handle)}: "
                              f"{_explain(exc)}") from exc
        return TaskStats(memory_rss_bytes=_memory_bytes(raw.get("memory_stats") or {}),
                         cpu_percent=_cpu_percent(raw), timestamp=time.time_ns())

    def recover(self, handle: TaskHandle) -> bool:
        """Find the container again (by id, else by Nomad's labels) and resume its logs.

        A handle that names a container is that container or nothing: another agent
        made with the same seed has containers with the same allocation labels, and
        re-attaching to (or stopping) one of those would be wrong.  Output the container
        wrote while no client was attached is copied too: the logs resume from the last
        time the task's stdout file was written.
        """
        client = self.client()
        container = None
        if handle.state.get("container_id"):
            container = self._get(client, handle.state["container_id"])
        else:
            matches = self.find_managed(handle.config.alloc_id, agent_id=self.agent_id,
                                        client=client)
            matches = [c for c in matches
                       if c.labels.get(TASK_NAME_LABEL) == handle.config.task_name]
            container = matches[0] if matches else None
        if container is None:
            return False
        handle.state.update(container_id=container.id, container_name=container.name)
        with self._lock:
            attached = handle.config.id in self._pumps
        if not attached:
            since = None
            try:
                since = os.path.getmtime(handle.config.stdout_path)
            except OSError:
                pass
            self._attach_logs(container.id, handle.config, since=since)
        return True

    def close(self) -> None:
        """Stop copying logs, leave the containers running and hang up (a client shutting down).

        A later driver's :meth:`recover` picks the containers and their logs up again.
        """
        with self._lock:
            pumps = [pump for group in self._pumps.values() for pump in group]
            self._pumps.clear()
            client, self._client = self._client, None
        for pump in pumps:
            pump.close()
        if client is not None:
            client.close()

    # -- managed containers --------------------------------------------------------------

    @classmethod
    def find_managed(cls, alloc_id: Optional[str] = None, *, agent_id: Optional[str] = None,
                     client: Optional[docker.DockerClient] = None) -> list[Any]:
        """Every container nomadlab started (running or not), optionally of one allocation
        and of one agent: anything that acts on the list must pass its own ``agent_id``."""
        client = client or cls.connect()
        filters = [f"{MANAGED_LABEL}=true"]
        if alloc_id:
            filters.append(f"{ALLOC_ID_LABEL}={alloc_id}")
        if agent_id:
            filters.append(f"{AGENT_LABEL}={agent_id}")
        for attempt in range(3):
            try:
                return client.containers.list(all=True, filters={"label": filters})
            except docker.errors.NotFound as exc:
                # The SDK lists, then inspects each container: one removed in between is
                # not an error, just a list to ask for again.
                if attempt == 2:
                    raise DriverError(f"listing nomadlab containers: {_explain(exc)}") from exc
            except docker.errors.DockerException as exc:
                raise DriverError(f"listing nomadlab containers: {_explain(exc)}") from exc
        return []

    def remove_orphans(self) -> list[str]:
        """Remove (``docker rm -f``) every container on this host whose owner process, an
        agent that does not leave its containers behind, is gone (SIGKILLed before it
        removed them); returns their names.  Containers of agents in another PID
        namespace or boot, or without an owner, are never touched."""
        return self._remove_listed([OWNER_LABEL], lambda labels, _id: owner_alive(
            labels.get(OWNER_LABEL, "")) is False)

    def remove_strays(self, stray: Callable[[str, str], bool]) -> list[str]:
        """Remove every container of this agent (running or not) for which
        ``stray(allocation ID, container ID)`` holds; their names.  A restarted client's
        sweep: it also finds a container whose task handle was never saved."""
        return self._remove_listed([f"{AGENT_LABEL}={self.agent_id}"],
                                   lambda labels, cid: stray(labels.get(ALLOC_ID_LABEL, ""),
                                                             cid))

    def _remove_listed(self, labels: list[str], remove: Callable[[dict[str, str], str], bool]
                       ) -> list[str]:
        """``docker rm -f``, all at once, the managed containers with ``labels`` for which
        ``remove(their labels, their ID)`` holds; their names.  One listing and no inspection per
        container (every client's start pays for it, and a container removed meanwhile
        by someone else is no error)."""
        api = self.client().api
        try:
            listed = api.containers(all=True, filters={"label": [f"{MANAGED_LABEL}=true",
                                                                 *labels]})
        except docker.errors.DockerException as exc:
            raise DriverError(f"listing nomadlab containers: {_explain(exc)}") from exc
        chosen = [c for c in listed if remove(c.get("Labels") or {}, c["Id"])]
        _remove_all([_Removable(api, c["Id"]) for c in chosen])
        return [(c.get("Names") or [c["Id"]])[0].lstrip("/") for c in chosen]

    @classmethod
    def remove_all(cls, agent_id: str, client: Optional[docker.DockerClient] = None) -> list[str]:
        """Kill and remove every container of agent ``agent_id`` at once (an agent that
        stopped its tasks, making sure no container it killed stays); their names."""
        containers = cls.find_managed(agent_id=agent_id, client=client)
        _remove_all(containers)
        return [c.name for c in containers]

    # -- helpers -------------------------------------------------------------------------

    def _attach_logs(self, container_id: str, task: TaskConfig, since: Optional[float]) -> None:
        api = self.client().api
        limits = (task.log_max_files, task.log_max_file_size_mb)
        pumps = [_LogPump(api, container_id, "stdout", task.stdout_path, since, *limits),
                 _LogPump(api, container_id, "stderr", task.stderr_path, since, *limits)]
        with self._lock:
            old = self._pumps.pop(task.id, [])
            self._pumps[task.id] = pumps
        for pump in old:
            pump.close()

    def _drain_logs(self, handle: TaskHandle, timeout: float = 2.0) -> None:
        """After the container exits, let the log threads write its last lines."""
        with self._lock:
            pumps = list(self._pumps.get(handle.config.id, []))
        deadline = time.monotonic() + timeout
        for pump in pumps:
            pump.thread.join(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _get(client: docker.DockerClient, id_or_name: str) -> Any:
        try:
            return client.containers.get(id_or_name)
        except docker.errors.NotFound:
            return None
        except docker.errors.DockerException as exc:
            raise DriverError(f"looking up container {id_or_name!r}: {_explain(exc)}") from exc

    @staticmethod
    def _remove_quietly(container: Any) -> None:
        try:
            container.remove(force=True)
        except docker.errors.DockerException:
            pass

    @staticmethod
    def _container_id(handle: TaskHandle) -> str:
        container_id = handle.state.get("container_id")
        if not container_id:
            raise DriverError(f"task {handle.config.task_name!r} has no container id in its handle")
        return str(container_id)

    @staticmethod
    def _label(handle: TaskHandle) -> str:
        return repr(handle.state.get("container_name") or handle.state.get("container_id", "?"))


class _Removable:
    """A container known by its id only (from a sparse listing), to remove."""

    def __init__(self, api: docker.APIClient, container_id: str) -> None:
        self.api, self.id = api, container_id

    def remove(self, force: bool, v: bool) -> None:
        self.api.remove_container(self.id, force=force, v=v)


def _remove_all(containers: list[Any]) -> None:
    """``docker rm -f`` each container, all at once (each is a kill and a remove)."""
    def remove(container: Any) -> None:
        try:
            container.remove(force=True, v=True)
        except docker.errors.DockerException:
            pass   # gone already, or its removal is in progress

    threads = [threading.Thread(target=remove, args=(c,), daemon=True) for c in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _boot_and_pid_namespace() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid').strip('pid:[]')}"
    except OSError:
        return ""


def owner() -> str:
    """This process as the owner of the containers it starts:
    ``<boot id>/<pid namespace>/<pid>/<start time>``."""
    return f"{_boot_and_pid_namespace()}/{os.getpid()}/{process_start_time(os.getpid())}"


def owner_alive(value: str) -> Optional[bool]:
    """Whether the owner a label names still runs; None when this process cannot tell
    (another host, boot or PID namespace, or no owner)."""
    here = _boot_and_pid_namespace()
    place, _, process = value.rpartition("/")
    place, _, pid = place.rpartition("/")
    if not here or place != here or not pid.isdigit() or not process.isdigit():
        return None
    return pid_alive(int(pid), int(process))


def _strings(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if key in ("ports", "volumes", "entrypoint") else value.split()
    if isinstance(value, Iterable):
        return list(value)
    raise DriverError(f'docker config "{key}" must be a list, got {value!r}')


def _split_image(image: str) -> tuple[str, str]:
    """``repo[:tag][@digest]`` -> (repository, tag or digest), defaulting to ``latest``."""
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = image.rsplit(":", 1)
        return repository, tag
    return image, "latest"


def _memory_bytes(memory: dict[str, Any]) -> int:
    """RSS: cgroup v1's ``rss``, v2's ``anon``, else usage minus page cache."""
    detail = memory.get("stats") or {}
    for key in ("rss", "total_rss", "anon"):
        if key in detail:
            return int(detail[key])
    usage = int(memory.get("usage") or 0)
    cache = int(detail.get("cache") or detail.get("inactive_file") or 0)
    return max(usage - cache, 0)


def _cpu_percent(raw: dict[str, Any]) -> float:
    """The docker CLI's formula: 100 means one full core."""
    cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = ((cpu.get("cpu_usage") or {}).get("total_usage", 0)
                 - (pre.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return cpu_delta / system_delta * cores * 100.0
