"""Allocations on a client that stopped heartbeating: ``unknown`` until ``lost_after``.

Nomad's rules (``nomad/structs`` Allocation/TaskGroup helpers, ``heartbeat.go``,
``scheduler/reconciler/filters.go`` and ``reconnecting_picker.go``), pure functions the
reconciler calls:

* A node that misses its heartbeats becomes ``disconnected`` instead of ``down`` when one
  of its allocations may outlive a disconnect (``disconnect.lost_after`` or the older
  ``max_client_disconnect``) and has not yet expired (:func:`node_status_after_missed_heartbeats`).
* Its running allocations are *disconnecting*: the scheduler marks them client status
  ``unknown`` (an ``AllocStates`` entry records when) with a follow-up evaluation at the
  end of ``lost_after``; with ``replace = true`` (the default) a replacement is placed
  meanwhile, with ``replace = false`` none is.
* When ``lost_after`` has passed the allocation is *expiring*: it becomes ``lost``.
* ``stop_on_client_after`` (or the older ``stop_after_client_disconnect``): the client
  stops the allocation itself after that long without the server, so the server marks
  it lost at once but places its replacement only once the client has surely stopped it
  (:func:`client_stop_delays`).
* When the node is back and its client reports the allocation running again, it is
  *reconnecting*: it and each replacement are compared by the group's ``reconcile``
  strategy (keep_original, keep_replacement, best_score, longest_running) and the one not
  kept is stopped.

:func:`split` sorts a task group's allocations into these sets before the reconciler's
own ``filterByTainted`` sees the rest; :func:`reconcile_reconnecting` decides the
reconnecting ones, :func:`mark_unknown` the disconnecting ones. Neither reads a clock: ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping, Optional

from ..structs import Allocation, Job, Node, TaskGroup
from ..structs.allocation import AllocState
from ..structs.timestamps import format_rfc3339, parse_rfc3339

__all__ = [
    "RECONCILE_OPTIONS", "ALLOC_UNKNOWN", "ALLOC_RECONNECTED",
    "DISCONNECT_TIMEOUT_FOLLOWUP_EVAL_DESC", "DisconnectSets", "lost_after",
    "replace_on_disconnect", "needs_to_reconnect", "expired", "with_client_state",
    "node_status_after_missed_heartbeats", "split", "reconcile_reconnecting",
    "pick_reconnecting_alloc", "stop_on_client_after", "client_stop_delays", "mark_unknown",
    "Unknown", "ReconnectDecision",
]

RECONCILE_OPTIONS = ("best_score", "keep_original", "keep_replacement", "longest_running")
# Nomad's descriptions, word for word (scheduler/structs).
ALLOC_UNKNOWN = "alloc is unknown since its node is disconnected"
ALLOC_RECONNECTED = "alloc not needed due to disconnected client reconnect"
DISCONNECT_TIMEOUT_FOLLOWUP_EVAL_DESC = "created for delayed disconnect timeout"
CLIENT_STATUS = "ClientStatus"


def _group(alloc: Allocation) -> Optional[TaskGroup]:
    job = alloc.job
    if job is None:
        return None
    return next((g for g in job.task_groups if g.name == alloc.task_group), None)


def lost_after(group: Optional[TaskGroup]) -> int:
    """Nomad's ``GetDisconnectLostAfter``: ``disconnect.lost_after``, else the older
    ``max_client_disconnect``, else 0 (lost at once)."""
    if group is None:
        return 0
    if group.disconnect is not None and group.disconnect.lost_after:
        return group.disconnect.lost_after
    return group.max_client_disconnect or 0


def stop_on_client_after(group: Optional[TaskGroup]) -> Optional[int]:
    """Nomad's ``GetDisconnectStopTimeout``: how long a client cut off from the servers
    keeps the group's allocations running (None: for ever)."""
    if group is None:
        return None
    if group.disconnect is not None and group.disconnect.stop_on_client_after is not None:
        return group.disconnect.stop_on_client_after
    return group.stop_after_client_disconnect


