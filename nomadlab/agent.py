"""``nl.dev()``: a server and its nodes in this process, the way ``nomad agent -dev`` runs one.

The agent is what labs and users hold: it parses job specs, writes through the server,
moves evaluations along (a background worker in ``auto`` mode, ``step()`` in ``step``
mode) and reads back the same structs the scheduler uses.

Clients are real: each is a node agent in this process that runs its tasks as real
processes (exec, raw_exec) and containers (docker).  Nodes added with ``simulated=True``
advertise the drivers they are given but run every task with the mock driver, for scale
experiments; they say so (attribute ``nomadlab.simulated = true``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

from .client.client import Client, ClientConfig
from .client.identity import load_agent_id
from .client.fingerprint import host_cpu_mhz, host_memory_mb
from . import prefix
from .jobspec import parse_job
from .jobspec.submission import JobSubmission
from .scheduler.constraints import explain_constraint
from .cluster import AgentInfo, ClusterView, JobInput
from .errors import Invalid
from .structs import ANONYMOUS, Identity
from .structs.trace import EvalTrace
from .server.server import Server, StepRecord
from .structs import (Allocation, CheckQueryResult, Constraint, Deployment, Evaluation, Job,
                      JobPlanResponse, JobSummary, Node, SchedulerConfig, ServiceRegistration)

if TYPE_CHECKING:
    from .api.http import APIServer

__all__ = ["Agent", "dev"]

MODES = ("auto", "step")


class Agent:
    """A dev agent: one server and its clients in this process.

    It implements the one cluster interface (:class:`nomadlab.cluster.LocalCluster`):
    the HTTP API, the commands, the pictures and the notebook reach the server only
    through these methods, and every write carries the asker's :class:`Identity` down
    to the server (``with_identity``).
    """

    in_process = True
    identity: Identity = ANONYMOUS

    def __init__(self, *, clients: int = 1, mode: str = "auto", seed: int = 0,
                 acl: bool = False, http: Union[bool, int, str] = False,
                 data_dir: Optional[str] = None,
                 raw_exec: bool = False, client_cpu: Optional[int] = None,
                 client_memory: Optional[int] = None, docker_volumes: bool = False,
                 http_allowed_origins: Iterable[str] = (),
                 http_allowed_hosts: Iterable[str] = ()) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if acl:
            raise ValueError("ACLs come with a later nomadlab release; use nl.dev() without "
                             "acl for now")
        bind = _http_bind(http)
        self.mode = mode
        self.seed = seed
        self.data_dir = data_dir
        self.raw_exec = raw_exec
        self.docker_volumes = docker_volumes
        #: Random, never from the seed: two agents on one host never touch each other's
        #: containers or cgroups; kept in the data dir, so a restart finds its own again.
        self.agent_id = load_agent_id(data_dir)
        self.server = Server(seed=seed)
        if data_dir:
            self.server.restore(os.path.join(data_dir, "server"))
        self.clients: dict[str, Client] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        share = max(clients, 1)
        self._client_cpu = client_cpu or max(host_cpu_mhz() // share, 500)
        self._client_memory = client_memory or max(host_memory_mb() // share, 512)
        restored = self._restore_clients() if data_dir else set()
        for i in range(clients):
            if f"client-{i + 1}" not in restored:
                self.add_client(name=f"client-{i + 1}")
        if mode == "auto":
            self._thread = threading.Thread(target=self._run, name="nomadlab-worker", daemon=True)
            self._thread.start()
        self.http: Optional["APIServer"] = None
        if bind is not None:
            from .api.http import APIServer
            try:
                self.http = APIServer(self, *bind, allowed_origins=http_allowed_origins,
                                      allowed_hosts=http_allowed_hosts)
            except ValueError:  # an allow-list entry that is not an origin or a host
                self.shutdown()
                raise
            except OSError as err:
                self.shutdown()
                raise OSError(err.errno, f"cannot serve the HTTP API on {bind[0]}:{bind[1]}: "
                              f"{err.strerror} (another agent there? use http=0 for a free "
                              "port)") from None

    @property
    def http_addr(self) -> Optional[str]:
        """Where the HTTP API answers (``http://127.0.0.1:4646``), or None without one."""
        return self.http.address if self.http is not None else None

    # -- the cluster interface: identity, views, change feed -----------------------------

    def with_identity(self, identity: Identity) -> "Agent":
        """This agent as seen by ``identity`` (a request's token, namespace, region):
        the same server and clients, the writes checked against that identity."""
        view = copy.copy(self)
        view.identity = identity
        return view

    @property
    def index(self) -> int:
        return self.server.state.index

    def snapshot(self) -> Any:
        """The committed state now: an immutable :class:`~nomadlab.server.state.StateSnapshot`."""
        return self.server.state.snapshot()

    def at(self, index: Optional[int] = None) -> ClusterView:
        """The cluster's reads at ``index`` (now when None); the agent keeps the last
        1,000 states, so a lab can look back at what the scheduler saw."""
        state = self.server.state
        snap = state.snapshot() if index is None else state.snapshot_at(index)
        return ClusterView(snap, self.identity)

    def subscribe(self, callback: Any) -> Any:
        """Call ``callback(events)`` after each committed transaction; returns the
        function that stops it."""
        return self.server.state.subscribe(callback)

    def wait_for_index(self, index: int, timeout: Optional[float] = None) -> int:
        return self.server.state.wait_for_index(index, timeout=timeout)

    def stream(self, maxsize: int = 1024) -> Any:
        return self.server.state.stream(maxsize=maxsize)

    def events_since(self, index: int) -> list[Any]:
        from .server.state import HistoryTruncated
        state = self.server.state
        try:
            return state.events(index)
        except HistoryTruncated:  # as Nomad: begin at the closest index still kept
            return [ev for _, events in state.history() for ev in events]

    def history(self) -> list[tuple[int, tuple[Any, ...]]]:
        """Every kept state index with the events that made it (the timeline's source)."""
        return self.server.state.history()

    def agent_info(self) -> AgentInfo:
        return AgentInfo(mode=self.mode, seed=self.seed, clients=len(self.clients),
                         raw_exec=self.raw_exec, heartbeat_ttl=self.server.heartbeat_ttl)

    def _authorize(self, capability: str, namespace: Optional[str] = None) -> str:
        """Hand the asker's identity to the server for this write; the namespace to use."""
        ns = namespace or self.identity.namespace
        self.server.authorize(self.identity, capability, ns)
        return ns

    # -- lifecycle --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.server.step() is None:
                self._wake.wait(0.05)
                self._wake.clear()

    def _poke(self) -> None:
        self._wake.set()

    def shutdown(self, max_kill_timeout: Optional[float] = None, *,
                 leave_tasks: bool = False) -> None:
        """Stop every client and every task and container they started, then the server.

        ``max_kill_timeout`` caps each task's kill_timeout (seconds): a Jupyter kernel being
        shut down is killed 5 s after it is asked to exit, whatever its tasks' grace.

        ``leave_tasks`` leaves tasks and containers running for the next agent on the same
        data dir to re-attach, as a Nomad client with a data dir does when it shuts down
        (``nomadlab agent -dev -data-dir DIR`` asks for it).  Without a data dir there is
        nothing to re-attach from, so everything is stopped, as Nomad's dev mode does."""
        leave_tasks = leave_tasks and self.data_dir is not None
        if getattr(self, "http", None) is not None:
            self.http.shutdown()
        # The scheduler first: a node going quiet while the others still stop must not
        # have its allocations placed again on them.
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        clients = list(self.clients.values())
        for client in clients:  # every task told at once; their grace periods overlap
            client.begin_stop(kill_tasks=True, detach=leave_tasks,
                              max_kill_timeout=max_kill_timeout)
        for client in clients:
            client.finish_stop(kill_tasks=True, detach=leave_tasks)
        if not leave_tasks:
            self._remove_containers()
        self.server.state.close_log()

    def _remove_containers(self) -> None:
        """``docker rm -f`` whatever container of this agent its clients' stop left (one
        killed but not yet removed, one a task runner gave up on), all at once; only
        when a client reached the engine (an absent engine costs no time here)."""
        for client in self.clients.values():
            docker = client.drivers.get("docker")
            if getattr(docker, "connected", False):
                try:
                    docker.remove_all(self.agent_id, client=docker.client())
                except Exception:  # noqa: BLE001 - the engine went away: nothing to remove
                    pass
                return

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- nodes ------------------------------------------------------------------------

    def add_client(self, name: Optional[str] = None, *, datacenter: str = "dc1",
                   node_class: str = "", node_pool: str = "default", cpu: Optional[int] = None,
                   memory: Optional[int] = None, disk: int = 20_000,
                   meta: Optional[dict[str, str]] = None) -> Node:
        """Start a real client: a node that runs its tasks with the exec, raw_exec and
        docker drivers (raw_exec only when the agent was made with ``raw_exec=True``)."""
        name = name or f"client-{len(self.clients) + 1}"
        config = ClientConfig(name=name, datacenter=datacenter, node_class=node_class,
                              node_pool=node_pool, cpu=cpu or self._client_cpu,
                              memory=memory or self._client_memory, disk=disk,
                              meta=dict(meta or {}), data_dir=self._client_dir(name),
                              agent_id=self.agent_id, docker_volumes=self.docker_volumes)
        return self._start_client(config, self._drivers(config))

    def _drivers(self, config: ClientConfig) -> dict:
        from .drivers import builtin_drivers
        drivers = builtin_drivers(raw_exec_enabled=self.raw_exec, agent_id=config.agent_id,
                                  docker_volumes=config.docker_volumes)
        outlive = self._tasks_outlive_agent()
        for driver in drivers.values():
            if hasattr(driver, "tasks_outlive_agent"):
                driver.tasks_outlive_agent = outlive
        return drivers

    def _tasks_outlive_agent(self) -> bool:
        """Whether this agent's tasks and containers may outlive its process: only when a
        later agent can re-attach to them, that is with a data dir and outside a Jupyter
        kernel (a kernel never comes back: see :mod:`nomadlab.notebook.kernel_exit`).
        Otherwise each exec/raw_exec task dies with the process even when it is SIGKILLed
        (:mod:`nomadlab.drivers.executor`), and its containers are removed by the next
        agent on the host (:meth:`DockerDriver.remove_orphans`)."""
        if not self.data_dir:
            return False
        if "ipykernel" not in sys.modules:   # no kernel without it: spare the import
            return True
        from .notebook.kernel_exit import in_kernel
        return not in_kernel()

    def add_node(self, name: Optional[str] = None, *, datacenter: str = "dc1",
                 node_class: str = "", node_pool: str = "default", cpu: int = 4000,
                 memory: int = 8192, disk: int = 50_000, meta: Optional[dict[str, str]] = None,
                 attributes: Optional[dict[str, str]] = None,
                 drivers: Iterable[str] = ("exec", "raw_exec", "docker"),
                 simulated: bool = True) -> Node:
        """Add a node; ``simulated`` (the default) runs every task with the mock driver.

        A simulated node advertises ``drivers`` and the resources given, so scheduling
        experiments can use any cluster shape; ``simulated=False`` starts a real client.
        """
        if not simulated:
            return self.add_client(name, datacenter=datacenter, node_class=node_class,
                                   node_pool=node_pool, cpu=cpu, memory=memory, disk=disk,
                                   meta=meta)
        from .drivers.simulated import SimulatedDriver
        name = name or f"node-{len(self.server.state.nodes()) + 1}"
        config = ClientConfig(name=name, datacenter=datacenter, node_class=node_class,
                              node_pool=node_pool, cpu=cpu, memory=memory, disk=disk,
                              meta=dict(meta or {}), data_dir=self._client_dir(name),
                              simulated=True)
        node = self._start_client(config, {d: SimulatedDriver(d) for d in drivers},
                                  attributes=attributes)
        return node

    def _client_dir(self, name: str) -> Optional[str]:
        """``<data_dir>/client/<name>`` (the server's state is in ``<data_dir>/server``)."""
        return os.path.join(self.data_dir, "client", name) if self.data_dir else None

    def _restore_clients(self) -> set[str]:
        """Start again the nodes an earlier agent on this data dir ran; returns their names.

        Simulated nodes come back from the state alone (their shape is the node the
        server knows); a real client comes back when its directory holds the identity of
        that node.  Each re-attaches to its tasks (``nomadlab.client.restore``).
        """
        from .client.restore import load_identity
        names = set()
        for node in self.server.state.nodes():
            res = node.node_resources
            shape: dict[str, Any] = dict(
                datacenter=node.datacenter, node_class=node.node_class,
                node_pool=node.node_pool, meta=dict(node.meta),
                cpu=res.cpu.cpu_shares if res else None,
                memory=res.memory.memory_mb if res else None,
                disk=res.disk.disk_mb if res else 20_000)
            if node.attributes.get("nomadlab.simulated") == "true":
                self.add_node(node.name, attributes=dict(node.attributes),
                              drivers=list(node.drivers), simulated=True, **shape)
            else:
                saved = load_identity(self._client_dir(node.name) or "")
                if saved is None or saved["node_id"] != node.id:
                    continue
                self.add_client(node.name, **shape)
            names.add(node.name)
        return names

    def _start_client(self, config: ClientConfig, drivers: dict,
                      attributes: Optional[dict[str, str]] = None) -> Node:
        client = Client(self.server, config, drivers, seed=self.seed, clock=self.server.clock)
        if attributes:  # a simulated node may claim any attributes (kernel.name = windows)
            fingerprint = client.fingerprint

            def with_attributes() -> Node:
                node = fingerprint()
                return dataclasses.replace(node, attributes={**node.attributes, **attributes})

            client.fingerprint = with_attributes  # type: ignore[method-assign]
        self.clients[client.node_id] = client
        node = client.start()
        self._poke()
        return node

    def restart_client(self, node: str) -> Node:
        """Restart a real client: the new one re-attaches to the tasks the old one started
        (they keep running throughout), as a Nomad client does after an agent restart."""
        node_id = self._node_id(node)
        old = self.clients[node_id]
        old.stop(kill_tasks=False, detach=True)
        config = dataclasses.replace(old.config, data_dir=old.data_dir)
        drivers = self._drivers(config)
        new = Client(self.server, config, drivers, seed=self.seed, clock=self.server.clock,
                     restore=True)
        new._own_dir = old._own_dir
        self.clients[node_id] = new
        started = new.start()
        self._poke()
        return started

    def stop_client(self, node: str, kill_tasks: bool = False) -> None:
        """Stop a client as if its machine died: no more heartbeats, so after the TTL the
        server marks the node down and its allocations lost (tasks keep running unless
        ``kill_tasks``, as on a machine that is merely cut off)."""
        node_id = self._node_id(node)
        self.clients[node_id].stop(kill_tasks=kill_tasks)
        self._poke()

    def remove_node(self, node_id: str) -> None:
        node_id = self._node_id(node_id)
        client = self.clients.pop(node_id, None)
        if client is not None:
            client.stop(kill_tasks=True)
        self.server.deregister_node(node_id)
        self._poke()

    def node_down(self, node_id: str) -> Node:
        """The node's machine stops answering (a partition): its client stops heartbeating
        and the server marks it now as it would after the heartbeat TTL: down, so its
        allocations become lost and are replaced, or disconnected when an allocation's
        group has ``disconnect.lost_after`` (they become unknown until then).  Its tasks
        keep running until it is back."""
        node_id = self._node_id(node_id)
        client = self.clients.get(node_id)
        if client is not None:
            client.cut_off()
        node = self.server.update_node_status(node_id,
                                              self.server.missed_heartbeats_status(node_id))
        self._poke()
        return node

    def node_up(self, node_id: str) -> Node:
        """The node answers again: ready, and its client catches up (it stops what the
        server replaced meanwhile)."""
        node_id = self._node_id(node_id)
        node = self.server.update_node_status(node_id, "ready")
        client = self.clients.get(node_id)
        if client is not None:
            client.reconnect()
        self._poke()
        return node

    def drain(self, node_id: str, enable: bool = True, deadline: int = 0,
              mark_eligible: bool = False, ignore_system: bool = False,
              meta: Optional[dict[str, str]] = None) -> Node:
        """``nomad node drain -enable`` (its allocations migrate away, ``deadline`` ns:
        -1 forces them off now, 0 sets no deadline; ``ignore_system`` leaves system jobs)
        or ``-disable`` (the node stays ineligible unless ``mark_eligible``)."""
        self._authorize("node-write")
        node_id = self._node_id(node_id)
        node = self.server.drain_node(node_id, deadline, ignore_system, meta=meta) if enable \
            else self.server.cancel_drain(node_id, mark_eligible, meta=meta)
        self._poke()
        return node

    def set_eligibility(self, node_id: str, eligible: bool) -> Node:
        self._authorize("node-write")
        node = self.server.update_node_eligibility(self._node_id(node_id), eligible)
        self._poke()
        return node

    def evaluate_node(self, node_id: str) -> list[Evaluation]:
        """``nomad node eval``: a node-update evaluation of every job on the node."""
        self._authorize("node-write")
        evals = self.server.evaluate_node(self._node_id(node_id))
        self._poke()
        return evals

    def set_scheduler_config(self, config: SchedulerConfig,
                             cas_index: Optional[int] = None) -> tuple[bool, int]:
        """Nomad's operator scheduler configuration; with ``cas_index`` only if it is
        still that modify index.  Returns (updated, state index)."""
        self._authorize("operator-write")
        return self.server.set_scheduler_config(config, cas_index)

    def set_scheduler_algorithm(self, algorithm: str) -> SchedulerConfig:
        """``binpack`` (fill nodes) or ``spread`` (even them out), as Nomad's operator API."""
        config = dataclasses.replace(self.scheduler_config(), scheduler_algorithm=algorithm)
        self.set_scheduler_config(config)
        return self.scheduler_config()

    # -- deployments ------------------------------------------------------------------

    def _deployment_write(self, deployment_id: str) -> str:
        """The deployment's full ID, once the asker may write in its namespace (Nomad
        accepts ``submit-job`` for every deployment write)."""
        d = self.deployment(deployment_id)
        self._authorize("submit-job", d.namespace)
        return d.id

    def promote_deployment(self, deployment_id: str,
                           groups: Optional[list[str]] = None) -> Evaluation:
        """``nomad deployment promote``: the canaries of ``groups`` (all when None) are
        promoted and the rolling update of the remaining allocations goes on."""
        ev = self.server.promote_deployment(self._deployment_write(deployment_id), groups)
        self._poke()
        return ev

    def fail_deployment(self, deployment_id: str) -> Evaluation:
        """``nomad deployment fail``: a job with ``auto_revert`` rolls back to its latest
        stable version."""
        ev = self.server.fail_deployment(self._deployment_write(deployment_id))
        self._poke()
        return ev

    def pause_deployment(self, deployment_id: str,
                         pause: bool = True) -> Optional[Evaluation]:
        """``nomad deployment pause`` (``pause=False``: ``resume``)."""
        ev = self.server.pause_deployment(self._deployment_write(deployment_id), pause)
        self._poke()
        return ev

    def resume_deployment(self, deployment_id: str) -> Optional[Evaluation]:
        """``nomad deployment resume``: the paused rolling update goes on."""
        return self.pause_deployment(deployment_id, False)

    def unblock_deployment(self, deployment_id: str) -> Evaluation:
        """``nomad deployment unblock``: a blocked deployment goes on as successful."""
        ev = self.server.unblock_deployment(self._deployment_write(deployment_id))
        self._poke()
        return ev

    def set_alloc_health(self, deployment_id: str, healthy: Iterable[str] = (),
                         unhealthy: Iterable[str] = ()) -> Evaluation:
        """Mark allocations of the deployment healthy or unhealthy by hand, as
        ``/v1/deployment/allocation-health`` does (full allocation IDs)."""
        ev = self.server.set_alloc_health(self._deployment_write(deployment_id),
                                          list(healthy), list(unhealthy))
        self._poke()
        return ev

    # -- jobs -------------------------------------------------------------------------

    @staticmethod
    def _job(job_or_text: JobInput) -> Job:
        if isinstance(job_or_text, Job):
            return job_or_text
        if isinstance(job_or_text, dict):
            from .jobspec import job_from_api
            return job_from_api(job_or_text)
        return parse_job(job_or_text)

    def submit(self, job_or_text: JobInput, enforce_index: Optional[int] = None,
               submission: Optional[JobSubmission] = None) -> Evaluation:
        """Register a job (a Job, HCL/JSON text or API dict); returns its evaluation.

        ``enforce_index``: register only if the job's JobModifyIndex is still this (0: only
        a new job), as ``nomad job run -check-index`` does after a ``job plan``.
        ``submission``: the spec's source and variables, kept with the version (text
        given here is kept as its own submission).
        """
        job = self._job(job_or_text)
        if submission is None and isinstance(job_or_text, str):
            submission = JobSubmission.of(job_or_text)
        self._authorize("submit-job", job.namespace)
        ev = self.server.register_job(job, enforce_index=enforce_index, submission=submission)
        self._poke()
        return ev

    def stop(self, job_id: str, purge: bool = False,
             namespace: Optional[str] = None) -> Evaluation:
        ns = self._authorize("submit-job", namespace)
        ev = self.server.deregister_job(ns, job_id, purge)
        self._poke()
        return ev

    def scale(self, job_id: str, group: str, count: int, message: str = "",
              namespace: Optional[str] = None) -> Evaluation:
        """``nomad job scale``: a new version of the job with the group's count changed."""
        ns = self._authorize("scale-job", namespace)
        ev = self.server.scale_job(ns, job_id, group, count, message)
        self._poke()
        return ev

    def revert(self, job_id: str, version: int, namespace: Optional[str] = None,
               enforce_prior_version: Optional[int] = None) -> Evaluation:
        """``nomad job revert``: run an older version's spec again (as a new version)."""
        ns = self._authorize("submit-job", namespace)
        ev = self.server.revert_job(ns, job_id, version, enforce_prior_version)
        self._poke()
        return ev

    def dispatch(self, job_id: str, payload: Optional[Union[bytes, str]] = None,
                 meta: Optional[dict[str, str]] = None,
                 namespace: Optional[str] = None) -> tuple[Job, Evaluation]:
        """``nomad job dispatch``: launch a child of a parameterized job.  ``payload``
        is the bytes, or a str already base64-encoded as the API carries it."""
        import base64
        ns = self._authorize("dispatch-job", namespace)
        encoded = base64.b64encode(payload).decode() if isinstance(payload, bytes) and payload \
            else payload or None
        child, ev = self.server.dispatch_job(ns, job_id, encoded, meta)
        self._poke()
        return child, ev

    def force_periodic(self, job_id: str,
                       namespace: Optional[str] = None) -> tuple[Job, Evaluation]:
        """``nomad job periodic force``: launch a periodic job's child now."""
        ns = self._authorize("submit-job", namespace)
        child, ev = self.server.force_periodic(ns, job_id)
        self._poke()
        return child, ev

    def evaluate_job(self, job_id: str, namespace: Optional[str] = None) -> Evaluation:
        """``nomad job eval``: a fresh evaluation of the job's current version."""
        ns = self._authorize("submit-job", namespace)
        ev = self.server.evaluate_job(ns, job_id)
        self._poke()
        return ev

    def stop_alloc(self, alloc_id: str) -> Evaluation:
        alloc = self.alloc(alloc_id)
        self._authorize("alloc-lifecycle", alloc.namespace)
        ev = self.server.stop_alloc(alloc.id)
        self._poke()
        return ev

    def plan(self, job_or_text: JobInput, diff: bool = True,
             nodes: Optional[list[Node]] = None, contextual: bool = False) -> JobPlanResponse:
        """Dry run (``nomad job plan``): the diff, the DesiredTGUpdates and placement
        failures registering the job would give; nothing is committed. ``nodes`` replaces
        the cluster's nodes for a what-if ("what if this node had more memory?")."""
        job = self._job(job_or_text)
        self._authorize("submit-job", job.namespace)
        return self.server.plan(job, nodes=nodes, diff=diff, contextual=contextual)

    def validate(self, job_or_text: JobInput) -> list[str]:
        """``nomad job validate``'s server half: what the server would refuse in a job the
        job spec layer accepted (an empty list: it would register)."""
        return self.server.validate_job(self._job(job_or_text))

    # -- moving things along ----------------------------------------------------------

    def step(self) -> Optional[StepRecord]:
        """Step mode: advance one stage and say what happened (None: nothing to do)."""
        if self.mode != "step":
            raise RuntimeError("step() is for step mode: nl.dev(mode='step')")
        return self.server.step()

    def settle(self) -> None:
        """In step mode, finish what is pending (a monitor must not wait for work nobody
        will do); in auto mode the worker does it anyway."""
        if self.mode == "step":
            self.server.run_until_idle()

    def run_until_idle(self, timeout: float = 30.0) -> list[StepRecord]:
        """Until nothing is pending or in flight, in either mode."""
        if self.mode == "step":
            return self.server.run_until_idle(timeout)
        import time
        deadline = time.monotonic() + timeout
        start = len(self.server.log)
        while time.monotonic() < deadline:
            self._poke()
            stats = self.server.broker.stats()
            if not self.server.busy() and not stats.get("TotalReady") and \
                    not stats.get("TotalUnacked"):
                time.sleep(0.01)
                if not self.server.busy() and not self.server.broker.stats().get("TotalReady"):
                    return self.server.log[start:]
            time.sleep(0.005)
        raise TimeoutError(f"still busy after {timeout} s")

    # -- reads: the latest state, through the same view as any past one ---------------

    def jobs(self) -> list[Job]:
        return self.at().jobs()

    def job(self, job_id: str, namespace: Optional[str] = None) -> Job:
        return self.at().job(job_id, namespace)

    def job_versions(self, job_id: str, namespace: Optional[str] = None) -> list[Job]:
        """Every kept version of a job, newest first (``nomad job history``)."""
        return self.at().job_versions(job_id, namespace)

    def job_summary(self, job_id: str, namespace: Optional[str] = None) -> JobSummary:
        """Per group, how many allocations are queued, starting, running, complete, ..."""
        return self.at().job_summary(job_id, namespace)

    def job_submission(self, job_id: str, version: Optional[int] = None,
                       namespace: Optional[str] = None) -> Optional[JobSubmission]:
        """The source a version (default: the latest) was submitted with; None if it was
        registered as a Job built in Python (``nomad job inspect``'s submission)."""
        job = self.job(job_id, namespace)
        return self.server.state.job_submission(job.namespace, job.id,
                                                job.version if version is None else version)

    def evals(self, job_id: Optional[str] = None,
              namespace: Optional[str] = None) -> list[Evaluation]:
        return self.at().evals(job_id, namespace)

    def eval(self, eval_id: str) -> Evaluation:
        return self.at().eval(eval_id)

    def eval_allocations(self, eval_id: str) -> list[Allocation]:
        """The allocations an evaluation created or changed."""
        return self.at().eval_allocations(eval_id)

    def allocs(self, job_id: Optional[str] = None,
               namespace: Optional[str] = None) -> list[Allocation]:
        return self.at().allocs(job_id, namespace)

    def alloc(self, alloc_id: str) -> Allocation:
        return self.at().alloc(alloc_id)

    def nodes(self) -> list[Node]:
        return self.at().nodes()

    def node(self, node_id: str) -> Node:
        return self.at().node(node_id)

    def node_allocations(self, node_id: str) -> list[Allocation]:
        """Every allocation on a node, finished ones included."""
        return self.at().node_allocations(node_id)

    def deployments(self, job_id: Optional[str] = None, namespace: Optional[str] = None,
                    prefix: str = "") -> list[Deployment]:
        return self.at().deployments(job_id, namespace, prefix)

    def deployment(self, deployment_id: str) -> Deployment:
        return self.at().deployment(deployment_id)

    def deployment_allocations(self, deployment_id: str) -> list[Allocation]:
        return self.at().deployment_allocations(deployment_id)

    def job_deployments(self, job_id: str, namespace: Optional[str] = None,
                        all: bool = False) -> list[Deployment]:
        return self.at().job_deployments(job_id, namespace, all)

    def latest_deployment(self, job_id: str,
                          namespace: Optional[str] = None) -> Optional[Deployment]:
        return self.at().latest_deployment(job_id, namespace)

    def scheduler_config(self) -> SchedulerConfig:
        return self.at().scheduler_config()

    # -- native service discovery -----------------------------------------------------

    def services(self, namespace: Optional[str] = None) -> list[ServiceRegistration]:
        """Every registered service instance of the namespace (all with ``"*"``)."""
        return self.at().services(namespace)

    def service(self, name: str, namespace: Optional[str] = None
                ) -> list[ServiceRegistration]:
        """The instances of one service (what ``nomadService "name"`` renders)."""
        return self.at().service(name, namespace)

    def alloc_services(self, alloc_id: str) -> list[ServiceRegistration]:
        return self.at().alloc_services(alloc_id)

    def alloc_checks(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        """The latest result of each check of the allocation, from the client running
        it (Nomad keeps them on the client too); empty once it stopped."""
        alloc = self.alloc(alloc_id)
        client = self.clients.get(alloc.node_id)
        return client.services.store.results(alloc.id) if client is not None else {}

    def delete_service(self, name: str, service_id: str,
                       namespace: Optional[str] = None) -> int:
        """``nomad service delete``: remove one instance (its client may register it
        again while the task runs, as in Nomad)."""
        ns = self._authorize("submit-job", namespace)
        return self.server.delete_service_registration(ns, name, service_id)

    def logs(self, alloc_id: str, task: Optional[str] = None, stream: str = "stdout") -> str:
        """What a task wrote to stdout (or ``stream="stderr"``) so far."""
        text = []
        for path in self.log_files(alloc_id, task, stream):
            try:
                with open(path, errors="replace") as f:
                    text.append(f.read())
            except FileNotFoundError:
                continue
        return "".join(text)

    def log_files(self, alloc_id: str, task: Optional[str] = None,
                  stream: str = "stdout") -> list[str]:
        """A task's log files for ``stream``, oldest rotation first (they may not exist yet)."""
        from .errors import NotFound
        if stream not in ("stdout", "stderr"):
            raise Invalid(f"log type must be stdout or stderr, not {stream!r}")
        alloc = self.alloc(alloc_id)
        client = self.clients.get(alloc.node_id)
        runner = client.runners.get(alloc.id) if client is not None else None
        if runner is None:
            raise NotFound(f'allocation "{alloc.id[:8]}" has no logs on this agent '
                           "(it never started here)")
        if task is None:
            names = list(runner.runners)
            if len(names) != 1:
                raise Invalid(f"name the task: {', '.join(names)}")
            task = names[0]
        if task not in runner.runners:
            raise NotFound(f'task "{task}" not found in allocation "{alloc.id[:8]}"')
        from .drivers.logs import log_files
        return list(log_files(runner.dir.log_path(task, stream)))

    def wait(self, alloc_or_job: Union[str, Allocation, Job], status: str = "running",
             timeout: float = 30.0) -> list[Allocation]:
        """Until the allocation (or every live allocation of the job) has ``status``.

        ``status`` is a client status (pending, running, complete, failed, lost); a
        TimeoutError says which allocations were still in which status.
        """
        import time
        deadline = time.monotonic() + timeout
        while True:
            if self.mode == "step":
                self.server.run_until_idle(timeout)
            allocs = self._targets(alloc_or_job)
            if allocs and all(a.client_status == status for a in allocs):
                return allocs
            if time.monotonic() > deadline:
                seen = ", ".join(f"{a.name} {a.client_status}" for a in allocs) or "none"
                raise TimeoutError(f"not all {status} after {timeout} s: {seen}")
            self.wait_for_index(self.index, timeout=0.25)  # wake on the next write

    def _targets(self, alloc_or_job: Union[str, Allocation, Job]) -> list[Allocation]:
        if isinstance(alloc_or_job, Allocation):
            return [self.alloc(alloc_or_job.id)]
        if isinstance(alloc_or_job, Job):
            job_id = alloc_or_job.id
        else:
            try:
                return [self.alloc(alloc_or_job)]
            except KeyError:
                job_id = alloc_or_job
        return [a for a in self.allocs(job_id) if a.desired_status == "run"]

    def _node_id(self, node: str) -> str:
        return self.node(node).id

    # -- explaining -------------------------------------------------------------------

    def explain(self, eval_id: str) -> EvalTrace:
        """Re-run an evaluation against the snapshot it saw, checking and scoring every node."""
        return self.server.explain(self.eval(eval_id).id)

    def explain_constraint(self, constraint: Union[str, Constraint]) -> list[Any]:
        """Per node: the resolved left value (or undefined), the right value, the verdict."""
        if isinstance(constraint, str):
            constraint = _parse_constraint(constraint)
        return [explain_constraint(constraint, node) for node in self.nodes()]


def _parse_constraint(text: str) -> Constraint:
    """``'${attr.kernel.name} = linux'`` -> Constraint (LTarget, Operand, RTarget)."""
    parts = text.split(None, 2)
    if len(parts) == 2:
        return Constraint(ltarget=parts[0], operand=parts[1])
    if len(parts) != 3:
        raise ValueError(f'write a constraint as "<attribute> <operator> <value>", got {text!r}')
    return Constraint(ltarget=parts[0], operand=parts[1], rtarget=parts[2])


def _http_bind(http: Union[bool, int, str]) -> Optional[tuple[str, int]]:
    """``True`` -> 127.0.0.1:4646 (Nomad's port), a port number (0: any free one), or
    ``"host:port"``."""
    if http is False or http is None:
        return None
    if http is True:
        return ("127.0.0.1", 4646)
    if isinstance(http, int):
        return ("127.0.0.1", http)
    host, sep, port = str(http).rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f'http must be True, a port or "host:port", not {http!r}')
    return (host or "127.0.0.1", int(port))


def dev(clients: int = 1, mode: str = "auto", seed: int = 0, acl: bool = False,
        http: Union[bool, int, str] = False, data_dir: Optional[str] = None, raw_exec: bool = False,
        client_cpu: Optional[int] = None, client_memory: Optional[int] = None,
        docker_volumes: bool = False, http_allowed_origins: Iterable[str] = (),
        http_allowed_hosts: Iterable[str] = ()) -> Agent:
    """Start an in-process agent: a server and ``clients`` real clients sharing the host
    (each gets an equal share of its CPU and memory unless ``client_cpu``/``client_memory``
    say otherwise; ``docker_volumes`` lets docker tasks mount host paths, off as in Nomad).
    The HTTP API refuses browsers on other origins and foreign Host names unless
    ``http_allowed_origins``/``http_allowed_hosts`` name them."""
    return Agent(clients=clients, mode=mode, seed=seed, acl=acl, http=http, data_dir=data_dir,
                 raw_exec=raw_exec, client_cpu=client_cpu, client_memory=client_memory,
                 docker_volumes=docker_volumes, http_allowed_origins=http_allowed_origins,
                 http_allowed_hosts=http_allowed_hosts)
