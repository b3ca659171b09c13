"""The eval broker: priority then FIFO, one outstanding eval per job, nack and failure."""

from __future__ import annotations

import threading
import time

import pytest

from nomadlab.server import FAILED_QUEUE, BrokerDisabled, BrokerError, EvalBroker
from nomadlab.structs import Evaluation


def ev(eval_id: str, job_id: str = "", priority: int = 50, index: int = 0,
       eval_type: str = "service") -> Evaluation:
    return Evaluation(id=eval_id, job_id=job_id or f"job-{eval_id}", priority=priority,
                      type=eval_type, create_index=index, modify_index=index)


def drain(broker: EvalBroker, schedulers=("service", "batch")) -> list[str]:
    out = []
    while (got := broker.dequeue(schedulers)) is not None:
        out.append(got[0].id)
        broker.ack(got[0].id, got[1])
    return out


def test_higher_priority_first_then_oldest_first_across_queues() -> None:
    broker = EvalBroker()
    for e in [ev("low", priority=10, index=1), ev("b2", index=3, eval_type="batch"),
              ev("s1", index=2), ev("high", priority=90, index=9), ev("s0", index=1)]:
        broker.enqueue(e)
    assert drain(broker) == ["high", "s0", "s1", "b2", "low"]
    assert broker.dequeue(["service"]) is None


def test_only_one_eval_per_job_is_outstanding_and_the_newest_waiting_wins() -> None:
    broker = EvalBroker()
    assert broker.enqueue(ev("e1", job_id="web", index=1)) == []
    assert broker.enqueue(ev("e2", job_id="web", index=2)) == []
    canceled = broker.enqueue(ev("e3", job_id="web", index=3))
    assert [e.id for e in canceled] == ["e2"]
    assert [e.id for e in broker.enqueue(ev("e0", job_id="web", index=0))] == ["e0"]
    assert broker.stats()["TotalBlocked"] == 1
    first, token = broker.dequeue(["service"])
    assert first.id == "e1" and broker.dequeue(["service"]) is None
    broker.ack("e1", token)
    assert drain(broker) == ["e3"]


def test_nack_redelivers_until_the_delivery_limit_then_fails() -> None:
    broker = EvalBroker(delivery_limit=3)
    broker.enqueue(ev("e1", job_id="web"))
    broker.enqueue(ev("e2", job_id="web"))
    for _ in range(3):
        got, token = broker.dequeue(["service"])
        assert got.id == "e1"
        broker.nack("e1", token)
    assert [e.id for e in broker.failed()] == ["e1"]
    assert broker.dequeue(["service"]) is None  # e2 still waits behind its job's failed eval
    failed, token = broker.dequeue([FAILED_QUEUE])
    broker.ack(failed.id, token)
    assert drain(broker) == ["e2"]


def test_ack_and_nack_check_the_token() -> None:
    broker = EvalBroker()
    broker.enqueue(ev("e1"))
    _, token = broker.dequeue(["service"])
    assert broker.outstanding() == {"e1": token}
    with pytest.raises(BrokerError, match="token does not match"):
        broker.ack("e1", "not-the-token")
    with pytest.raises(BrokerError, match="not outstanding"):
        broker.nack("nope", token)
    broker.ack("e1", token)
    assert broker.stats() == {"TotalReady": 0, "TotalUnacked": 0, "TotalBlocked": 0,
                              "TotalFailedQueue": 0, "ByScheduler": {}}


def test_stats_count_ready_and_unacked_per_scheduler() -> None:
    broker = EvalBroker()
    broker.enqueue(ev("e1"))
    broker.enqueue(ev("e2", eval_type="batch"))
    broker.dequeue(["service"])
    assert broker.stats()["ByScheduler"] == {"batch": {"Ready": 1, "Unacked": 0},
                                             "service": {"Ready": 0, "Unacked": 1}}


def test_dequeue_waits_up_to_its_timeout_and_wakes_on_enqueue() -> None:
    broker = EvalBroker()
    started = time.monotonic()
    assert broker.dequeue(["service"], timeout=0.05) is None
    assert time.monotonic() - started >= 0.04
    threading.Timer(0.05, lambda: broker.enqueue(ev("late"))).start()
    got = broker.dequeue(["service"], timeout=5)
    assert got is not None and got[0].id == "late"


def test_nack_timeout_uses_the_injected_clock() -> None:
    now = [0.0]
    broker = EvalBroker(nack_timeout=10, clock=lambda: now[0])
    broker.enqueue(ev("e1"))
    _, token = broker.dequeue(["service"])
    now[0] = 5
    assert broker.reap_nack_timeouts() == []
    broker.outstanding_reset("e1", token)
    now[0] = 14
    assert broker.reap_nack_timeouts() == []
    now[0] = 15
    assert broker.reap_nack_timeouts() == ["e1"]
    assert broker.dequeue(["service"])[0].id == "e1"


def test_tokens_are_deterministic_and_disabling_flushes() -> None:
    a, b = EvalBroker(), EvalBroker()
    for broker in (a, b):
        broker.enqueue(ev("e1"))
    assert a.dequeue(["service"])[1] == b.dequeue(["service"])[1]
    a.set_enabled(False)
    assert a.enqueue(ev("e2")) == [] and a.stats()["TotalReady"] == 0
    with pytest.raises(BrokerDisabled):
        a.dequeue(["service"])
