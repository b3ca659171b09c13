"""``node drain`` (command/node_drain.go) and its monitor (api/nodes.go ``MonitorDrain``).

The monitor watches two things at once, as Nomad's does: the node, until the drainer
clears its drain strategy ("Drain complete for node ..."), and the node's allocations,
printing each one marked for migration, told to stop and changing status, until none
is left running ("All allocations on node ... have stopped").
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from ..structs import Allocation, Node
from ..structs.duration import HOUR, parse_duration
from .base import EXPECTED, IO, error_message
from .cluster import settle
from .monitor import timestamp

__all__ = ["node_drain", "monitor_drain", "DEFAULT_DRAIN_DEADLINE"]

#: ``nomad node drain -enable`` without a deadline (defaultDrainDuration).
DEFAULT_DRAIN_DEADLINE = HOUR


def _deadline(args: argparse.Namespace) -> int:
    """The DrainSpec deadline in ns from -deadline/-force/-no-deadline, or ValueError
    with Nomad's message."""
    if args.disable and (args.deadline is not None or args.force or args.no_deadline
                         or args.ignore_system):
        raise ValueError("-disable can't be combined with flags configuring drain strategy")
    if args.deadline is not None and (args.force or args.no_deadline):
        raise ValueError("-deadline can't be combined with -force or -no-deadline")
    if args.force and args.no_deadline:
        raise ValueError("-force and -no-deadline are mutually exclusive")
    if args.force:
        return -1
    if args.no_deadline:
        return 0
    if args.deadline is None:
        return DEFAULT_DRAIN_DEADLINE
    try:
        value = parse_duration(args.deadline)
    except ValueError as err:
        raise ValueError(f'Failed to parse deadline "{args.deadline}": {err}') from None
    if value <= 0:
        raise ValueError("A positive drain duration must be given")
    return value


def _drain_meta(node: Node, args: argparse.Namespace) -> dict[str, str]:
    """Nomad's drain metadata: ``-m`` as "message" (or "cancel_message" when disabling,
    on top of the running drain's own metadata) and each ``-meta key=value``."""
    meta: dict[str, str] = {}
    if args.disable and node.last_drain is not None:
        meta.update(node.last_drain.meta)
    if args.m:
        meta["message" if args.enable else "cancel_message"] = args.m
    for pair in args.meta:
        if pair:
            key, _, value = pair.partition("=")
            meta[key] = value
    return meta


def node_drain(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Set or unset a node's drain strategy; with ``-enable`` and without ``-detach``,
    follow the drain until the node is empty."""
    if args.monitor and (args.enable or args.disable):
        io.error("The -monitor flag cannot be used with the '-enable' or '-disable' flags")
        return 1
    if (args.enable and args.disable) or not (args.monitor or args.enable or args.disable):
        io.error("Either the '-enable' or '-disable' flag must be set, unless using '-monitor'")
        return 1
    try:
        deadline = _deadline(args)
    except ValueError as err:
        io.error(str(err))
        return 1
    try:
        node = cluster.node(args.node)
    except EXPECTED as err:
        io.error(f"Error toggling drain mode: {error_message(err)}")
        return 1
    if args.monitor:
        if node.drain_strategy is None:
            io.print("No drain strategy set")
            return 0
        io.print(f'{timestamp()}: Monitoring node "{node.id}": Ctrl-C to detach monitoring')
        return monitor_drain(cluster, io, node.id, args.ignore_system)
    try:
        cluster.drain(node.id, enable=args.enable, deadline=deadline,
                      mark_eligible=not args.keep_ineligible, ignore_system=args.ignore_system,
                      meta=_drain_meta(node, args))
    except EXPECTED as err:
        io.error(f"Error updating drain specification: {error_message(err)}")
        return 1
    if not args.enable:
        io.print(f'Node "{node.id}" drain strategy unset')
        return 0
    if args.detach:
        io.print(f'Node "{node.id}" drain strategy set')
        return 0
    io.print(f"{timestamp()}: Ctrl-C to stop monitoring: will not cancel the node drain")
    io.print(f'{timestamp()}: Node "{node.id}" drain strategy set')
    return monitor_drain(cluster, io, node.id, args.ignore_system)


@dataclass
class _Seen:
    """What the alloc watcher knew of each allocation at its last look."""

    allocs: dict[str, Allocation] = field(default_factory=dict)


def _alloc_messages(seen: _Seen, allocs: list[Allocation], ignore_system: bool
                    ) -> tuple[list[str], int]:
    """Nomad's monitorDrainAllocs for one look: the lines to print and how many
    allocations still run (system jobs' left out with ``-ignore-system``)."""
    lines: list[str] = []
    running = 0
    for a in sorted(allocs, key=lambda a: (a.create_index, a.id)):
        before = seen.allocs.get(a.id)
        seen.allocs[a.id] = a
        migrating = bool(a.desired_transition.migrate)
        if before is not None:
            if before.client_status != a.client_status:
                lines.append(f'Alloc "{a.id}" status {before.client_status} -> '
                             f"{a.client_status}")
            elif migrating and not before.desired_transition.migrate:
                lines.append(f'Alloc "{a.id}" marked for migration')
            elif migrating and before.desired_status != a.desired_status \
                    and a.desired_status == "stop":
                lines.append(f'Alloc "{a.id}" draining')
        if a.job is None or (ignore_system and a.job.type == "system"):
            continue
        if a.client_status in ("pending", "running"):
            running += 1
    return lines, running


def monitor_drain(cluster: Any, io: IO, node_id: str, ignore_system: bool = False,
                  poll: Optional[float] = None) -> int:
    """Print the drain's progress until the drain is complete and no allocation is left
    running on the node (both, as Nomad's multiplexed monitor); 0, or 1 on errors."""
    poll = poll if poll is not None else (0.05 if cluster.in_process else 1.0)
    seen = _Seen()
    node_done = allocs_done = down = False
    index = -1
    while not (node_done and allocs_done):
        settle(cluster)
        if cluster.mode == "step" and cluster.index == index:
            io.print(f'{timestamp()}: Node "{node_id}" is still draining and the agent is '
                     "idle: step the agent to move it along")
            return 0
        index = cluster.index
        try:
            node = cluster.node(node_id)
            allocs = cluster.node_allocations(node_id)
        except EXPECTED as err:
            io.error(f"{timestamp()}: Error monitoring node: {error_message(err)}")
            return 1
        if not allocs_done:
            lines, running = _alloc_messages(seen, allocs, ignore_system)
            for line in lines:
                io.print(f"{timestamp()}: {line}")
            if running == 0:
                io.print(f'{timestamp()}: All allocations on node "{node_id}" have stopped')
                allocs_done = True
        if not node_done:
            if node.drain_strategy is None:
                io.print(f"{timestamp()}: Drain complete for node {node_id}")
                node_done = True
            elif node.status == "down" and not down:
                io.print(f'{timestamp()}: Node "{node_id}" down')
            down = node.status == "down"
        if not (node_done and allocs_done):
            time.sleep(poll)
    return 0
