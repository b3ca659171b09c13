"""The one cluster interface: what the HTTP API, the commands, the pictures and the
notebook may ask of a cluster.

Two things implement it: the in-process :class:`~nomadlab.agent.Agent` (``nl.dev()``) and
:class:`~nomadlab.api.remote.Remote` (``nl.connect()``: nomadlab's agent in another
process, or a real Nomad cluster).  Nothing above this interface touches the state
store, the server or a client; so what a learner does in a cell, at the command line or
through curl goes down the same path, and a picture of a real cluster is drawn by the
same code as one of the agent in the kernel.

* **Reads** return the structs the scheduler uses; IDs may be unique prefixes, as
  Nomad's CLI allows.  ``at(index)`` is a read-only view of the cluster as it was at
  that index (the in-process agent keeps its recent history; a remote cluster is read
  as it is now).
* **Writes** go to the server, one transaction per request.
* **Identity**: a cluster carries the token, namespace and region of whoever asks
  (``with_identity``), and every write hands it to the server, where ACLs and
  namespaces are checked in one place.

:class:`LocalCluster` adds what only a cluster in this process can give (a blocking
wait on the state index, the change feed as a stream, task log files): what nomadlab's
own HTTP API needs to serve one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, Callable, Optional, Protocol, Union,
                    runtime_checkable)

from . import prefix
from .errors import NotFound
from .structs import (Allocation, CheckQueryResult, Deployment, Evaluation, Identity, Job,
                      JobPlanResponse, JobSummary, Node, SchedulerConfig, ServiceRegistration)
from .structs.trace import EvalTrace

if TYPE_CHECKING:
    from .jobspec.submission import JobSubmission
    from .server.events import Event, EventSubscription
    from .server.state import StateSnapshot

__all__ = ["Cluster", "LocalCluster", "ClusterView", "AgentInfo", "JobInput",
           "reverted_job_version"]

#: What ``submit`` and ``plan`` take: a Job, job spec text (HCL or JSON) or API JSON.
JobInput = Union[Job, str, dict]
Unsubscribe = Callable[[], None]


@runtime_checkable
class Cluster(Protocol):
    """Reads, ``index``, ``at(index)``, ``subscribe`` and writes, for any cluster."""

    identity: Identity

    @property
    def in_process(self) -> bool:
        """True for the agent in this process: evaluation traces, state history and
        step mode exist only there (views fall back to Nomad's AllocMetric otherwise)."""

    @property
    def mode(self) -> str:
        """``auto`` or ``step`` for an in-process agent, ``remote`` for a cluster reached
        over HTTP."""

    @property
    def index(self) -> int:
        """The latest state index (Nomad's Raft index) this cluster has shown."""

    def with_identity(self, identity: Identity) -> "Cluster":
        """The same cluster, asked by someone else (their token, namespace, region)."""

    def at(self, index: Optional[int] = None) -> "Cluster":
        """A read-only view of the cluster at ``index`` (now, when None)."""

    def subscribe(self, callback: Callable[[list["Event"]], None]) -> Unsubscribe:
        """Call ``callback`` with each committed transaction's events; returns the
        function that stops it."""

    # -- reads ------------------------------------------------------------------------
    def jobs(self) -> list[Job]: ...
    def job(self, job_id: str, namespace: Optional[str] = None) -> Job: ...
    def job_versions(self, job_id: str, namespace: Optional[str] = None) -> list[Job]: ...
    def job_summary(self, job_id: str, namespace: Optional[str] = None) -> JobSummary: ...
    def job_submission(self, job_id: str, version: Optional[int] = None,
                       namespace: Optional[str] = None) -> Optional[JobSubmission]: ...
    def evals(self, job_id: Optional[str] = None,
              namespace: Optional[str] = None) -> list[Evaluation]: ...
    def eval(self, eval_id: str) -> Evaluation: ...
    def eval_allocations(self, eval_id: str) -> list[Allocation]: ...
    def allocs(self, job_id: Optional[str] = None,
               namespace: Optional[str] = None) -> list[Allocation]: ...
    def alloc(self, alloc_id: str) -> Allocation: ...
    def nodes(self) -> list[Node]: ...
    def node(self, node_id: str) -> Node: ...
    def node_allocations(self, node_id: str) -> list[Allocation]: ...
    def deployments(self, job_id: Optional[str] = None, namespace: Optional[str] = None,
                    prefix: str = "") -> list[Deployment]:
        """Deployments, oldest first; of one job, or of a namespace (``"*"``: all) whose
        IDs start with ``prefix`` (``nomad deployment list``)."""
    def deployment(self, deployment_id: str) -> Deployment:
        """By full ID or unique ID prefix (``nomad deployment status <prefix>``)."""
    def deployment_allocations(self, deployment_id: str) -> list[Allocation]:
        """The allocations the deployment placed (canaries included)."""
    def job_deployments(self, job_id: str, namespace: Optional[str] = None,
                        all: bool = False) -> list[Deployment]:
        """The job's deployments, newest first; only those of the job as registered now
        (not of an earlier job purged and registered again under its ID) unless ``all``."""
    def latest_deployment(self, job_id: str,
                          namespace: Optional[str] = None) -> Optional[Deployment]:
        """The job's most recent deployment (``job status``'s "Latest Deployment")."""
    def scheduler_config(self) -> SchedulerConfig: ...
    def logs(self, alloc_id: str, task: Optional[str] = None, stream: str = "stdout") -> str: ...

    def explain(self, eval_id: str) -> Optional[EvalTrace]:
        """Every node checked and scored for an evaluation; None where no trace exists
        (a remote cluster)."""

    # -- writes -----------------------------------------------------------------------
    def submit(self, job: JobInput, enforce_index: Optional[int] = None,
               submission: Optional[JobSubmission] = None) -> Optional[Evaluation]: ...
    def plan(self, job: JobInput, diff: bool = True) -> JobPlanResponse: ...
    def validate(self, job: JobInput) -> list[str]: ...
    def stop(self, job_id: str, purge: bool = False,
             namespace: Optional[str] = None) -> Optional[Evaluation]: ...
    def scale(self, job_id: str, group: str, count: int, message: str = "",
              namespace: Optional[str] = None) -> Evaluation: ...
    def revert(self, job_id: str, version: int, namespace: Optional[str] = None,
               enforce_prior_version: Optional[int] = None) -> Evaluation: ...
    def dispatch(self, job_id: str, payload: Optional[bytes] = None,
                 meta: Optional[dict[str, str]] = None,
                 namespace: Optional[str] = None) -> tuple[Job, Evaluation]: ...
    def force_periodic(self, job_id: str,
                       namespace: Optional[str] = None) -> tuple[Job, Evaluation]: ...
    def evaluate_job(self, job_id: str, namespace: Optional[str] = None) -> Evaluation: ...
    def stop_alloc(self, alloc_id: str) -> Evaluation: ...
    def drain(self, node_id: str, enable: bool = True, deadline: int = 0,
              mark_eligible: bool = False, ignore_system: bool = False,
              meta: Optional[dict[str, str]] = None) -> Node:
        """Nomad's DrainSpec: ``deadline`` in ns (-1 forces everything off now, 0 sets
        none); ``ignore_system`` leaves system jobs running; ending a drain leaves the
        node ineligible unless ``mark_eligible``; ``meta`` is kept in the node's
        LastDrain (``nomad node drain -m/-meta``)."""
    def set_eligibility(self, node_id: str, eligible: bool) -> Node: ...
    def remove_node(self, node_id: str) -> None: ...
    def evaluate_node(self, node_id: str) -> list[Evaluation]: ...
    def set_scheduler_config(self, config: SchedulerConfig,
                             cas_index: Optional[int] = None) -> tuple[bool, int]: ...
    def promote_deployment(self, deployment_id: str,
                           groups: Optional[list[str]] = None) -> Evaluation:
        """Promote the canaries of ``groups`` (all groups when None): the rolling update
        of the remaining allocations goes on."""
    def fail_deployment(self, deployment_id: str) -> Evaluation:
        """Mark a running deployment failed (a job with ``auto_revert`` rolls back)."""
    def pause_deployment(self, deployment_id: str,
                         pause: bool = True) -> Optional[Evaluation]:
        """Pause a deployment's rolling update (``pause=False``: resume it)."""
    def resume_deployment(self, deployment_id: str) -> Optional[Evaluation]: ...
    def unblock_deployment(self, deployment_id: str) -> Evaluation:
        """Let a blocked (multiregion) deployment go on as successful."""
    def set_alloc_health(self, deployment_id: str, healthy: list[str],
                         unhealthy: list[str]) -> Evaluation:
        """Mark allocations healthy or unhealthy by hand (``health_check = "manual"``)."""

    def settle(self) -> None:
        """Let pending work finish where nothing moves unless asked (step mode); a
        no-op elsewhere.  Monitors call it; reads never do."""

    # -- native service discovery (``service { provider = "nomad" }``) ----------------
    def services(self, namespace: Optional[str] = None) -> list[ServiceRegistration]:
        """Every registered service instance (all namespaces with ``"*"``)."""
    def service(self, name: str, namespace: Optional[str] = None
                ) -> list[ServiceRegistration]: ...
    def alloc_services(self, alloc_id: str) -> list[ServiceRegistration]: ...
    def alloc_checks(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        """The latest result of each of the allocation's checks (its client keeps them)."""
    def delete_service(self, name: str, service_id: str,
                       namespace: Optional[str] = None) -> int: ...


@dataclass(frozen=True)
class AgentInfo:
    """What ``/v1/agent/self`` tells about the agent serving the API."""

    mode: str
    seed: int
    clients: int
    raw_exec: bool
    heartbeat_ttl: float


@runtime_checkable
class LocalCluster(Cluster, Protocol):
    """A cluster in this process: what nomadlab's HTTP API needs to serve it."""

    def snapshot(self) -> "StateSnapshot":
        """The committed state now, an immutable value (blocking reads and the read
        cache are functions of it)."""

    def wait_for_index(self, index: int, timeout: Optional[float] = None) -> int:
        """Block until a write moves the state past ``index`` (or ``timeout``)."""

    def stream(self, maxsize: int = 1024) -> "EventSubscription":
        """The change feed from now on, as a queue (the HTTP event stream)."""

    def events_since(self, index: int) -> list["Event"]:
        """Events kept since ``index`` (the closest kept ones if history was trimmed)."""

    def log_files(self, alloc_id: str, task: Optional[str] = None,
                  stream: str = "stdout") -> list[str]: ...

    def agent_info(self) -> AgentInfo: ...

    def history(self) -> list[tuple[int, tuple["Event", ...]]]:
        """Every kept state index with the events that made it (timeline, scrubber)."""


class ClusterView:
    """The cluster's reads over one immutable state snapshot: ``agent.at(index)``.

    The in-process agent reads through a view of its latest state, so a past state and
    the present are read by the same code, with the same prefix rules and messages.
    """

    in_process = True

    def __init__(self, snapshot: "StateSnapshot", identity: Identity) -> None:
        self.snapshot = snapshot
        self.identity = identity

    @property
    def index(self) -> int:
        return self.snapshot.index

    @property
    def mode(self) -> str:
        return "view"

    def __repr__(self) -> str:
        return f"ClusterView(index={self.index})"

    def _ns(self, namespace: Optional[str]) -> str:
        return namespace or self.identity.namespace

    # -- jobs -------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return self.snapshot.jobs()

    def job(self, job_id: str, namespace: Optional[str] = None) -> Job:
        job = self.snapshot.job(self._ns(namespace), job_id)
        if job is None:
            raise NotFound(f'job "{job_id}" not found')
        return job

    def job_versions(self, job_id: str, namespace: Optional[str] = None) -> list[Job]:
        """Every kept version of a job, newest first (``nomad job history``)."""
        self.job(job_id, namespace)
        return self.snapshot.job_versions(self._ns(namespace), job_id)

    def job_summary(self, job_id: str, namespace: Optional[str] = None) -> JobSummary:
        """Per group, how many allocations are queued, starting, running, complete, ..."""
        summary = self.snapshot.job_summary(self._ns(namespace),
                                            self.job(job_id, namespace).id)
        if summary is None:
            raise NotFound(f'job "{job_id}" has no summary')
        return summary

    # -- evaluations and allocations --------------------------------------------------
    def evals(self, job_id: Optional[str] = None,
              namespace: Optional[str] = None) -> list[Evaluation]:
        return self.snapshot.evals(job_id, self._ns(namespace))

    def eval(self, eval_id: str) -> Evaluation:
        return self._lookup("evals", eval_id, self.snapshot.eval)

    def eval_allocations(self, eval_id: str) -> list[Allocation]:
        """The allocations an evaluation created or changed."""
        return self.snapshot.allocs_by_eval(self.eval(eval_id).id)

    def allocs(self, job_id: Optional[str] = None,
               namespace: Optional[str] = None) -> list[Allocation]:
        return self.snapshot.allocs(job_id, self._ns(namespace))

    def alloc(self, alloc_id: str) -> Allocation:
        return self._lookup("allocs", alloc_id, self.snapshot.alloc)

    # -- nodes, deployments, operator -------------------------------------------------
    def nodes(self) -> list[Node]:
        return self.snapshot.nodes()

    def node(self, node_id: str) -> Node:
        return self._lookup("nodes", node_id, self.snapshot.node, by_name=True)

    def node_allocations(self, node_id: str) -> list[Allocation]:
        """Every allocation on a node, finished ones included."""
        return self.snapshot.allocs_by_node(self.node(node_id).id)

    def deployments(self, job_id: Optional[str] = None, namespace: Optional[str] = None,
                    prefix: str = "") -> list[Deployment]:
        ns = self._ns(namespace)
        found = self.snapshot.deployments(job_id, ns)
        return [d for d in found if d.id.startswith(prefix) and (ns == "*" or d.namespace == ns)]

    def deployment(self, deployment_id: str) -> Deployment:
        return self._lookup("deployments", deployment_id, self.snapshot.deployment)

    def deployment_allocations(self, deployment_id: str) -> list[Allocation]:
        d = self.deployment(deployment_id)
        return [a for a in self.snapshot.allocs(d.job_id, d.namespace) if a.deployment_id == d.id]

    def job_deployments(self, job_id: str, namespace: Optional[str] = None,
                        all: bool = False) -> list[Deployment]:
        ns = self._ns(namespace)
        found = self.snapshot.deployments(job_id, ns)
        if not all:
            job = self.snapshot.job(ns, job_id)
            found = [d for d in found if job is None or d.job_create_index == job.create_index]
        return sorted(found, key=lambda d: d.create_index, reverse=True)

    def latest_deployment(self, job_id: str,
                          namespace: Optional[str] = None) -> Optional[Deployment]:
        return self.snapshot.latest_deployment(self._ns(namespace), job_id)

    def scheduler_config(self) -> SchedulerConfig:
        return self.snapshot.scheduler_config()

    # -- native service discovery -----------------------------------------------------
    def services(self, namespace: Optional[str] = None) -> list[ServiceRegistration]:
        ns = self._ns(namespace)
        return self.snapshot.service_registrations(None if ns == "*" else ns)

    def service(self, name: str, namespace: Optional[str] = None
                ) -> list[ServiceRegistration]:
        return [r for r in self.services(namespace) if r.service_name == name]

    def alloc_services(self, alloc_id: str) -> list[ServiceRegistration]:
        return self.snapshot.service_registrations_by_alloc(self.alloc(alloc_id).id)

    def _lookup(self, table: str, key: str, get: Callable[[str], Any],
                by_name: bool = False) -> Any:
        """By full ID, unique ID prefix (as Nomad's CLI allows) or, for nodes, name."""
        found = get(key)
        if found is not None:
            return found
        if by_name:
            named = [n for n in self.snapshot.nodes() if n.name == key]
            if len(named) == 1:
                return named[0]
        matches = self.snapshot.find_by_prefix(table, key)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise prefix.not_found(table, key)
        raise prefix.ambiguous(table, key, len(matches))


def reverted_job_version(cluster: Cluster, deployment: Deployment,
                         version_before: int) -> Optional[int]:
    """The stable version a failed deployment's job was rolled back to (Nomad's
    RevertedJobVersion), if a write just registered a new version of the job: an
    auto-revert registers the latest stable version older than the deployment's again."""
    try:
        versions = cluster.job_versions(deployment.job_id, deployment.namespace)
    except KeyError:
        return None
    if not versions or versions[0].version <= version_before:
        return None
    stable = [v.version for v in versions[1:] if v.stable and v.version < deployment.job_version]
    return max(stable) if stable else None
