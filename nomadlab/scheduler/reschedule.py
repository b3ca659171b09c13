"""When may a failed allocation be replaced? Nomad's reschedule arithmetic, without a clock.

Ports of ``Allocation.LastEventTime``, ``NextDelay``, ``NextRescheduleTime``,
``RescheduleTracker.RescheduleEligible`` (``nomad/structs/structs.go``) and the
scheduler's ``updateRescheduleTracker`` / penalty nodes (``scheduler/generic_sched.go``).
Every time is integer nanoseconds since the Unix epoch and ``now`` is always passed in.

Delay functions, after ``n`` earlier reschedules recorded in the tracker:

* ``constant``: always ``delay``;
* ``exponential``: the last event's delay doubled (``delay * 2**n``);
* ``fibonacci``: the sum of the last two delays (``delay, delay, 2*delay, 3*delay, ...``);

each capped at ``max_delay`` when that is set. Once capped, an allocation that ran for
longer than ``max_delay`` since its last reschedule starts again from ``delay``.
"""

from __future__ import annotations

from typing import Optional

from ..structs import Allocation, ReschedulePolicy, RescheduleEvent, RescheduleTracker
from ..structs.timestamps import parse_rfc3339
from ..structs.duration import SECOND

__all__ = ["RESCHEDULE_WINDOW", "MAX_PAST_RESCHEDULE_EVENTS", "parse_time", "last_event_time",
           "next_delay", "reschedule_info", "reschedule_eligible", "should_reschedule",
           "next_reschedule_time", "next_reschedule_tracker", "penalty_node_ids"]

#: A failed alloc due within this window is rescheduled now (Nomad's rescheduleWindowSize).
RESCHEDULE_WINDOW = 1 * SECOND
#: Unlimited policies carry only this many past events forward (maxPastRescheduleEvents).
MAX_PAST_RESCHEDULE_EVENTS = 5

def parse_time(text: Optional[str]) -> int:
    """An RFC 3339 timestamp (as TaskState.FinishedAt travels) in nanoseconds; 0 if unset."""
    return parse_rfc3339(text)


def last_event_time(alloc: Allocation) -> int:
    """When the alloc last finished a task (its failure time), else its modify time."""
    latest = max((parse_time(s.finished_at) for s in alloc.task_states.values()), default=0)
    return latest or alloc.modify_time


def _events(alloc: Allocation) -> list[RescheduleEvent]:
    return alloc.reschedule_tracker.events if alloc.reschedule_tracker else []


def next_delay(alloc: Allocation, policy: Optional[ReschedulePolicy]) -> int:
    """How long after its failure ``alloc`` may be replaced (Nomad's ``NextDelay``)."""
    if policy is None:
        return 0
    delay = policy.delay or 0
    max_delay = policy.max_delay or 0
    events = _events(alloc)
    if not events:
        return delay
    if policy.delay_function == "exponential":
        result = events[-1].delay * 2
    elif policy.delay_function == "fibonacci":
        result = delay
        if len(events) >= 2:
            last, before = events[-1].delay, events[-2].delay
            # A capped series that was reset starts over instead of adding up again.
            result = last if (before == max_delay and last == delay) else last + before
    else:
        return delay
    if max_delay > 0 and result > max_delay:
        result = max_delay
        if last_event_time(alloc) - events[-1].reschedule_time > result:
            result = delay
    return result


def reschedule_info(tracker: Optional[RescheduleTracker], policy: Optional[ReschedulePolicy],
                    fail_time: int) -> tuple[int, int]:
    """(reschedules within the policy's interval before ``fail_time``, attempts allowed)."""
    if policy is None:
        return 0, 0
    attempts = policy.attempts or 0
    interval = policy.interval or 0
    attempted = 0
    if tracker is not None and attempts > 0:
        attempted = sum(1 for e in tracker.events if fail_time - e.reschedule_time < interval)
    return attempted, attempts


