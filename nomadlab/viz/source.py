"""One read interface for the graph builders: the in-process agent, a state snapshot,
or Nomad's API JSON, so a picture of a real cluster is drawn by the same code."""

from __future__ import annotations

from typing import Any, Optional

from ..structs import Allocation, Deployment, Evaluation, Job, Node

DEFAULT_NAMESPACE = "default"


class Source:
    """Read-only view with the agent's read methods, over any state the builders accept."""

    def __init__(self, jobs: list[Job], evals: list[Evaluation], allocs: list[Allocation],
                 nodes: list[Node], index: Optional[int] = None,
                 deployments: Optional[list[Deployment]] = None) -> None:
        self._versions: dict[str, list[Job]] = {}
        for job in jobs:
            self._versions.setdefault(job.id, []).append(job)
        for versions in self._versions.values():
            versions.sort(key=lambda j: j.version, reverse=True)
        self._evals = evals
        self._allocs = allocs
        self._nodes = nodes
        self._deployments = sorted(deployments or [], key=lambda d: d.create_index)
        self.index = index

    def jobs(self) -> list[Job]:
        return [self._versions[k][0] for k in sorted(self._versions)]

    def job(self, job_id: str) -> Job:
        if job_id not in self._versions:
            raise KeyError(f'job "{job_id}" not found')
        return self._versions[job_id][0]

    def job_versions(self, job_id: str) -> list[Job]:
        """Every version known, newest first (as ``nomad job history`` lists them)."""
        return list(self._versions.get(job_id, []))

    def evals(self, job_id: Optional[str] = None) -> list[Evaluation]:
        return [e for e in self._evals if job_id is None or e.job_id == job_id]

    def allocs(self, job_id: Optional[str] = None) -> list[Allocation]:
        return [a for a in self._allocs if job_id is None or a.job_id == job_id]

    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def deployments(self, job_id: Optional[str] = None) -> list[Deployment]:
        """Oldest first."""
        return [d for d in self._deployments if job_id is None or d.job_id == job_id]


def _from_state(state: Any) -> Source:
    # The kept versions are copies from when each was registered; the job itself carries
    # what changed since (its status), so it stands in for its own version.
    jobs = [j if v.version == j.version else v
            for j in state.jobs() for v in (state.job_versions(j.namespace, j.id) or [j])]
    return Source(jobs, state.evals(), state.allocs(), state.nodes(), index=state.index,
                  deployments=state.deployments())


def _from_api(data: dict) -> Source:
    """``{"Jobs": [...], "Evaluations": [...], "Allocations": [...], "Nodes": [...],
    "Deployments": [...]}``; several entries of ``Jobs`` with one ID are that job's
    versions."""
    return Source([Job.from_api(d) for d in data.get("Jobs", [])],
                  [Evaluation.from_api(d) for d in data.get("Evaluations", [])],
                  [Allocation.from_api(d) for d in data.get("Allocations", [])],
                  [Node.from_api(d) for d in data.get("Nodes", [])],
                  deployments=[Deployment.from_api(d) for d in data.get("Deployments", [])])


class _RemoteSource(Source):
    """A remote cluster read on demand, each part once: the graph of one job reads that
    job's versions, evaluations and allocations, not every object of a large cluster."""

    def __init__(self, remote: Any) -> None:
        self._remote = remote
        self._read: dict[tuple[str, Optional[str]], Any] = {}
        self.index = remote.index

    def _once(self, what: str, key: Optional[str], read: Any) -> Any:
        if (what, key) not in self._read:
            self._read[(what, key)] = read()
        return self._read[(what, key)]

    def jobs(self) -> list[Job]:
        return self._once("jobs", None, lambda: sorted(self._remote.jobs(), key=lambda j: j.id))

    def job(self, job_id: str) -> Job:
        versions = self.job_versions(job_id)
        if not versions:
            raise KeyError(f'job "{job_id}" not found')
        return versions[0]

    def job_versions(self, job_id: str) -> list[Job]:
        def read() -> list[Job]:
            try:
                current = self._remote.job(job_id)
            except KeyError:
                return []
            older = [v for v in self._remote.job_versions(job_id) if v.version != current.version]
            return [current, *sorted(older, key=lambda j: j.version, reverse=True)]
        return self._once("versions", job_id, read)

    def evals(self, job_id: Optional[str] = None) -> list[Evaluation]:
        return self._once("evals", job_id, lambda: self._remote.evals(job_id))

    def eval(self, eval_id: str) -> Evaluation:
        return self._once("eval", eval_id, lambda: self._remote.eval(eval_id))

    def allocs(self, job_id: Optional[str] = None) -> list[Allocation]:
        return self._once("allocs", job_id, lambda: self._remote.allocs(job_id))

    def nodes(self) -> list[Node]:
        return self._once("nodes", None, self._remote.nodes)

    def deployments(self, job_id: Optional[str] = None) -> list[Deployment]:
        return self._once("deployments", job_id, lambda: self._remote.deployments(job_id))


def _from_remote(remote: Any) -> Source:
    return _RemoteSource(remote)


def read_source(c: Any, index: Optional[int] = None) -> Source:
    """A :class:`Source` for an agent (at ``index`` if given), a state store or snapshot,
    a :class:`~nomadlab.api.remote.Remote` (``nl.connect``), a Nomad API JSON dict, or an
    existing :class:`Source`."""
    if isinstance(c, Source):
        return c
    from ..api.remote import Remote
    if isinstance(c, Remote):
        if index is not None:
            raise ValueError("a remote cluster is read as it is now; index applies only to "
                             "an in-process agent")
        return _from_remote(c)
    if isinstance(c, dict):
        if index is not None:
            raise ValueError("API JSON holds one state; index applies only to an agent")
        return _from_api(c)
    from ..cluster import ClusterView
    if isinstance(c, ClusterView):
        if index is not None and index != c.index:
            raise ValueError(f"this view is of index {c.index}; read the agent at {index}")
        return _from_state(c.snapshot)
    if getattr(c, "in_process", False):  # the agent: a view of it, now or at ``index``
        return _from_state(c.at(index).snapshot)
    state = c  # a state store or snapshot handed in directly
    if index is not None:
        state = state.snapshot_at(index)
    return _from_state(state)
