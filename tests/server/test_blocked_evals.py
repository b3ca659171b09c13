"""Blocked evaluations: woken by class, escaped, one per job, the snapshot race, reasons."""

from __future__ import annotations

from nomadlab.server import BlockedEvals
from nomadlab.structs import Evaluation


def blocked(eval_id: str, job_id: str = "", eligibility=None, escaped: bool = False,
            snapshot: int = 10, index: int = 0, **kw) -> Evaluation:
    return Evaluation(id=eval_id, job_id=job_id or f"job-{eval_id}", type="service",
                      status="blocked", class_eligibility=dict(eligibility or {}),
                      escaped_computed_class=escaped, snapshot_index=snapshot,
                      create_index=index, **kw)


def test_unblock_wakes_eligible_and_unknown_classes_but_not_ineligible() -> None:
    evals = BlockedEvals()
    evals.block(blocked("yes", eligibility={"v1:large": True}))
    evals.block(blocked("no", eligibility={"v1:large": False, "v1:small": True}))
    evals.block(blocked("unknown", eligibility={"v1:small": True}))
    woken = evals.unblock("v1:large", index=20)
    assert sorted(e.id for e in woken) == ["unknown", "yes"]
    assert [e.id for e in evals.blocked()] == ["no"]
    assert [e.id for e in evals.unblock("v1:small", index=21)] == ["no"]
    assert evals.stats()["TotalBlocked"] == 0


def test_escaped_evals_wake_on_any_change() -> None:
    evals = BlockedEvals()
    evals.block(blocked("esc", eligibility={"v1:large": False}, escaped=True))
    assert evals.stats()["TotalEscaped"] == 1
    assert [e.id for e in evals.unblock("v1:large", index=20)] == ["esc"]


def test_one_blocked_eval_per_job_the_newest_wins() -> None:
    evals = BlockedEvals()
    assert evals.block(blocked("old", job_id="web", index=5)).canceled == ()
    result = evals.block(blocked("new", job_id="web", index=7))
    assert [e.id for e in result.canceled] == ["old"]
    stale = evals.block(blocked("older", job_id="web", index=3))
    assert [e.id for e in stale.canceled] == ["older"]
    assert [e.id for e in evals.blocked()] == ["new"]
    assert [e.id for e in evals.untrack("default", "web")] == ["new"]
    assert evals.blocked() == []


def test_a_change_after_the_evals_snapshot_unblocks_it_at_once() -> None:
    evals = BlockedEvals()
    evals.unblock("v1:large", index=15)
    evals.unblock("v1:tiny", index=25)
    result = evals.block(blocked("raced", eligibility={"v1:large": True, "v1:tiny": False},
                                 snapshot=10))
    assert [e.id for e in result.unblocked] == ["raced"] and evals.blocked() == []
    assert "index 15" in evals.unblocked_by("raced")
    unseen = evals.block(blocked("unseen", eligibility={"v1:large": False}, snapshot=20))
    assert [e.id for e in unseen.unblocked] == ["unseen"]  # never saw v1:tiny (index 25)
    calm = evals.block(blocked("calm", eligibility={"v1:large": True, "v1:tiny": False},
                               snapshot=30))
    assert calm.unblocked == () and [e.id for e in evals.blocked()] == ["calm"]
    esc = evals.block(blocked("esc", eligibility={"v1:large": False, "v1:tiny": False},
                              escaped=True, snapshot=20))
    assert [e.id for e in esc.unblocked] == ["esc"]


def test_what_unblocked_an_eval_is_recorded() -> None:
    evals = BlockedEvals()
    evals.block(blocked("e1"))
    evals.block(Evaluation(id="sys", job_id="agent", type="system", node_id="abc12345-ffff",
                           status="blocked"))
    woken = evals.unblock_node("abc12345-ffff", "v1:1234", index=30,
                               reason='node "abc12345" joined (class v1:1234)')
    assert sorted(e.id for e in woken) == ["e1", "sys"]
    assert evals.unblocked_by("e1") == 'node "abc12345" joined (class v1:1234)'
    assert evals.unblocked_by("sys") == 'node "abc12345" joined (class v1:1234)'
    assert evals.unblocked_by("never") is None
    evals.block(blocked("e2", eligibility={"v1:1234": False}))
    evals.unblock("v1:other", index=31,
                  reason='allocation "x" stopped on node "y"')
    assert evals.unblocked_by("e2") == 'allocation "x" stopped on node "y"'
    assert evals.unblock_indexes() == {"v1:1234": 30, "v1:other": 31}


def test_unblock_failed_wakes_only_max_plan_attempt_evals() -> None:
    evals = BlockedEvals()
    evals.block(blocked("plain"))
    evals.block(blocked("retry", triggered_by="max-plan-attempts"))
    assert [e.id for e in evals.unblock_failed()] == ["retry"]
    assert [e.id for e in evals.blocked()] == ["plain"]