#: Nomad's default kill_timeout, the least time WaitClientStop allows for the kill.
_DEFAULT_KILL_TIMEOUT = 5_000_000_000


def client_stop_delays(lost: Mapping[str, Allocation], now: int) -> list[tuple[Allocation, int]]:
    """Nomad's ``delayByStopAfterClientDisconnect``: for each lost alloc whose client stops
    it on its own, when that is surely done (``stop_on_client_after`` plus the longest
    kill_timeout after it was lost); the group's placements wait until then."""
    delays = []
    for alloc in sorted(lost.values(), key=lambda a: (a.index, a.id)):
        group = _group(alloc)
        timeout = stop_on_client_after(group)
        if not timeout or group is None:
            continue
        lost_at = next((parse_rfc3339(s.time) for s in alloc.alloc_states
                        if s.field == CLIENT_STATUS and s.value == "lost"), 0) or now
        kill = max([_DEFAULT_KILL_TIMEOUT] + [t.kill_timeout or 0 for t in group.tasks])
        if lost_at + timeout + kill > now:
            delays.append((alloc, lost_at + timeout + kill))
    return delays


def replace_on_disconnect(alloc: Allocation) -> bool:
    """Whether a replacement is placed while the alloc is unknown (default true)."""
    group = _group(alloc)
    if group is None or group.disconnect is None or group.disconnect.replace is None:
        return True
    return group.disconnect.replace


def _strategy(alloc: Allocation) -> str:
    group = _group(alloc)
    if group is None or group.disconnect is None or not group.disconnect.reconcile:
        return "best_score"
    return group.disconnect.reconcile


def _last_client_state(alloc: Allocation) -> Optional[AllocState]:
    return next((s for s in reversed(alloc.alloc_states) if s.field == CLIENT_STATUS), None)


def needs_to_reconnect(alloc: Allocation) -> bool:
    """Nomad's ``NeedsToReconnect``: the last client status the server recorded is unknown."""
    last = _last_client_state(alloc)
    return last is not None and last.value == "unknown"


def _last_unknown(alloc: Allocation) -> int:
    last = _last_client_state(alloc)
    return parse_rfc3339(last.time) if last is not None and last.value == "unknown" else 0


def expired(alloc: Allocation, now: int) -> bool:
    """Nomad's ``Expired``: unknown for longer than the group's ``lost_after``."""
    if alloc.client_status != "unknown":
        return False
    since, timeout = _last_unknown(alloc), lost_after(_group(alloc))
    return bool(since and timeout) and since + timeout <= now


def with_client_state(alloc: Allocation, status: str, now: int, **changes: object) -> Allocation:
    """A copy with ``status`` appended to its AllocStates (Nomad's ``AppendState``)."""
    states = [*alloc.alloc_states, AllocState(CLIENT_STATUS, status, format_rfc3339(now))]
    return dataclasses.replace(alloc, alloc_states=states, **changes)


def node_status_after_missed_heartbeats(allocs: list[Allocation], now: int) -> str:
    """``disconnected`` when an allocation on the node may wait out a disconnect (Nomad's
    ``disconnectState``: it has ``lost_after``, should run and has not expired), else
    ``down``."""
    for alloc in allocs:
        if lost_after(_group(alloc)) > 0 and alloc.desired_status == "run" \
                and not expired(alloc, now):
            return "disconnected"
    return "down"


@dataclass
class DisconnectSets:
    """What :func:`split` took out of a group's allocations, by Nomad's bucket names."""

    untainted: dict[str, Allocation] = field(default_factory=dict)
    lost: dict[str, Allocation] = field(default_factory=dict)
    disconnecting: dict[str, Allocation] = field(default_factory=dict)
    reconnecting: dict[str, Allocation] = field(default_factory=dict)
    expiring: dict[str, Allocation] = field(default_factory=dict)


