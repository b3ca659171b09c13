"""Graders for the "check yourself" exercise at the end of each lab.

Each ``check_NN`` looks at the learner's work through the public agent API only (jobs,
evaluations, allocations, nodes, logs), the way a colleague would look at a cluster, and
returns a :class:`Feedback`: the list of what is still wrong, in plain words, which shows
itself in a notebook as a short message.  An empty Feedback means the exercise is done.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Optional

from ..structs import Allocation, Job, Node

__all__ = ["Feedback", "check_01", "check_02", "check_03", "check_04", "check_05", "check_06",
           "check_07"]


class Feedback(list):
    """What is still to do for one exercise (a list of sentences); empty once it is done."""

    def __init__(self, lab: str, todo: Iterable[str], done: str) -> None:
        super().__init__(todo)
        self.lab = lab
        self.done = done

    @property
    def passed(self) -> bool:
        return not self

    def __str__(self) -> str:
        if self.passed:
            return f"Lab {self.lab}: all done! {self.done}"
        return f"Lab {self.lab}, still to do:\n" + "\n".join(f"  - {item}" for item in self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


# -- reading the cluster ------------------------------------------------------------------


def _job(c: Any, job_id: str) -> Optional[Job]:
    try:
        return c.job(job_id)
    except KeyError:
        return None


def _settle(c: Any, timeout: float = 10.0) -> None:
    """Let pending evaluations finish, so the grader judges the outcome, not a moment."""
    try:
        c.run_until_idle(timeout=timeout)
    except TimeoutError:
        pass


def _live_allocs(c: Any, job_id: str) -> list[Allocation]:
    return [a for a in c.allocs(job_id) if a.desired_status == "run"]


def _wait_for(c: Any, job_id: str, statuses: tuple[str, ...], timeout: float) -> list[Allocation]:
    """The job's live allocations once none is pending any more (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        _settle(c, timeout=max(deadline - time.monotonic(), 0.1))
        allocs = _live_allocs(c, job_id)
        if allocs and all(a.client_status in statuses for a in allocs):
            return allocs
        if time.monotonic() > deadline:
            return allocs
        time.sleep(0.1)


def _node_by_name(c: Any, name: str) -> Optional[Node]:
    named = [n for n in c.nodes() if n.name == name]
    return named[0] if named else None


def _why_failed(alloc: Allocation) -> str:
    """The last task event that explains a failure, in Nomad's own words."""
    for state in alloc.task_states.values():
        for event in reversed(state.events):
            text = event.display_message or event.message or event.driver_error
            if event.type in ("Driver Failure", "Terminated", "Not Restarting", "Setup Failure",
                              "Failed Validation") and text:
                return f"{event.type}: {text}"
    return alloc.client_description or "no task events yet"


def _at_every_level(job: Job, blocks: str) -> list[Any]:
    """``constraints`` or ``affinities`` of the job, its groups and their tasks."""
    found = list(getattr(job, blocks))
    for group in job.task_groups:
        found += getattr(group, blocks)
        for task in group.tasks:
            found += getattr(task, blocks)
    return found


def _all_constraints(job: Job) -> list[Any]:
    return _at_every_level(job, "constraints")


def _all_affinities(job: Job) -> list[Any]:
    return _at_every_level(job, "affinities")


def _placement_failures(c: Any, job_id: str) -> list[str]:
    """What the job's newest evaluation could not place, as ``nomad job status`` puts it."""
    evals = sorted(c.evals(job_id), key=lambda e: e.create_index)
    done = [e for e in evals if e.status != "blocked"]
    if not done or not done[-1].failed_tg_allocs:
        return []
    lines = []
    for group, metric in sorted(done[-1].failed_tg_allocs.items()):
        reasons = [f'constraint "{k}" filtered {v} node(s)'
                   for k, v in sorted(metric.constraint_filtered.items())]
        reasons += [f'class "{k}" filtered {v} node(s)' for k, v in sorted(metric.class_filtered.items())]
        reasons += [f'dimension "{k}" exhausted on {v} node(s)'
                    for k, v in sorted(metric.dimension_exhausted.items())]
        lines.append(f'group "{group}" could not place every allocation'
                     + (f" ({'; '.join(reasons)})" if reasons else ""))
    return lines


# -- lab 01: components ----------------------------------------------------------------------


