"""Nomad's reschedule delays and eligibility, with exact numbers an operator can check."""

from __future__ import annotations

import pytest
from factories import NOW, make_alloc, make_job

from nomadlab.structs import ReschedulePolicy, RescheduleEvent, TaskState
from nomadlab.structs.duration import HOUR, MINUTE, SECOND
from nomadlab.scheduler.reschedule import (last_event_time, next_delay, next_reschedule_time,
                                           next_reschedule_tracker, parse_time,
                                           penalty_node_ids, reschedule_eligible)


def policy(fn: str, delay: int = 5 * SECOND, max_delay: int = 0, attempts: int = 0,
           interval: int = 0, unlimited: bool = True) -> ReschedulePolicy:
    return ReschedulePolicy(attempts=attempts, interval=interval, delay=delay,
                            delay_function=fn, max_delay=max_delay, unlimited=unlimited)


def with_delays(delays: list[int], fn: str, **kw):
    """A failed alloc whose tracker records earlier reschedules with these delays."""
    pol = policy(fn, **kw)
    job = make_job(1, reschedule=pol)
    events = [RescheduleEvent(reschedule_time=NOW - (len(delays) - i) * SECOND,
                              prev_alloc_id=f"p{i}", prev_node_id=f"n{i}", delay=d)
              for i, d in enumerate(delays)]
    return make_alloc(job, 0, failed_at=NOW, reschedule_events=events), pol


@pytest.mark.parametrize("n, expected", [(0, 5), (1, 5), (2, 5), (5, 5)])
def test_constant_delay(n, expected):
    alloc, pol = with_delays([5 * SECOND] * n, "constant")
    assert next_delay(alloc, pol) == expected * SECOND


@pytest.mark.parametrize("delays, expected", [
    ([], 5), ([5], 10), ([5, 10], 20), ([5, 10, 20], 40), ([5, 10, 20, 40], 60),
])
def test_exponential_delay_doubles_up_to_max_delay(delays, expected):
    alloc, pol = with_delays([d * SECOND for d in delays], "exponential", max_delay=MINUTE)
    assert next_delay(alloc, pol) == expected * SECOND


@pytest.mark.parametrize("delays, expected", [
    ([], 5), ([5], 5), ([5, 5], 10), ([5, 5, 10], 15), ([5, 5, 10, 15], 25),
    ([5, 5, 10, 15, 25], 30),
])
def test_fibonacci_delay_adds_last_two_up_to_max_delay(delays, expected):
    alloc, pol = with_delays([d * SECOND for d in delays], "fibonacci", max_delay=30 * SECOND)
    assert next_delay(alloc, pol) == expected * SECOND


def test_fibonacci_series_restarts_after_a_reset():
    alloc, pol = with_delays([30 * SECOND, 5 * SECOND], "fibonacci", max_delay=30 * SECOND)
    assert next_delay(alloc, pol) == 5 * SECOND


def test_capped_delay_resets_when_the_alloc_ran_longer_than_max_delay():
    alloc, pol = with_delays([40 * SECOND], "exponential", max_delay=MINUTE)
    alloc.reschedule_tracker.events[-1].reschedule_time = NOW - 2 * MINUTE
    assert next_delay(alloc, pol) == 5 * SECOND


def test_service_default_first_reschedule_is_30s_after_failure():
    job = make_job(1)  # canonical service policy: 30s exponential, 1h max, unlimited
    pol = job.task_groups[0].reschedule_policy
    alloc = make_alloc(job, 0, failed_at=NOW)
    assert next_reschedule_time(alloc, pol, "service") == (NOW + 30 * SECOND, True)


def test_attempts_within_interval_exhausted():
    pol = policy("constant", attempts=2, interval=HOUR, unlimited=False)
    job = make_job(1, reschedule=pol)
    recent = [RescheduleEvent(reschedule_time=NOW - m * MINUTE, delay=5 * SECOND)
              for m in (20, 10)]
    alloc = make_alloc(job, 0, failed_at=NOW, reschedule_events=recent)
    assert next_reschedule_time(alloc, pol, "service")[1] is False
    assert reschedule_eligible(alloc.reschedule_tracker, pol, NOW) is False


def test_attempts_outside_interval_do_not_count():
    pol = policy("constant", attempts=2, interval=HOUR, unlimited=False)
    job = make_job(1, reschedule=pol)
    events = [RescheduleEvent(reschedule_time=NOW - 2 * HOUR, delay=5 * SECOND),
              RescheduleEvent(reschedule_time=NOW - 10 * MINUTE, delay=5 * SECOND)]
    alloc = make_alloc(job, 0, failed_at=NOW, reschedule_events=events)
    assert next_reschedule_time(alloc, pol, "service") == (NOW + 5 * SECOND, True)


def test_no_attempts_and_not_unlimited_disables_rescheduling():
    pol = policy("constant", attempts=0, unlimited=False)
    alloc = make_alloc(make_job(1, reschedule=pol), 0, failed_at=NOW)
    assert next_reschedule_time(alloc, pol, "service") == (0, False)


def test_running_alloc_is_never_due():
    pol = policy("constant")
    alloc = make_alloc(make_job(1, reschedule=pol), 0, modify_time=NOW)
    assert next_reschedule_time(alloc, pol, "service")[1] is False


def test_failure_time_is_the_latest_task_finish():
    alloc = make_alloc(make_job(1), 0, failed_at=NOW)
    alloc.task_states = {"a": TaskState(state="dead", failed=True,
                                        finished_at="2023-11-14T22:13:20.5Z"),
                         "b": TaskState(state="dead", finished_at="2023-11-14T22:13:10Z")}
    assert last_event_time(alloc) == 1_700_000_000 * SECOND + SECOND // 2


@pytest.mark.parametrize("text, nanos", [
    ("1970-01-01T00:00:01Z", SECOND), ("1970-01-01T01:00:00+01:00", 0),
    ("1970-01-01T00:00:00.000000001Z", 1), ("0001-01-01T00:00:00Z", 0), ("", 0),
    ("garbage", 0),
])
def test_parse_time(text, nanos):
    assert parse_time(text) == nanos


def test_replacement_tracker_appends_this_attempt_and_keeps_recent_ones():
    pol = policy("exponential", attempts=3, interval=HOUR, unlimited=False)
    old = RescheduleEvent(reschedule_time=NOW - 2 * HOUR, prev_alloc_id="x", delay=5 * SECOND)
    recent = RescheduleEvent(reschedule_time=NOW - MINUTE, prev_alloc_id="y",
                             prev_node_id="n-y", delay=5 * SECOND)
    alloc = make_alloc(make_job(1, reschedule=pol), 0, "n-z", failed_at=NOW,
                       reschedule_events=[old, recent])
    tracker = next_reschedule_tracker(alloc, pol, NOW)
    assert [e.prev_alloc_id for e in tracker.events] == ["y", alloc.id]
    assert tracker.events[-1].delay == 10 * SECOND
    assert tracker.events[-1].reschedule_time == NOW
    assert penalty_node_ids(alloc) == {"n-y", "n-z", ""}


def test_unlimited_tracker_keeps_only_last_five():
    pol = policy("constant")
    events = [RescheduleEvent(reschedule_time=NOW - i, prev_alloc_id=str(i)) for i in range(8)]
    alloc = make_alloc(make_job(1, reschedule=pol), 0, failed_at=NOW, reschedule_events=events)
    tracker = next_reschedule_tracker(alloc, pol, NOW)
    assert [e.prev_alloc_id for e in tracker.events] == ["3", "4", "5", "6", "7", alloc.id]