def _classify(alloc: Allocation, tainted: Mapping[str, Optional[Node]], now: int
              ) -> Optional[str]:
    """The bucket Nomad's disconnect rules put ``alloc`` in, or None for the usual rules.

    Nomad's ``classificationRules`` in order, leaving out the rules the reconciler's own
    ``_filter_by_tainted`` already applies (terminal allocs, migrations, plain lost)."""
    # Nomad records a ClientStatus AllocState with every stop the scheduler makes, so a
    # stopped alloc never needs to reconnect; nomadlab's stops keep the states unchanged.
    reconnect = alloc.client_status in ("unknown", "running", "failed") \
        and needs_to_reconnect(alloc) and not alloc.server_terminal_status()
    if reconnect and alloc.client_status == "failed":
        return "reconnecting"
    if alloc.terminal_status() and not reconnect:
        return None
    if expired(alloc, now):
        return "expiring"
    is_tainted = alloc.node_id in tainted
    node = tainted.get(alloc.node_id)
    if node is not None and node.status == "disconnected":
        if alloc.client_status == "unknown":
            return "untainted"
        if alloc.client_status == "pending" or not lost_after(_group(alloc)):
            return "lost"
        return "disconnecting"
    if alloc.desired_transition.migrate:
        return None
    if (not is_tainted or (node is not None and node.status == "ready")) and reconnect:
        return "reconnecting"
    if node is not None and node.status == "down" and not replace_on_disconnect(alloc):
        if alloc.client_status == "unknown":
            return "untainted"
        if alloc.client_status == "running":
            return "disconnecting"
    return None


def split(allocs: Mapping[str, Allocation], tainted: Mapping[str, Optional[Node]], now: int
          ) -> tuple[dict[str, Allocation], DisconnectSets]:
    """``(the allocations left for the usual rules, those the disconnect rules placed)``."""
    rest: dict[str, Allocation] = {}
    sets = DisconnectSets()
    for alloc_id, alloc in allocs.items():
        bucket = _classify(alloc, tainted, now)
        if bucket is None:
            rest[alloc_id] = alloc
        else:
            getattr(sets, bucket)[alloc_id] = alloc
    return rest, sets


def _max_norm_score(alloc: Allocation) -> Optional[float]:
    scores = alloc.metrics.score_meta_data if alloc.metrics is not None else []
    return max((m.norm_score for m in scores), default=None)


def _last_start(alloc: Allocation, group: Optional[TaskGroup]) -> int:
    """Nomad's ``startOfLeaderOrOldestTaskInMain``: when the leader (or the oldest task)
    last started, 0 if none has."""
    if group is None:
        return 0
    oldest = 0
    for task in group.tasks:
        state = alloc.task_states.get(task.name)
        started = 0
        if state is not None:
            started = parse_rfc3339(state.last_restart if state.restarts else state.started_at)
        if task.leader:
            return started
        if started and (not oldest or started < oldest):
            oldest = started
    return oldest


def _best_score(original: Allocation, replacement: Allocation) -> Allocation:
    ours, theirs = _max_norm_score(original), _max_norm_score(replacement)
    better = (ours is None and theirs is not None) or \
        (ours is not None and theirs is not None and theirs > ours)
    if better and (replacement.client_status == "running" or original.client_status != "running"):
        return replacement
    return original


def pick_reconnecting_alloc(strategy: str, original: Allocation,
                            replacement: Allocation) -> Allocation:
    """Which of a reconnecting alloc and one replacement to keep (``reconnecting_picker.go``).

    A replacement of a newer job version always wins; otherwise the group's strategy."""
    if original.job is not None and replacement.job is not None and (
            replacement.job.version > original.job.version
            or replacement.job.create_index > original.job.create_index):
        return replacement
    if strategy == "keep_original":
        return original
    if strategy == "keep_replacement":
        return replacement
    if strategy == "longest_running":
        group = _group(original)
        ours, theirs = _last_start(original, group), _last_start(replacement, group)
        if not ours and theirs:
            return replacement
        if ours and not theirs:
            return original
        if not ours and not theirs:
            return _best_score(original, replacement)
        return original if ours < theirs else replacement
    return _best_score(original, replacement)


