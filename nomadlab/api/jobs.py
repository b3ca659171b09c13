"""``/v1/jobs``, ``/v1/job/:id/...``, ``/v1/jobs/parse`` and ``/v1/validate/job``.

Bodies, responses and messages follow command/agent/job_endpoint.go.  A job ID may
contain ``/`` (dispatched and periodic children), so the job routes match the rest of the
path and the sub-resources (``/allocations``, ``/plan``, ...) are tried first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..cluster import ClusterView
from ..jobspec import JobSpecError, job_from_api, parse_job
from ..jobspec.submission import JobSubmission
from ..structs.diff import job_diff
from ..structs import Evaluation, Job
from ..jobspec.validate import MAX_COUNT, count_problem
from .bodies import (JOB_DISPATCH, JOB_PLAN, JOB_REGISTER, JOB_REVERT, JOB_VALIDATE, JOBS_PARSE,
                     SCALING, decode_body)
from .errors import HTTPError, multierror
from .http import Reply, Request
from .routes import handle, lookup, not_found, read
from .stubs import alloc_stubs_json, job_stub

if TYPE_CHECKING:
    from ..cluster import LocalCluster


def _namespaces(request: Request) -> Optional[str]:
    """The namespace to list (None: all, as ``?namespace=*``)."""
    namespace = request.namespace
    return None if namespace == "*" else namespace


def _job(snapshot: Any, request: Request) -> Job:
    job = snapshot.job(request.namespace, request.params["job"])
    if job is None:
        raise not_found("job")
    return job


# -- reads --------------------------------------------------------------------------------

@read("GET /v1/jobs")
def list_jobs(request: Request, snapshot: Any) -> tuple[Any, int]:
    prefix = request.arg("prefix")
    jobs = [j for j in snapshot.jobs(_namespaces(request)) if j.id.startswith(prefix)]
    return ([job_stub(j, snapshot.job_summary(j.namespace, j.id)) for j in jobs],
            snapshot.table_index("jobs", "job_summaries"))


@read("GET /v1/job/{job*}/allocations")
def job_allocations(request: Request, snapshot: Any) -> tuple[Any, int]:
    job_id = request.params["job"]
    allocs = snapshot.allocs(job_id, request.namespace)
    if not request.flag("all"):
        current = snapshot.job(request.namespace, job_id)
        allocs = [a for a in allocs if current is None or a.job is None
                  or a.job.create_index == current.create_index]
    return alloc_stubs_json(snapshot, allocs), snapshot.table_index("allocs")


@read("GET /v1/job/{job*}/evaluations")
def job_evaluations(request: Request, snapshot: Any) -> tuple[Any, int]:
    evals = snapshot.evals(request.params["job"], request.namespace)
    return [e.to_api() for e in evals], snapshot.table_index("evals")


@read("GET /v1/job/{job*}/versions")
def job_versions(request: Request, snapshot: Any) -> tuple[Any, int]:
    _job(snapshot, request)
    versions = snapshot.job_versions(request.namespace, request.params["job"])
    body: dict[str, Any] = {"Versions": [v.to_api() for v in versions]}
    if request.flag("diffs"):
        body["Diffs"] = [job_diff(older.to_api(), newer.to_api())
                         for newer, older in zip(versions, versions[1:], strict=False)]
    return body, snapshot.table_index("job_versions")


@read("GET /v1/job/{job*}/submission")
def job_submission(request: Request, snapshot: Any) -> tuple[Any, int]:
    """The source a version was submitted with (``?version=N``), as Nomad keeps it."""
    job = _job(snapshot, request)
    raw = request.arg("version")
    try:
        version = int(raw) if raw else job.version
    except ValueError:
        raise HTTPError(400, f"Failed to parse value of {raw!r} as version: "
                             "not an integer") from None
    submission = snapshot.job_submission(job.namespace, job.id, version)
    if submission is None:
        raise HTTPError(404, "job source not found")
    return (submission.to_api(job.namespace, job.id, version, job.job_modify_index),
            snapshot.table_index("job_submissions"))


@read("GET /v1/job/{job*}/summary")
def job_summary(request: Request, snapshot: Any) -> tuple[Any, int]:
    job = _job(snapshot, request)
    summary = snapshot.job_summary(job.namespace, job.id)
    if summary is None:
        raise not_found("job summary")
    body = summary.to_api()
    body["Children"] = _children(snapshot, job)
    return body, summary.modify_index


def _children(snapshot: Any, parent: Job) -> dict[str, int]:
    """Nomad's JobChildrenSummary: child jobs of a periodic/parameterized job by status."""
    counts = {"Pending": 0, "Running": 0, "Dead": 0}
    for job in snapshot.jobs(parent.namespace):
        if job.parent_id == parent.id:
            counts[(job.status or "pending").capitalize()] = \
                counts.get((job.status or "pending").capitalize(), 0) + 1
    return counts