def check_01(c: Any, name: str = "edge-1") -> Feedback:
    """A simulated node ``edge-1`` in datacenter dc2, class edge, meta zone=north, exec only."""
    todo: list[str] = []
    node = _node_by_name(c, name)
    if node is None:
        names = ", ".join(sorted(n.name for n in c.nodes())) or "none"
        return Feedback("01", [f'there is no node called "{name}" yet (the nodes are: {names}); '
                               f'add one with c.add_node(name="{name}", ...)'], "")
    if node.datacenter != "dc2":
        todo.append(f'node {name} is in datacenter "{node.datacenter}", not "dc2"')
    if node.node_class != "edge":
        todo.append(f'node {name} has node class "{node.node_class}", not "edge"')
    if node.meta.get("zone") != "north":
        todo.append(f'node {name} has meta {dict(node.meta)}; it needs zone = "north"')
    if node.attributes.get("nomadlab.simulated") != "true":
        todo.append(f"node {name} is a real client; make it simulated (simulated=True) so it "
                    "runs nothing on this machine")
    advertised = sorted(d for d, info in node.drivers.items() if info.detected)
    if advertised != ["exec"]:
        todo.append(f"node {name} advertises the drivers {advertised}; it should offer only "
                    "exec (drivers=(\"exec\",))")
    if node.status != "ready":
        todo.append(f'node {name} is "{node.status}", not "ready"')
    return Feedback("01", todo, f'Node {name} ({node.id[:8]}) is ready in dc2 as class "edge".')


# -- lab 02: your first job -----------------------------------------------------------------


def check_02(c: Any, job_id: str = "greet") -> Feedback:
    """Service job ``greet``: group ``greeters`` x2, task ``hello`` (exec, 64 MB), all running."""
    job = _job(c, job_id)
    if job is None:
        return Feedback("02", [f'there is no job "{job_id}" yet: write its spec and run it '
                               "(c.submit(spec) or %%nomad job run)"], "")
    todo: list[str] = []
    if job.type != "service":
        todo.append(f'job {job_id} is a {job.type} job; make it a "service" job (it keeps running)')
    groups = {g.name: g for g in job.task_groups}
    group = groups.get("greeters")
    if group is None:
        todo.append(f'job {job_id} has no group "greeters" (its groups: {", ".join(groups)})')
    else:
        if group.count != 2:
            todo.append(f"group greeters asks for {group.count} copies (count); it should ask for 2")
        tasks = {t.name: t for t in group.tasks}
        task = tasks.get("hello")
        if task is None:
            todo.append(f'group greeters has no task "hello" (its tasks: {", ".join(tasks)})')
        else:
            if task.driver != "exec":
                todo.append(f'task hello uses the "{task.driver}" driver; use "exec"')
            if task.resources.memory_mb != 64:
                todo.append(f"task hello asks for {task.resources.memory_mb} MB of memory; ask for 64")
    if job.stop:
        todo.append(f"job {job_id} was stopped; run it again")
    elif not todo:
        allocs = _wait_for(c, job_id, ("running", "failed", "complete", "lost"), timeout=10)
        running = [a for a in allocs if a.client_status == "running"]
        if len(running) < 2:
            todo += _placement_failures(c, job_id)
            for a in allocs:
                if a.client_status != "running":
                    todo.append(f"allocation {a.name} is {a.client_status} ({_why_failed(a)}); "
                                "its command must keep running, e.g. sleep 300")
            if not allocs and not todo:
                todo.append(f"job {job_id} has no allocations yet")
    return Feedback("02", todo, f"Job {job_id} runs 2 copies of hello.")


# -- lab 03: scheduling ---------------------------------------------------------------------


