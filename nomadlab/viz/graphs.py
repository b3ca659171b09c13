"""networkx graphs of one job's history, of the cluster's capacity, and of what changed.

Every builder reads through :func:`~nomadlab.viz.source.read_source`, so the agent, a
past snapshot and Nomad's API JSON all give the same graph.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

import networkx as nx

from ..structs import Allocation, Deployment, Evaluation, Job
from .source import read_source

GROUP_ALLOCS_OVER = 40
LAYERS = {"job": 0, "job-version": 0, "taskgroup": 0, "eval": 1, "deployment": 1,
          "alloc": 2, "alloc-group": 2, "node": 3}


def _short(ident: str) -> str:
    return ident[:8]


def alloc_status(a: Allocation) -> str:
    """The status a learner should see: a running-but-told-to-stop alloc shows ``stop``."""
    if a.desired_status in ("stop", "evict") and a.client_status in ("pending", "running"):
        return "stop"
    return a.client_status


def _job_version(a: Allocation) -> Optional[int]:
    return a.job.version if a.job is not None else None


def _version_of(ev: Evaluation, versions: list[Job]) -> Optional[Job]:
    """The job version an evaluation was created for: the newest one registered by then."""
    for job in versions:
        if job.job_modify_index and job.job_modify_index == ev.job_modify_index:
            return job
    mark = ev.job_modify_index or ev.create_index
    older = [j for j in versions if j.job_modify_index <= mark]
    return older[0] if older else (versions[-1] if versions else None)


def job_graph(c: Any, job_id: str, index: Optional[int] = None) -> nx.DiGraph:
    """Job -> versions -> evaluations -> allocations -> nodes, as Nomad links them, and
    each version's deployment (version -> deployment -> its canaries, ``canary`` until
    the group is promoted, then ``promoted``).

    Node keys are ``"<kind>:<id>"``; attributes ``kind, id, label, status, layer``.  Past
    ``GROUP_ALLOCS_OVER`` allocations, they are grouped per (node, status) into
    ``alloc-group`` nodes with a ``count``, so big jobs stay readable.
    """
    src = read_source(c, index)
    job = src.job(job_id)
    versions = src.job_versions(job_id)
    evals = src.evals(job_id)
    allocs = src.allocs(job_id)
    nodes = {n.id: n for n in src.nodes()}
    g = nx.DiGraph(job_id=job_id, index=src.index)

    def add(kind: str, ident: str, label: str, status: str, **attrs: Any) -> str:
        key = f"{kind}:{ident}"
        g.add_node(key, kind=kind, id=ident, label=label, status=status,
                   layer=LAYERS[kind], **attrs)
        return key

    job_key = add("job", job.id, job.id, job.status, type=job.type)
    version_keys: dict[int, str] = {}
    for v in versions:
        vk = add("job-version", f"{job.id}@{v.version}", f"v{v.version}", v.status,
                 version=v.version)
        version_keys[v.version] = vk
        g.add_edge(job_key, vk, relation="version")
        for tg in v.task_groups:
            tk = add("taskgroup", f"{job.id}@{v.version}.{tg.name}", f"{tg.name} x{tg.count}",
                     v.status, count=tg.count)
            g.add_edge(vk, tk, relation="group")

    eval_ids = {e.id for e in evals}
    for e in evals:
        unblocked = e.status_description[len("unblocked: "):] \
            if e.status_description.startswith("unblocked: ") else ""
        ek = add("eval", e.id, f"{_short(e.id)} {e.triggered_by}", e.status,
                 triggered_by=e.triggered_by, unblocked_by=unblocked)
        v = _version_of(e, versions)
        if v is not None:
            g.add_edge(version_keys[v.version], ek, relation="triggered")
    for e in evals:
        if e.next_eval in eval_ids:
            g.add_edge(f"eval:{e.id}", f"eval:{e.next_eval}", relation="next-eval")
        if e.blocked_eval in eval_ids:
            g.add_edge(f"eval:{e.id}", f"eval:{e.blocked_eval}", relation="blocked-by")

    for node_id in sorted({a.node_id for a in allocs if a.node_id}):
        n = nodes.get(node_id)
        add("node", node_id, n.name if n else _short(node_id), n.status if n else "unknown")

    grouped = len(allocs) > GROUP_ALLOCS_OVER
    alloc_key: dict[str, str] = {}
    for a in allocs:
        status = alloc_status(a)
        if grouped:
            ident = f"{a.node_id}/{status}"
            key = f"alloc-group:{ident}"
            if key not in g:
                name = nodes[a.node_id].name if a.node_id in nodes else _short(a.node_id)
                add("alloc-group", ident, "", status, count=0, node_name=name)
            g.nodes[key]["count"] += 1
            g.nodes[key]["label"] = f"{g.nodes[key]['node_name']} {status} x{g.nodes[key]['count']}"
        else:
            canary = a.deployment_status is not None and a.deployment_status.canary
            key = add("alloc", a.id, f"{a.name} {_short(a.id)}" + (" canary" if canary else ""),
                      status, client_status=a.client_status, desired_status=a.desired_status,
                      node_id=a.node_id, job_version=_job_version(a), canary=canary,
                      deployment_id=a.deployment_id)
        alloc_key[a.id] = key
        if a.eval_id in eval_ids:
            _count_edge(g, f"eval:{a.eval_id}", key, "created")
        if a.node_id:
            _count_edge(g, key, f"node:{a.node_id}", "placed-on")
    for a in allocs:
        prev = alloc_key.get(a.previous_allocation)
        if prev is not None and prev != alloc_key[a.id]:
            _count_edge(g, alloc_key[a.id], prev, "replaces")
    _add_deployments(g, src.deployments(job_id), version_keys, alloc_key)
    return g


def _add_deployments(g: nx.DiGraph, deployments: list[Deployment], version_keys: dict[int, str],
                     alloc_key: dict[str, str]) -> None:
    """Each deployment under the version it rolls out, with an edge to each of its
    canaries: ``canary`` while the group waits for promotion, ``promoted`` after."""
    for d in deployments:
        key = f"deployment:{d.id}"
        g.add_node(key, kind="deployment", id=d.id, label=f"deploy {_short(d.id)}",
                   status=d.status, layer=LAYERS["deployment"], job_version=d.job_version,
                   description=d.status_description)
        if d.job_version in version_keys:
            g.add_edge(version_keys[d.job_version], key, relation="deployed")
        for state in d.task_groups.values():
            relation = "promoted" if state.promoted else "canary"
            for alloc_id in state.placed_canaries:
                if alloc_id in alloc_key:
                    _count_edge(g, key, alloc_key[alloc_id], relation)


def _count_edge(g: nx.DiGraph, u: str, v: str, relation: str) -> None:
    if g.has_edge(u, v):
        g.edges[u, v]["count"] += 1
    else:
        g.add_edge(u, v, relation=relation, count=1)


def _alloc_usage(a: Allocation) -> tuple[int, int]:
    if a.allocated_resources is None:
        return 0, 0
    tasks = a.allocated_resources.tasks.values()
    return (sum(t.cpu.cpu_shares for t in tasks), sum(t.memory.memory_mb for t in tasks))


def topology(c: Any, index: Optional[int] = None) -> list[dict]:
    """Per node (in registration order): capacity and the live allocations placed on it.

    ``[{"id", "name", "status", "cpu", "memory", "allocs": [{"id", "name", "job_id",
    "cpu", "memory", "status"}]}]``; terminal allocations use nothing and are left out.
    """
    src = read_source(c, index)
    by_node: dict[str, list[dict]] = {}
    for a in src.allocs():
        if a.desired_status != "run" or a.client_status not in ("pending", "running"):
            continue
        cpu, memory = _alloc_usage(a)
        by_node.setdefault(a.node_id, []).append(
            {"id": a.id, "name": a.name, "job_id": a.job_id, "cpu": cpu, "memory": memory,
             "status": a.client_status})
    return [{"id": n.id, "name": n.name, "status": n.status,
             "cpu": n.node_resources.cpu.cpu_shares if n.node_resources else 0,
             "memory": n.node_resources.memory.memory_mb if n.node_resources else 0,
             "allocs": by_node.get(n.id, [])} for n in src.nodes()]


def _alloc_fingerprint(a: Allocation) -> tuple:
    return (a.desired_status, a.client_status, _job_version(a))


def diff(c: Any, index_a: int, index_b: int) -> dict[str, Any]:
    """Allocations ``added``, ``stopped`` and ``updated`` between two state indexes.

    ``stopped`` are those that became terminal or told to stop (or vanished);
    ``updated`` keep their id but changed desired/client status or job version.
    Each entry is ``{"id", "name", "job_id", "node_name", "before", "after"}`` with
    ``(desired_status, client_status, job_version)`` tuples.
    """
    before = {a.id: a for a in read_source(c, index_a).allocs()}
    after = {a.id: a for a in read_source(c, index_b).allocs()}

    def entry(a: Allocation, old: Optional[Allocation], new: Optional[Allocation]) -> dict:
        return {"id": a.id, "name": a.name, "job_id": a.job_id, "node_name": a.node_name,
                "before": _alloc_fingerprint(old) if old else None,
                "after": _alloc_fingerprint(new) if new else None}

    def stopping(a: Optional[Allocation]) -> bool:
        return a is None or alloc_status(a) in ("stop", "complete", "failed", "lost")

    added = [entry(a, None, a) for i, a in after.items() if i not in before]
    stopped, updated = [], []
    for i, old in before.items():
        new = after.get(i)
        if stopping(new) and not stopping(old):
            stopped.append(entry(old, old, new))
        elif new is not None and _alloc_fingerprint(new) != _alloc_fingerprint(old):
            updated.append(entry(new, old, new))
    return {"index_a": index_a, "index_b": index_b, "added": added, "stopped": stopped,
            "updated": updated}


def kind_counts(g: nx.DiGraph) -> Counter:
    """How many graph nodes of each kind: a quick summary, and what tests compare."""
    return Counter(kind for _, kind in g.nodes(data="kind"))