@read("GET /v1/job/{job*}/scale")
def job_scale_status(request: Request, snapshot: Any) -> tuple[Any, int]:
    job = _job(snapshot, request)
    allocs = snapshot.allocs(job.id, job.namespace)
    groups = {}
    for group in job.task_groups:
        mine = [a for a in allocs if a.task_group == group.name and a.desired_status == "run"]
        groups[group.name] = {
            "Desired": group.count, "Placed": len(mine),
            "Running": sum(a.client_status == "running" for a in mine),
            "Healthy": 0, "Unhealthy": 0, "Events": None,
        }
    return ({"JobID": job.id, "Namespace": job.namespace, "JobCreateIndex": job.create_index,
             "JobModifyIndex": job.job_modify_index, "JobStopped": bool(job.stop),
             "TaskGroups": groups}, job.modify_index)


@read("GET /v1/job/{job*}/deployments")
def job_deployments(request: Request, snapshot: Any) -> tuple[Any, int]:
    """Newest first; ``all=true`` adds those of an earlier job registered under this ID."""
    view = ClusterView(snapshot, request.identity)
    deployments = view.job_deployments(request.params["job"], request.namespace,
                                       all=request.flag("all"))
    return [d.to_api() for d in deployments], snapshot.table_index("deployments")


@read("GET /v1/job/{job*}/deployment")
def job_latest_deployment(request: Request, snapshot: Any) -> tuple[Any, int]:
    latest = snapshot.latest_deployment(request.namespace, request.params["job"])
    return (latest.to_api() if latest is not None else None), snapshot.table_index("deployments")


@read("GET /v1/job/{job*}")
def read_job(request: Request, snapshot: Any) -> tuple[Any, int]:
    job = _job(snapshot, request)
    return job.to_api(), job.modify_index


# -- writes -------------------------------------------------------------------------------

def _register_reply(cluster: "LocalCluster", ev: Evaluation, job: Job) -> Reply:
    """Nomad's JobRegisterResponse; periodic and parameterized jobs get no evaluation."""
    launched_later = job.is_periodic or job.is_parameterized
    index = cluster.index
    return Reply({"EvalID": "" if launched_later else ev.id,
                  "EvalCreateIndex": 0 if launched_later else ev.create_index,
                  "JobModifyIndex": job.job_modify_index, "Warnings": "", "Index": index,
                  "KnownLeader": False, "LastContact": 0, "NextToken": ""}, index=index)


def _decode_job(request: Request, body: dict[str, Any], key: str = "Job") -> Job:
    """The body's job (an object: :func:`decode_body` checked the kinds)."""
    data = body.get(key)
    if data is None:
        raise HTTPError(400, "Job must be specified")
    if not data.get("Namespace"):
        data = {**data, "Namespace": request.namespace}
    return job_from_api(data)


def _register(request: Request, cluster: "LocalCluster", name: Optional[str]) -> Reply:
    body = decode_body(request, JOB_REGISTER)
    job = _decode_job(request, body)
    if name is not None and job.id != name:
        raise HTTPError(400, "Job ID does not match name")
    enforce = int(body.get("JobModifyIndex") or 0) if body.get("EnforceIndex") else None
    if body.get("PreserveCounts"):
        current = cluster.snapshot().job(job.namespace or "default", job.id)
        if current is not None:
            counts = {g.name: g.count for g in current.task_groups}
            for group in job.task_groups:
                if group.name in counts:
                    group.count = counts[group.name]
    submission = JobSubmission.from_api(body["Submission"]) if body.get("Submission") else None
    ev = cluster.submit(job, enforce_index=enforce, submission=submission)
    stored = cluster.snapshot().job(job.namespace or "default", job.id)
    assert stored is not None
    return _register_reply(cluster, ev, stored)


@handle("PUT|POST /v1/jobs")
def register_jobs(request: Request, cluster: "LocalCluster") -> Reply:
    return _register(request, cluster, None)


@handle("PUT|POST /v1/jobs/parse")
def parse(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, JOBS_PARSE)
    if not isinstance(body, dict) or not isinstance(body.get("JobHCL"), str) \
            or not body["JobHCL"].strip():
        raise HTTPError(400, "Job spec is empty")
    variables = body.get("Variables") or None
    return Reply(parse_job(body["JobHCL"], hcl1=bool(body.get("HCLv1")),
                           var_text=variables).to_api())