@dataclass(frozen=True)
class Unknown:
    """What :func:`mark_unknown` decided for a group's disconnecting allocations."""

    updates: tuple[Allocation, ...]          # each alloc as it is now: client status unknown
    replace: dict[str, Allocation]           # to reschedule now (a replacement is placed)
    keep: dict[str, Allocation]              # to count as they are (``replace = false``)
    timeouts: tuple[tuple[Allocation, int], ...]  # when each is lost (its follow-up eval)


def mark_unknown(group: TaskGroup, disconnecting: Mapping[str, Allocation], now: int
                 ) -> Unknown:
    """Nomad's ``computeDisconnecting``: each alloc becomes unknown (an AllocState says
    since when), to be reconsidered when ``lost_after`` ends; with ``replace`` a
    replacement is placed now (the unknown alloc is not stopped), without it keeps its
    place in the group's count."""
    updates, replace, keep, timeouts = [], {}, {}, []
    timeout = lost_after(group)
    for alloc in sorted(disconnecting.values(), key=lambda a: (a.index, a.id)):
        unknown = with_client_state(alloc, "unknown", now, client_status="unknown",
                                    client_description=ALLOC_UNKNOWN)
        updates.append(unknown)
        (replace if replace_on_disconnect(alloc) else keep)[alloc.id] = unknown
        if timeout:
            timeouts.append((unknown, now + timeout))
    return Unknown(tuple(updates), replace, keep, tuple(timeouts))


@dataclass(frozen=True)
class ReconnectDecision:
    """What :func:`reconcile_reconnecting` decided: allocs to stop (with Nomad's
    description and client status) and reconnected allocs to update (running again)."""

    stop: tuple[tuple[Allocation, str, str], ...]
    reconnect: tuple[Allocation, ...]


def reconcile_reconnecting(reconnecting: Mapping[str, Allocation],
                           all_allocs: Mapping[str, Allocation], job: Job,
                           not_needed: str, rescheduled: str, now: int) -> ReconnectDecision:
    """Nomad's ``reconcileReconnecting`` and ``computeReconnecting``.

    A reconnecting alloc that failed is stopped (and rescheduled); one the server no
    longer wants (stopped, migrating, an older job version) is stopped; otherwise it is
    compared with each live replacement (same name, created later) and the loser is
    stopped. The reconnecting allocs kept and running get their ``running`` AllocState.
    """
    stop: dict[str, tuple[Allocation, str, str]] = {}
    for alloc in sorted(reconnecting.values(), key=lambda a: (a.index, a.id)):
        if not alloc.server_terminal_status() and alloc.client_status == "failed":
            stop[alloc.id] = (alloc, rescheduled, "failed")
            continue
        transition = alloc.desired_transition
        outdated = alloc.job is not None and (alloc.job.version < job.version
                                              or alloc.job.create_index < job.create_index)
        if alloc.desired_status != "run" or transition.migrate or transition.reschedule \
                or transition.force_reschedule or outdated:
            stop[alloc.id] = (alloc, not_needed, "")
            continue
        for other in sorted(all_allocs.values(), key=lambda a: (a.create_index, a.id)):
            if other.id == alloc.id or other.name != alloc.name \
                    or other.create_index <= alloc.create_index or other.server_terminal_status():
                continue
            keep = pick_reconnecting_alloc(_strategy(alloc), alloc, other)
            if keep is other:
                stop.setdefault(alloc.id, (alloc, not_needed, ""))
            else:
                stop[other.id] = (other, ALLOC_RECONNECTED, "")
    reconnect = tuple(
        with_client_state(alloc, alloc.client_status, now)
        for alloc in sorted(reconnecting.values(), key=lambda a: (a.index, a.id))
        if alloc.id not in stop and alloc.client_status == "running")
    return ReconnectDecision(tuple(stop.values()), reconnect)