def reschedule_eligible(tracker: Optional[RescheduleTracker],
                        policy: Optional[ReschedulePolicy], fail_time: int) -> bool:
    """Nomad's ``RescheduleTracker.RescheduleEligible``: attempts left within the interval."""
    if policy is None:
        return False
    attempts = policy.attempts or 0
    if policy.unlimited:
        return True
    if attempts <= 0:
        return False
    if tracker is None or not tracker.events:
        return True
    attempted, _ = reschedule_info(tracker, policy, fail_time)
    return attempted < attempts


def should_reschedule(alloc: Allocation, policy: Optional[ReschedulePolicy],
                      fail_time: int) -> bool:
    """Nomad's ``Allocation.ShouldReschedule``: a failed, still-desired alloc with attempts left."""
    if alloc.server_terminal_status():
        return False
    return alloc.client_status == "failed" and reschedule_eligible(
        alloc.reschedule_tracker, policy, fail_time)


def next_reschedule_time(alloc: Allocation, policy: Optional[ReschedulePolicy],
                         job_type: str) -> tuple[int, bool]:
    """(time on or after which ``alloc`` may be rescheduled, whether it may be at all).

    Nomad's ``NextRescheduleTime``: only failed (or lost) allocs, or batch allocs an
    operator asked to reschedule, are eligible; a policy with no attempts and not
    unlimited disables rescheduling; attempts are counted within ``interval``.
    """
    if policy is None or ((policy.attempts or 0) == 0 and not policy.unlimited):
        return 0, False
    fail_time = last_event_time(alloc)
    rescheduled_batch = job_type == "batch" and bool(alloc.desired_transition.reschedule)
    if (alloc.desired_status == "stop"
            or (not rescheduled_batch and alloc.client_status not in ("failed", "lost"))
            or fail_time == 0):
        return 0, False
    delay = next_delay(alloc, policy)
    attempts = policy.attempts or 0
    events = _events(alloc)
    eligible = bool(policy.unlimited) or (attempts > 0 and not events)
    if attempts > 0 and events:
        attempted, _ = reschedule_info(alloc.reschedule_tracker, policy, fail_time)
        eligible = attempted < attempts and delay < (policy.interval or 0)
    return fail_time + delay, eligible


def next_reschedule_tracker(prev: Allocation, policy: Optional[ReschedulePolicy],
                            now: int) -> RescheduleTracker:
    """The tracker a replacement of ``prev`` carries: past events kept plus this one.

    With ``attempts`` set, events within ``interval`` of ``now`` are kept; an unlimited
    policy keeps the last five. The new event records ``prev`` and the delay it waited.
    """
    kept: list[RescheduleEvent] = []
    events = _events(prev)
    if events:
        attempts = (policy.attempts or 0) if policy else 0
        interval = (policy.interval or 0) if policy else 0
        if attempts > 0:
            kept = [e for e in events if interval > 0 and now - e.reschedule_time <= interval]
        else:
            kept = list(events[-MAX_PAST_RESCHEDULE_EVENTS:])
    kept = [RescheduleEvent(reschedule_time=e.reschedule_time, prev_alloc_id=e.prev_alloc_id,
                            prev_node_id=e.prev_node_id, delay=e.delay) for e in kept]
    kept.append(RescheduleEvent(reschedule_time=now, prev_alloc_id=prev.id,
                                prev_node_id=prev.node_id, delay=next_delay(prev, policy)))
    return RescheduleTracker(events=kept)


def penalty_node_ids(prev: Optional[Allocation]) -> frozenset[str]:
    """Nodes the replacement of ``prev`` should avoid (the node reschedule penalty).

    The node ``prev`` failed on, and every node an earlier attempt in its tracker ran on.
    """
    if prev is None:
        return frozenset()
    nodes = {e.prev_node_id for e in _events(prev)}
    if prev.client_status == "failed":
        nodes.add(prev.node_id)
    return frozenset(nodes)
