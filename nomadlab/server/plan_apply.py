"""The plan applier: re-check a plan against the latest state, then commit what still fits.

Schedulers work on snapshots, so two of them may hand out the same capacity.  Nomad
serialises plans through one applier that re-checks every node of a plan against the
newest state (optimistic concurrency): a node that filled up meanwhile, went down or
became ineligible has its part rejected, the rest is committed, and the scheduler is told
to refresh and try again for what was rejected.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from ..scheduler.fit import Comparable, alloc_resources, node_capacity
from ..structs import Allocation, Plan, PlanResult
from .state import StateSnapshot

__all__ = ["evaluate_plan", "node_fits"]


def _ports(allocs: Iterable[Allocation]) -> Counter[int]:
    ports: Counter[int] = Counter()
    for alloc in allocs:
        shared = alloc.allocated_resources.shared if alloc.allocated_resources else None
        for port in (shared.ports if shared else ()):
            ports[port.value] += 1
    return ports


def node_fits(state: StateSnapshot, node_id: str, plan: Plan) -> tuple[bool, str]:
    """Does the node still take its part of ``plan``? (Nomad's evaluateNodePlan)."""
    # Updates to allocations that are finished (a failed alloc getting its follow-up
    # evaluation's ID) take no capacity and may land on any node, even a down one.
    placing = [a for a in plan.node_allocation.get(node_id, [])
               if a.desired_status == "run" and not a.client_terminal_status()]
    if not placing:
        return True, ""
    node = state.node(node_id)
    if node is None:
        return False, "node does not exist"
    if node.status != "ready":
        return False, f'node is "{node.status}"'
    if node.scheduling_eligibility != "eligible" and any(
            state.alloc(a.id) is None for a in placing):
        return False, "node is not eligible"
    replaced = {a.id for a in plan.node_update.get(node_id, [])} | {a.id for a in placing}
    live = [a for a in state.allocs_by_node(node_id, terminal=False)
            if a.id not in replaced and not a.terminal_status()]
    proposed = live + placing
    total = Comparable()
    for alloc in proposed:
        total = total + alloc_resources(alloc)
    short = node_capacity(node).first_short_of(total)
    if short is not None:
        return False, f"resources exhausted: {short}"
    clashes = [p for p, n in _ports(proposed).items() if n > 1]
    if clashes:
        return False, f"port collision on {clashes[0]}"
    return True, ""


def evaluate_plan(state: StateSnapshot, plan: Plan) -> tuple[PlanResult, dict[str, str]]:
    """The part of ``plan`` that may be committed, and why each rejected node was rejected."""
    result = PlanResult(node_update={k: list(v) for k, v in plan.node_update.items()},
                        deployment=plan.deployment,
                        deployment_updates=list(plan.deployment_updates))
    reasons: dict[str, str] = {}
    for node_id, allocs in plan.node_allocation.items():
        ok, reason = node_fits(state, node_id, plan)
        if ok:
            result.node_allocation[node_id] = list(allocs)
        else:
            reasons[node_id] = reason
            result.rejected_nodes.append(node_id)
    if plan.all_at_once and result.rejected_nodes:
        return PlanResult(rejected_nodes=list(plan.node_allocation)), reasons
    return result, reasons