def check_03(c: Any, job_id: str = "pinned") -> Feedback:
    """``pinned``: 3 copies only on class "large" (constraint), preferring rack r2 (affinity)."""
    job = _job(c, job_id)
    if job is None:
        return Feedback("03", [f'there is no job "{job_id}" yet: write its spec and run it'], "")
    todo: list[str] = []
    if sum(g.count for g in job.task_groups) != 3:
        todo.append(f"job {job_id} asks for {sum(g.count for g in job.task_groups)} allocations; "
                    "ask for 3 (count = 3)")
    constraints = _all_constraints(job)
    if not any(x.ltarget == "${node.class}" and x.operand in ("=", "==", "is")
               and x.rtarget == "large" for x in constraints):
        seen = ", ".join(f'"{x}"' for x in constraints) or "none"
        todo.append(f'add a constraint that keeps the job on class "large": attribute = '
                    f'"${{node.class}}", value = "large" (constraints now: {seen})')
    affinities = _all_affinities(job)
    if not any(a.ltarget == "${meta.rack}" and a.rtarget == "r2" and (a.weight or 0) > 0
               for a in affinities):
        seen = ", ".join(f'"{a}" weight {a.weight}' for a in affinities) or "none"
        todo.append(f'add an affinity with a positive weight for attribute "${{meta.rack}}" and '
                    f'value "r2" (affinities now: {seen})')
    _settle(c)
    allocs = _live_allocs(c, job_id)
    todo += _placement_failures(c, job_id)
    classes = {n.id: n.node_class for n in c.nodes()}
    wrong = [f"{a.name} on {a.node_name} (class {classes.get(a.node_id) or 'none'})"
             for a in allocs if classes.get(a.node_id) != "large"]
    if wrong:
        todo.append("some allocations are not on large nodes: " + ", ".join(wrong)
                    + " (did you run the new version of the job?)")
    if len(allocs) < 3 and not _placement_failures(c, job_id):
        todo.append(f"job {job_id} has {len(allocs)} allocation(s) placed, not 3")
    return Feedback("03", todo, f"Job {job_id} runs only on large nodes and leans towards rack r2.")


# -- lab 04: when it does not fit -------------------------------------------------------------


def check_04(c: Any, job_id: str = "train", version: int = 0) -> Feedback:
    """Job ``train`` placed in full by adding the right node, without changing the job."""
    job = _job(c, job_id)
    if job is None:
        return Feedback("04", [f'there is no job "{job_id}": run the cells above first'], "")
    todo: list[str] = []
    if job.version != version:
        todo.append(f"job {job_id} was changed (it is at version {job.version}, it started at "
                    f"{version}); the exercise is to change the cluster, not the job")
    _settle(c)
    failures = _placement_failures(c, job_id)
    blocked = [e for e in c.evals(job_id) if e.status == "blocked"]
    allocs = _live_allocs(c, job_id)
    wanted = sum(g.count for g in job.task_groups)
    if failures:
        todo += [f"still not placed: {line}" for line in failures]
    if blocked:
        todo.append(f"evaluation {blocked[0].id[:8]} is still blocked, waiting for a node that fits; "
                    "read its FailedTGAllocs to see which node would")
    if len(allocs) < wanted and not failures and not blocked:
        todo.append(f"job {job_id} has {len(allocs)} of {wanted} allocations")
    return Feedback("04", todo, f"All {wanted} allocations of {job_id} are placed; "
                                "the blocked evaluation was unblocked by your node.")


# -- lab 05: drivers and the task environment ------------------------------------------------


def check_05(c: Any, job_id: str = "whoami") -> Feedback:
    """Batch job ``whoami`` printing "I am <alloc name> on <node name>" and completing."""
    job = _job(c, job_id)
    if job is None:
        return Feedback("05", [f'there is no job "{job_id}" yet: write its spec and run it'], "")
    todo: list[str] = []
    if job.type != "batch":
        todo.append(f'job {job_id} is a {job.type} job; make it a "batch" job (it runs once)')
    allocs = _wait_for(c, job_id, ("complete", "failed", "lost"), timeout=15)
    # a batch job's finished allocations of an earlier version stay; judge the newest spec
    allocs = [a for a in allocs if a.job is None or a.job.version == job.version]
    if not allocs:
        todo += _placement_failures(c, job_id) or [f"job {job_id} has no allocations yet"]
        return Feedback("05", todo, "")
    for a in allocs:
        if a.client_status == "failed":
            todo.append(f"allocation {a.name} failed ({_why_failed(a)})")
            continue
        if a.client_status != "complete":
            todo.append(f"allocation {a.name} is {a.client_status}; the task should print and exit")
            continue
        node = c.node(a.node_id)
        try:
            out = c.logs(a.id, next(iter(a.task_states), None)).strip()
        except (KeyError, ValueError) as err:
            todo.append(f"cannot read the logs of {a.name}: {err}")
            continue
        expected = f"I am {a.name} on {node.name}"
        if expected in out:
            continue
        shown = out.splitlines()[-1] if out else "nothing"
        if "${" in out:
            todo.append(f'{a.name} printed "{shown}": a ${{...}} was left as it is; write it in '
                        "config args or env, where the client interpolates it")
        elif "$NOMAD" in out:
            todo.append(f'{a.name} printed "{shown}": the shell did not expand $NOMAD_...; run the '
                        'command through /bin/sh -c, or write ${NOMAD_ALLOC_NAME} in args')
        else:
            todo.append(f'{a.name} printed "{shown}", expected "{expected}"')
    return Feedback("05", todo, "Your task knew who and where it was.")


