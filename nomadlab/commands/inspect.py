"""``eval status``, ``alloc status``, ``alloc logs``, ``node status``, ``node drain`` and
``node eligibility``."""

from __future__ import annotations

import argparse
import time
from typing import Any, Optional

from ..format.allocation import alloc_status as fmt_alloc_status
from ..format.evaluation import eval_status as fmt_eval_status
from ..format.node import node_list, node_status as fmt_node_status
from .base import EXPECTED, IO, error_message
from .cluster import eval_allocations, node_allocations
from .cluster import node_list as cluster_nodes

__all__ = ["eval_status", "alloc_status", "alloc_logs", "node_status", "node_eligibility"]


def eval_status(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        ev = cluster.eval(args.eval)
        allocs = [a.to_api() for a in eval_allocations(cluster, ev)]
    except EXPECTED as err:
        io.error(f"Error querying evaluation: {error_message(err)}")
        return 1
    allocs.sort(key=lambda a: (-a.get("CreateIndex", 0), a.get("Name", "")))
    io.print(fmt_eval_status(ev.to_api(), verbose=args.verbose, allocs=allocs).text())
    return 0


def alloc_status(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        alloc = cluster.alloc(args.alloc)
    except EXPECTED as err:
        io.error(f"Error querying allocation: {error_message(err)}")
        return 1
    io.print(fmt_alloc_status(alloc.to_api(), verbose=args.verbose).text())
    return 0


def _task(alloc: Any, task: Optional[str]) -> str:
    """The task to read: the one named, or the only one there is (as ``nomad alloc logs``)."""
    names = sorted(alloc.task_states) if alloc.task_states else \
        [t.name for g in (alloc.job.task_groups if alloc.job else []) if g.name == alloc.task_group
         for t in g.tasks]
    if task is not None:
        if names and task not in names:
            raise ValueError(f'Could not find task named: {task}')
        return task
    if len(names) != 1:
        raise ValueError("Allocation has multiple tasks. Please specify a task name: "
                         + ", ".join(names))
    return names[0]


def _tail(text: str, lines: Optional[int]) -> str:
    if lines is None:
        return text
    kept = text.splitlines(keepends=True)
    return "".join(kept[-lines:]) if lines > 0 else ""


def alloc_logs(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """What a task wrote; ``-f`` keeps printing as it writes more, until the task is dead."""
    stream = "stderr" if args.stderr else "stdout"
    try:
        alloc = cluster.alloc(args.alloc)
        task = _task(alloc, args.task)
        text = cluster.logs(alloc.id, task, stream)
    except EXPECTED as err:
        io.error(f"Error reading {stream} logs: {error_message(err)}" if not isinstance(
            err, ValueError) else error_message(err))
        return 1
    lines = args.n if args.n is not None else (10 if args.tail else None)
    io.out.write(_tail(text, lines))
    io.out.flush()
    if not args.f:
        return 0
    try:
        if hasattr(cluster, "follow_logs"):
            for chunk in cluster.follow_logs(alloc.id, task, stream, offset=len(text.encode())):
                io.out.write(chunk)
                io.out.flush()
            return 0
        return _poll_logs(cluster, io, alloc.id, task, stream, len(text))
    except KeyboardInterrupt:
        return 0
    except EXPECTED as err:
        io.error(f"Error reading {stream} logs: {error_message(err)}")
        return 1


def _poll_logs(cluster: Any, io: IO, alloc_id: str, task: str, stream: str, seen: int) -> int:
    """``-f`` on the in-process agent: print what is new until the task is dead."""
    while True:
        alloc = cluster.alloc(alloc_id)
        state = alloc.task_states.get(task)
        text = cluster.logs(alloc_id, task, stream)
        if len(text) > seen:
            io.out.write(text[seen:])
            io.out.flush()
            seen = len(text)
        if (state is not None and state.state == "dead") or \
                alloc.client_status in ("complete", "failed", "lost"):
            return 0
        time.sleep(0.2)


def node_status(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        if not getattr(args, "node", None):
            io.print(node_list([n.to_api() for n in cluster_nodes(cluster)], args.verbose).text())
            return 0
        node = cluster.node(args.node)
        allocs = [a.to_api() for a in node_allocations(cluster, node.id)]
    except EXPECTED as err:
        io.error(f"Error querying node info: {error_message(err)}")
        return 1
    allocs.sort(key=lambda a: (-a.get("CreateIndex", 0), a.get("Name", "")))
    io.print(fmt_node_status(node.to_api(), allocs, args.verbose).text())
    return 0


def node_eligibility(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    if args.enable == args.disable:
        io.error("Either the '-enable' or '-disable' flag must be set")
        return 1
    try:
        node = cluster.node(args.node)
        cluster.set_eligibility(node.id, args.enable)
    except EXPECTED as err:
        io.error(f"Error updating scheduling eligibility: {error_message(err)}")
        return 1
    io.print(f'Node "{node.id}" scheduling eligibility set: '
             f'{"eligible" if args.enable else "ineligible"} for scheduling')
    return 0