@handle("PUT|POST /v1/validate/job")
def validate(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, JOB_VALIDATE)
    try:
        messages = cluster.validate(_decode_job(request, body))
    except JobSpecError as err:
        messages = [p.message if not p.path else f"{p.path}: {p.message}" for p in err.problems]
    if messages:
        return Reply({"DriverConfigValidated": False, "ValidationErrors": messages,
                      "Error": multierror(messages), "Warnings": ""})
    return Reply({"DriverConfigValidated": True, "ValidationErrors": None, "Error": "",
                  "Warnings": ""})


@handle("PUT|POST /v1/job/{job*}/plan")
def plan(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, JOB_PLAN)
    job = _decode_job(request, body)
    if job.id != request.params["job"]:
        raise HTTPError(400, "Job ID does not match")
    result = cluster.plan(job, diff=bool(body.get("Diff")), contextual=bool(body.get("Contextual")))
    result.pop("Trace", None)
    return Reply(result)


@handle("PUT|POST /v1/job/{job*}/scale")
def scale(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, SCALING)
    target = body.get("Target") or {}
    group = target.get("Group") if isinstance(target, dict) else None
    if not group:
        raise HTTPError(400, "missing task group name")
    count = body.get("Count")
    if not isinstance(count, int) or isinstance(count, bool):
        raise HTTPError(400, "scaling action count must be an integer")
    if count > MAX_COUNT:
        raise HTTPError(400, str(count_problem(count)))
    ev = cluster.scale(request.params["job"], group, count, str(body.get("Message") or ""),
                     namespace=request.namespace)
    return _register_reply(cluster, ev, cluster.job(request.params["job"], request.namespace))


@handle("PUT|POST /v1/job/{job*}/revert")
def revert(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, JOB_REVERT)
    if not isinstance(body.get("JobVersion"), int):
        raise HTTPError(400, "JobVersion must be specified")
    job_id = request.params["job"]
    if body.get("JobID") not in (None, job_id):
        raise HTTPError(400, "Job ID does not match")
    ev = cluster.revert(job_id, body["JobVersion"], request.namespace,
                        body.get("EnforcePriorVersion"))
    return _register_reply(cluster, ev, cluster.job(job_id, request.namespace))


@handle("PUT|POST /v1/job/{job*}/dispatch")
def dispatch(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, JOB_DISPATCH, required=False)
    meta = body.get("Meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise HTTPError(400, "Meta must be an object of strings")
    child, ev = cluster.dispatch(request.params["job"], body.get("Payload"), meta,
                                 request.namespace)
    return Reply({"DispatchedJobID": child.id, "EvalID": ev.id,
                  "EvalCreateIndex": ev.create_index, "JobCreateIndex": child.create_index,
                  "Index": cluster.index}, index=cluster.index)


@handle("PUT|POST /v1/job/{job*}/periodic/force")
def periodic_force(request: Request, cluster: "LocalCluster") -> Reply:
    child, ev = cluster.force_periodic(request.params["job"], request.namespace)
    return Reply({"EvalID": ev.id, "EvalCreateIndex": ev.create_index,
                  "Index": cluster.index}, index=cluster.index)


@handle("PUT|POST /v1/job/{job*}/evaluate")
def evaluate(request: Request, cluster: "LocalCluster") -> Reply:
    ev = cluster.evaluate_job(request.params["job"], request.namespace)
    return _register_reply(cluster, ev, cluster.job(request.params["job"], request.namespace))


@handle("PUT|POST /v1/job/{job*}")
def register_job(request: Request, cluster: "LocalCluster") -> Reply:
    return _register(request, cluster, request.params["job"])


@handle("DELETE /v1/job/{job*}")
def deregister(request: Request, cluster: "LocalCluster") -> Reply:
    job_id = request.params["job"]
    lookup(cluster.snapshot(), "jobs", job_id, "job",
           get=lambda key: cluster.snapshot().job(request.namespace, key))
    ev = cluster.stop(job_id, purge=request.flag("purge"), namespace=request.namespace)
    index = cluster.index
    stopped = cluster.snapshot().job(request.namespace, job_id)
    return Reply({"EvalID": ev.id, "EvalCreateIndex": ev.create_index,
                  "JobModifyIndex": stopped.job_modify_index if stopped else index,
                  "VolumeEvalID": "", "VolumeEvalIndex": 0, "Index": index,
                  "KnownLeader": False, "LastContact": 0, "NextToken": ""}, index=index)
