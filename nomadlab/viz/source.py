"""One read interface for the graph builders: the in-process agent, a state snapshot,
or Nomad's API JSON, so a picture of a real cluster is drawn by the same code."""

from __future__ import annotations

from typing import Any, Optional

from ..structs import Allocation, Evaluation, Job, Node

DEFAULT_NAMESPACE = "default"


class Source:
    """Read-only view with the agent's read methods, over any state the builders accept."""

    def __init__(self, jobs: list[Job], evals: list[Evaluation], allocs: list[Allocation],
                 nodes: list[Node], index: Optional[int] = None) -> None:
        self._versions: dict[str, list[Job]] = {}
        for job in jobs:
            self._versions.setdefault(job.id, []).append(job)
        for versions in self._versions.values():
            versions.sort(key=lambda j: j.version, reverse=True)
        self._evals = evals
        self._allocs = allocs
        self._nodes = nodes
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


def _from_state(state: Any) -> Source:
    # The kept versions are copies from when each was registered; the job itself carries
    # what changed since (its status), so it stands in for its own version.
    jobs = [j if v.version == j.version else v
            for j in state.jobs() for v in (state.job_versions(j.namespace, j.id) or [j])]
    return Source(jobs, state.evals(), state.allocs(), state.nodes(), index=state.index)


def _from_api(data: dict) -> Source:
    """``{"Jobs": [...], "Evaluations": [...], "Allocations": [...], "Nodes": [...]}``;
    several entries of ``Jobs`` with one ID are that job's versions."""
    return Source([Job.from_api(d) for d in data.get("Jobs", [])],
                  [Evaluation.from_api(d) for d in data.get("Evaluations", [])],
                  [Allocation.from_api(d) for d in data.get("Allocations", [])],
                  [Node.from_api(d) for d in data.get("Nodes", [])])


def _from_remote(remote: Any) -> Source:
    """Everything a builder may ask, read once over HTTP (jobs with all their versions)."""
    jobs = [v for j in remote.jobs() for v in (remote.job_versions(j.id, j.namespace) or [j])]
    return Source(jobs, remote.evals(), remote.allocs(), remote.nodes(), index=remote.index)


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
    state = getattr(c, "state", c)
    if index is not None:
        state = state.snapshot_at(index)
    return _from_state(state)
