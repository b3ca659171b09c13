"""The server's flow in step mode: stages, optimistic plan checks, system jobs, reprs."""

from __future__ import annotations

import dataclasses

import nomadlab as nl
from nomadlab.scheduler.fit import allocated_resources_for
from nomadlab.structs import Allocation
from test_scenarios import job_hcl


def test_step_mode_moves_one_stage_at_a_time() -> None:
    with nl.dev(clients=1, mode="step", seed=2) as c:
        ev = c.submit(job_hcl(count=1, memory=64))
        stages = []
        while (record := c.step()) is not None:
            stages.append(record.stage)
            if record.stage == "plan-submitted":
                assert c.allocs("web") == [], "nothing is committed before the plan is applied"
        assert stages == ["eval-dequeued", "plan-submitted", "plan-applied", "eval-completed"]
        assert c.eval(ev.id).status == "complete" and len(c.allocs("web")) == 1


def test_plan_applier_rejects_a_node_that_filled_up_meanwhile() -> None:
    with nl.dev(clients=0, mode="step", seed=2) as c:
        node = c.add_node("only", cpu=4000, memory=1024)
        c.submit(job_hcl(count=1, memory=768))
        assert c.step().stage == "eval-dequeued"
        assert c.step().stage == "plan-submitted"
        # Another scheduler commits first and takes most of the node's memory.
        other = nl.parse_job(job_hcl(job_id="other", memory=768))
        c.server.state.upsert_allocs([Allocation(
            id="squatter", name="other.api[0]", namespace="default", node_id=node.id,
            node_name=node.name, job_id="other", job=other, task_group="api",
            allocated_resources=allocated_resources_for(other.task_groups[0]),
            desired_status="run", client_status="running")])
        record = c.step()
        assert record.stage == "plan-partially-applied"
        assert "resources exhausted: memory" in record.detail
        rest = c.run_until_idle()
        assert [a.id for a in c.allocs("web")] == []
        ev = c.evals("web")[0]
        assert ev.status == "complete" and ev.failed_tg_allocs["api"].dimension_exhausted == {
            "memory": 1}
        assert any(r.stage == "blocked-eval-created" for r in rest)


def test_system_job_skips_filtered_nodes_without_blocking() -> None:
    with nl.dev(clients=0, mode="step", seed=2) as c:
        c.add_node("linux")
        c.add_node("win", attributes={"kernel.name": "windows"})
        ev = c.submit(job_hcl(job_id="agent", type_="system", memory=64,
                              job_extra='constraint {\n attribute = "${attr.kernel.name}"\n'
                                        ' value = "linux"\n }'))
        c.run_until_idle()
        assert [a.node_name for a in c.allocs("agent")] == ["linux"]
        done = c.eval(ev.id)
        assert done.failed_tg_allocs == {} and done.blocked_eval == ""


def test_trace_renders_as_text_and_html() -> None:
    with nl.dev(clients=2, mode="step", seed=2) as c:
        ev = c.submit(job_hcl(count=1, memory=64))
        c.run_until_idle()
        trace = c.eval(ev.id).trace
        text = str(trace)
        assert "web.api[0]: chosen" in text and "chosen" in text
        html = trace._repr_html_()
        assert html.count("<tr>") == 1 + len(trace.placements[0].nodes)
        rows = trace.rows()
        assert {r["outcome"] for r in rows} <= {"chosen", "scored", "filtered", "exhausted",
                                                "skipped"}


def test_history_lets_a_notebook_go_back_in_time() -> None:
    with nl.dev(clients=1, mode="step", seed=2) as c:
        before = c.index
        c.submit(job_hcl(count=2, memory=64))
        c.run_until_idle()
        assert c.server.state.snapshot_at(before).allocs("web") == []
        assert len(c.server.state.snapshot().allocs("web")) == 2


def test_stopping_a_job_stops_its_allocs_and_frees_capacity() -> None:
    with nl.dev(clients=0, mode="step", seed=2) as c:
        c.add_node("a", memory=1024)
        c.submit(job_hcl(job_id="big", count=1, memory=768))
        c.run_until_idle()
        ev = c.submit(job_hcl(job_id="web", count=1, memory=768))
        c.run_until_idle()
        blocked = c.eval(c.eval(ev.id).blocked_eval)
        assert blocked.status == "blocked"
        c.stop("big")
        c.run_until_idle()
        assert all(a.desired_status == "stop" for a in c.allocs("big"))
        # the stopped alloc's capacity returns once its client reports it complete
        big = c.allocs("big")[0]
        c.server.update_allocs_from_client([dataclasses.replace(big, client_status="complete")])
        c.run_until_idle()
        assert [a.node_name for a in c.allocs("web") if a.desired_status == "run"] == ["a"]
        assert "stopped on node" in (c.server.blocked.unblocked_by(blocked.id) or "")


def test_plan_applier_lets_updates_of_finished_allocs_through_on_a_down_node() -> None:
    from nomadlab.server.plan_apply import evaluate_plan
    from nomadlab.structs import Plan
    with nl.dev(clients=1, mode="step", seed=2) as c:
        c.submit(job_hcl(count=1, memory=64))
        c.run_until_idle()
        (alloc,) = c.allocs("web")
        c.server.update_allocs_from_client([dataclasses.replace(alloc, client_status="failed")])
        c.server.state.update_node_status(alloc.node_id, "down")
        failed = c.alloc(alloc.id)
        plan = Plan(node_allocation={alloc.node_id: [dataclasses.replace(
            failed, followup_eval_id="next")]})
        result, reasons = evaluate_plan(c.server.state.snapshot(), plan)
        assert result.rejected_nodes == [] and reasons == {}
        fresh = dataclasses.replace(failed, id="new", client_status="pending")
        result, reasons = evaluate_plan(c.server.state.snapshot(),
                                        Plan(node_allocation={alloc.node_id: [fresh]}))
        assert result.rejected_nodes == [alloc.node_id] and "down" in reasons[alloc.node_id]


def test_an_eval_the_scheduler_keeps_failing_on_ends_failed(monkeypatch) -> None:
    import nomadlab.server.server as server_module

    def broken(*args, **kwargs):
        raise RuntimeError("scheduler bug")

    with nl.dev(clients=1, mode="step", seed=2) as c:
        monkeypatch.setattr(server_module, "schedule", broken)
        ev = c.submit(job_hcl(count=1, memory=64))
        records = c.run_until_idle()
        assert [r.stage for r in records].count("eval-nacked") == 3
        assert records[-1].stage == "eval-failed"
        done = c.eval(ev.id)
        assert done.status == "failed" and "delivery limit (3)" in done.status_description