# -- lab 06: interacting ------------------------------------------------------------------


def check_06(c: Any, seen_alloc_id: str = "", job_id: str = "api-hello") -> Feedback:
    """``api-hello`` registered over HTTP and running; ``seen_alloc_id`` read from the events."""
    job = _job(c, job_id)
    todo: list[str] = []
    if job is None:
        return Feedback("06", [f'there is no job "{job_id}" yet: register it through the HTTP API '
                               "(python-nomad's n.jobs.register_job or POST /v1/jobs)"], "")
    allocs = _wait_for(c, job_id, ("running", "complete", "failed", "lost"), timeout=10)
    if not any(a.client_status in ("running", "complete") for a in allocs):
        todo += _placement_failures(c, job_id) or [
            f"job {job_id} has no running allocation yet"
            + (f" ({_why_failed(allocs[0])})" if allocs else "")]
    ids = {a.id for a in c.allocs(job_id)}
    if not seen_alloc_id:
        todo.append("set seen_alloc_id to the allocation ID you read in the event stream "
                    '(an event with Topic "Allocation")')
    elif seen_alloc_id not in ids and not any(i.startswith(seen_alloc_id) for i in ids):
        todo.append(f'"{seen_alloc_id}" is not an allocation of {job_id}; its allocations are '
                    + ", ".join(sorted(i[:8] for i in ids)))
    return Feedback("06", todo, f"You drove {job_id} from outside the kernel and watched it happen.")


# -- lab 07: deploying a new version ------------------------------------------------------

_DEPLOYMENT_DONE = ("successful", "failed", "cancelled")


def _finished_deployment(c: Any, job_id: str, version: int, timeout: float) -> Optional[Any]:
    """The deployment of the job's ``version`` once it has finished (or as it is when the
    timeout passed); None when that version has none."""
    deadline = time.monotonic() + timeout
    while True:
        _settle(c, timeout=max(deadline - time.monotonic(), 0.1))
        found = [d for d in c.job_deployments(job_id) if d.job_version == version]
        if not found or found[0].status in _DEPLOYMENT_DONE or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.2)


def check_07(c: Any, job_id: str = "shop", group: str = "front") -> Feedback:
    """``shop`` rolled out with greeting "bonjour" through one auto-promoted canary."""
    job = _job(c, job_id)
    if job is None:
        return Feedback("07", [f'there is no job "{job_id}": run the cells above first'], "")
    todo: list[str] = []
    if job.version == 0:
        return Feedback("07", [f"{job_id} is still at version 0: submit your new version "
                               "(c.submit(shop_v2))"], "")
    tg = next((g for g in job.task_groups if g.name == group), None)
    if tg is None:
        return Feedback("07", [f'group "{group}" is gone from {job_id}; keep the group, change '
                               "its update block and the variable"], "")
    env = tg.tasks[0].env if tg.tasks else {}
    if env.get("GREETING") != "bonjour":
        todo.append(f'GREETING is "{env.get("GREETING", "")}" in version {job.version}; set the '
                    'variable greeting to "bonjour" (its default, or -var)')
    update = tg.update
    if update is None or (update.canary or 0) < 1:
        todo.append("the update block asks for no canary: add canary = 1")
    elif not update.auto_promote:
        todo.append("the canary waits for a manual promotion: add auto_promote = true")
    d = _finished_deployment(c, job_id, job.version, timeout=60)
    if d is None:
        todo.append(f"version {job.version} of {job_id} started no deployment: did anything "
                    "that needs new allocations change?")
        return Feedback("07", todo, "")
    state = d.task_groups.get(group)
    if d.status != "successful":
        todo.append(f"deployment {d.id[:8]} is {d.status}: {d.status_description}")
    elif state is None or state.desired_canaries < 1 or not state.promoted:
        todo.append(f"deployment {d.id[:8]} succeeded without a promoted canary")
    return Feedback("07", todo, f"Version {job.version} of {job_id} went out through a canary "
                                "that promoted itself once healthy.")
