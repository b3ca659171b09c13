"""What the commands read from a cluster object, the in-process :class:`~nomadlab.Agent`
or a :class:`~nomadlab.api.remote.Remote`, as Nomad's API JSON.

Both offer the same read methods returning structs; the list reads a remote can answer
from stubs in one request are chosen here, in one place, so the command code reads the
same against either.
"""

from __future__ import annotations

from typing import Any, Optional

from .. import prefix
from ..errors import Invalid, NotFound
from ..cluster import Cluster
from ..structs import Allocation, Deployment, Evaluation, Job, Node

__all__ = ["job_list", "alloc_list", "node_list", "job_summary", "job_versions",
           "eval_allocations", "node_allocations", "latest_deployment", "deployment",
           "find_job", "find_deployment", "settle", "is_in_process", "AmbiguousPrefix"]


class AmbiguousPrefix(LookupError):
    """A prefix that matches several objects: the CLI lists them instead of guessing."""

    def __init__(self, kind: str, prefix: str, matches: list[Any]) -> None:
        super().__init__(f'prefix "{prefix}" matched {len(matches)} {kind}s')
        self.kind = kind
        self.prefix = prefix
        self.matches = matches


def is_in_process(cluster: Cluster) -> bool:
    return cluster.in_process


def settle(cluster: Cluster) -> None:
    """In step mode nothing moves unless asked: a monitor (``job run``/``job stop``
    without ``-detach``) lets the in-process agent finish what is pending, so it never
    waits for work nobody will do.  Reads never call this: reading must not move a
    stepped agent along."""
    cluster.settle()


def find_job(cluster: Cluster, job_id: str, namespace: str = "default") -> Job:
    """By exact ID, else by unique prefix (as ``nomad job status <prefix>``)."""
    try:
        return cluster.job(job_id, namespace)
    except KeyError:
        pass
    matches = [j for j in cluster.jobs() if j.id.startswith(job_id)
               and (j.namespace or "default") == namespace]
    if len(matches) == 1:
        return cluster.job(matches[0].id, namespace)
    if matches:
        raise AmbiguousPrefix("job", job_id, matches)
    raise prefix.not_found("jobs", job_id)


def job_list(cluster: Cluster) -> list[dict[str, Any]]:
    """Every job as list JSON: a remote's from its list stubs (one request), the agent's."""
    jobs = cluster.jobs() if is_in_process(cluster) else cluster.jobs(full=False)
    return [j.to_api() for j in jobs]


def alloc_list(cluster: Cluster, job: Job) -> list[Allocation]:
    """A job's allocations for a table: a remote's list stubs (one request, not one per
    allocation), the agent's allocations."""
    if is_in_process(cluster):
        return cluster.allocs(job.id, job.namespace or "default")
    return cluster.allocs(job.id, job.namespace or "default", full=False)


def node_list(cluster: Cluster) -> list[Node]:
    return cluster.nodes() if is_in_process(cluster) else cluster.nodes(full=False)


def job_summary(cluster: Cluster, job: Job) -> Optional[dict[str, Any]]:
    try:
        return cluster.job_summary(job.id, job.namespace or "default").to_api()
    except KeyError:
        return None


def job_versions(cluster: Cluster, job: Job) -> list[Job]:
    """Every version, newest first."""
    return cluster.job_versions(job.id, job.namespace or "default")


def eval_allocations(cluster: Cluster, ev: Evaluation) -> list[Allocation]:
    return cluster.eval_allocations(ev.id)


def node_allocations(cluster: Cluster, node_id: str) -> list[Allocation]:
    return cluster.node_allocations(node_id)


def deployment(cluster: Cluster, deployment_id: str) -> Optional[Deployment]:
    """The deployment with this exact ID, or None (it was garbage-collected)."""
    try:
        found = cluster.deployment(deployment_id)
    except KeyError:
        return None
    return found if found.id == deployment_id else None


def find_deployment(cluster: Cluster, deployment_id: str) -> Deployment:
    """By exact ID, else by unique prefix; several matches raise :class:`AmbiguousPrefix`
    so the command can list them (``Prefix matched multiple deployments``)."""
    if len(deployment_id) == 1:
        raise Invalid("Identifier must contain at least two characters.")
    matches = cluster.deployments(prefix=deployment_id)
    exact = [d for d in matches if d.id == deployment_id]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    if matches:
        raise AmbiguousPrefix("deployment", deployment_id,
                              sorted(matches, key=lambda d: -d.create_index))
    raise NotFound(f'Deployment ID "{deployment_id}" matched no deployments')


def latest_deployment(cluster: Cluster, job: Job) -> Optional[Deployment]:
    return cluster.latest_deployment(job.id, job.namespace or "default")
