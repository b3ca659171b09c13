"""``job init | run | plan | status | stop | validate | inspect | history`` and ``status``."""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path
from typing import Any

from ..api.client import ConnectionFailed
from ..format import job as fmt_job
from ..format.plan import plan_exit_code, plan_output
from ..format.units import format_time, now_ns
from ..jobspec import JobSpecError, parse_job
from ..jobspec.parse import parse_var_flags
from ..jobspec.submission import JobSubmission
from ..structs.periodic import next_launch
from ..server.server import ENFORCE_INDEX_PREFIX
from ..structs.duration import SECOND, format_duration
from ..structs import Job
from .base import EXPECTED, IO, ambiguous, error_message, read_spec
from .cluster import (AmbiguousPrefix, alloc_list, find_job, job_list, job_summary, job_versions,
                      latest_deployment)
from .monitor import monitor

__all__ = ["job_init", "job_run", "job_plan", "job_status", "job_stop", "job_validate",
           "job_inspect", "job_history", "job_revert", "DEFAULT_INIT_NAME"]

DEFAULT_INIT_NAME = "example.nomad.hcl"


def _example(short: bool) -> str:
    name = "short.nomad.hcl" if short else "example.nomad.hcl"
    return resources.files("nomadlab.jobspec").joinpath("examples", name).read_text()


def job_init(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Write an example job spec, refusing to overwrite one (as ``nomad job init``)."""
    target = Path(args.filename or DEFAULT_INIT_NAME)
    if target.exists():
        io.error(f"Job '{target}' already exists")
        return 1
    target.write_text(_example(args.short))
    io.print(f"Example job file written to {target}")
    return 0


def _load(args: argparse.Namespace, io: IO) -> tuple[Job, str, JobSubmission]:
    """Parse the job file locally, as the ``nomad`` CLI does before it submits; the job,
    the file's name and the submission (source and variables) sent along with it."""
    try:
        text, name = read_spec(args.file, io.stdin)
    except OSError as err:
        raise _Failed(f"Error getting job struct: {err.strerror or err}: {args.file}") from None
    try:
        job, submission = _parse(text, name, args)
    except JobSpecError as err:
        raise _Failed(f"Error getting job struct: Error parsing job file from {name}:\n{err}") \
            from None
    return job, name, submission


def _parse(text: str, name: str, args: argparse.Namespace) -> tuple[Job, JobSubmission]:
    """HCL2 with ``-var``, ``-var-file`` and ``NOMAD_VAR_*`` (or HCL1 with ``-hcl1``);
    ``file()`` may read below the spec's directory, as Nomad's CLI allows."""
    flags = parse_var_flags(getattr(args, "var", []))
    files = getattr(args, "var_file", [])
    hcl1 = getattr(args, "hcl1", False)
    job = parse_job(text, filename=name, hcl1=hcl1, variables=flags, var_files=files,
                    env=os.environ, allow_fs=True)
    contents = "\n".join(Path(f).read_text(encoding="utf-8") for f in files)
    return job, JobSubmission.of(text, hcl1, flags, contents)


class _Failed(Exception):
    """A command failed with a message already worded for the user."""


def job_validate(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Parse and validate a job spec; print every problem or "Job validation successful"."""
    try:
        text, name = read_spec(args.file, io.stdin)
    except OSError as err:
        io.error(f"Error getting job struct: {err.strerror or err}: {args.file}")
        return 1
    try:
        job = _parse(text, name, args)[0]
    except JobSpecError as err:
        io.error("Job validation errors:")
        io.error(str(err))
        return 1
    try:
        problems = cluster.validate(job)
    except ConnectionFailed:  # no agent: the job spec's own checks are all (as nomad does)
        problems = []
    except EXPECTED as err:
        io.error(f"Error validating job: {error_message(err)}")
        return 1
    if problems:
        io.error("Job validation errors:")
        io.error("\n".join(f"* {p}" for p in problems))
        return 1
    io.print("Job validation successful")
    return 0


def job_run(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Register the job and, unless ``-detach``, monitor its evaluation: exit 2 when some
    allocations could not be placed, 1 on errors."""
    try:
        job, _name, submission = _load(args, io)
    except _Failed as err:
        io.error(str(err))
        return 1
    try:
        ev = cluster.submit(job, enforce_index=args.check_index, submission=submission)
    except EXPECTED as err:
        message = error_message(err)
        if ENFORCE_INDEX_PREFIX in message:  # as nomad: the reason, then what did not happen
            io.error(message[message.index(ENFORCE_INDEX_PREFIX):].rstrip(")"))
            io.error("Job not updated")
            return 1
        io.error(f"Error submitting job: {message}")
        return 1
    if job.is_periodic or job.is_parameterized:
        io.print("Job registration successful")
        launch = next_launch(job, now_ns()) if not job.is_parameterized else None
        if launch is not None:
            wait = (launch - now_ns()) // SECOND * SECOND
            io.print(f"Approximate next launch time: {format_time(launch)} "
                     f"({format_duration(max(wait, 0))} from now)")
        return 0
    if args.detach or ev is None:
        io.print("Job registration successful")
        io.print(f"Evaluation ID: {ev.id if ev is not None else ''}")
        return 0
    return _monitor(cluster, io, ev.id, args.verbose)


def _monitor(cluster: Any, io: IO, eval_id: str, verbose: bool) -> int:
    """Follow an evaluation as ``job run`` and ``job stop`` do; its exit code."""
    try:
        return monitor(cluster, io, eval_id, verbose=verbose)
    except EXPECTED as err:
        io.error(f"Error reading evaluation: {error_message(err)}")
        return 1


def job_plan(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Dry run: the diff, what the scheduler would do; exit 1 if allocations would change,
    0 if not, 255 on errors (``nomad job plan``'s codes)."""
    try:
        job, name, _submission = _load(args, io)
    except _Failed as err:
        io.error(str(err))
        return 255
    try:
        resp = cluster.plan(job)
    except EXPECTED as err:
        io.error(f"Error during plan: {error_message(err)}")
        return 255
    resp = {k: v for k, v in resp.items() if k != "Trace"}
    io.print(plan_output(resp, job.type or "service", name if args.file != "-" else "<path to job>",
                         diff=True, verbose=args.verbose).text())
    return plan_exit_code(resp)


def job_status(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Without an ID, every job; with one (or a unique prefix), the job in detail."""
    try:
        if not args.job:
            io.print(fmt_job.job_list(job_list(cluster)).text())
            return 0
        job = find_job(cluster, args.job)
        summary = job_summary(cluster, job)
        allocs = [a.to_api() for a in alloc_list(cluster, job)]
        evals = [e.to_api() for e in cluster.evals(job.id, job.namespace or "default")]
        d = latest_deployment(cluster, job)
    except AmbiguousPrefix as err:
        return ambiguous(io, err, lambda j: [j.id, j.type or "", str(j.priority), j.status,
                                             fmt_job.format_time(j.submit_time)],
                         ["ID", "Type", "Priority", "Status", "Submit Date"])
    except EXPECTED as err:
        io.error(f"Error querying job: {error_message(err)}" if args.job else
                 f"Error querying jobs: {error_message(err)}")
        return 1
    allocs.sort(key=lambda a: (-a.get("CreateIndex", 0), a.get("Name", "")))
    io.print(fmt_job.job_status(job.to_api(), summary, allocs, evals,
                                d.to_api() if d is not None else None, args.verbose).text())
    return 0


def job_stop(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Deregister (``-purge``: forget it too) and monitor the stop unless ``-detach``."""
    try:
        job = find_job(cluster, args.job)
        ev = cluster.stop(job.id, purge=args.purge)
    except AmbiguousPrefix as err:
        return ambiguous(io, err, lambda j: [j.id, j.type or "", str(j.priority), j.status],
                         ["ID", "Type", "Priority", "Status"])
    except EXPECTED as err:
        io.error(f"Error deregistering job: {error_message(err)}")
        return 1
    if ev is None or not ev.id:
        return 0
    if args.detach:
        io.print(ev.id)
        return 0
    return _monitor(cluster, io, ev.id, args.verbose)


def job_inspect(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    try:
        job = find_job(cluster, args.job)
    except EXPECTED as err:
        io.error(f"Error inspecting job: {error_message(err)}")
        return 1
    io.print(fmt_job.job_inspect(job.to_api()).text())
    return 0


def job_history(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Each version of the job, newest first; ``-p`` adds what changed in each."""
    from ..structs.diff import job_diff
    try:
        job = find_job(cluster, args.job)
        versions = job_versions(cluster, job)
    except EXPECTED as err:
        io.error(f"Error retrieving job versions: {error_message(err)}")
        return 1
    api = [v.to_api() for v in versions]
    diffs = None
    if args.p:
        diffs = [job_diff(api[i + 1], api[i]) if i + 1 < len(api) else None
                 for i in range(len(api))]
    io.print(fmt_job.job_history(api, diffs).text())
    return 0


def job_revert(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Register an older version's spec again (as a new version) and monitor it unless
    ``-detach``."""
    try:
        version = int(args.version)
        if version < 0:
            raise ValueError(args.version)
    except ValueError:
        io.error(f'Error parsing version value: "{args.version}" is not a job version number')
        return 1
    try:
        job = find_job(cluster, args.job)
        ev = cluster.revert(job.id, version, job.namespace or "default")
    except AmbiguousPrefix as err:
        return ambiguous(io, err, lambda j: [j.id, j.type or "", str(j.priority), j.status],
                         ["ID", "Type", "Priority", "Status"])
    except EXPECTED as err:
        io.error(f"Error retrieving job versions: {error_message(err)}")
        return 1
    if ev is None or not ev.id:
        return 0
    if args.detach:
        io.print(f"Evaluation ID: {ev.id}")
        return 0
    return _monitor(cluster, io, ev.id, args.verbose)


def status(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """``nomad status [ID]``: the job list, or whatever the ID (prefix) names: a job, an
    allocation, an evaluation or a node, tried in that order."""
    from .inspect import alloc_status, eval_status, node_status
    args.verbose = False
    args.job = args.id
    if not args.id:
        return job_status(cluster, args, io)
    try:
        find_job(cluster, args.id)
        return job_status(cluster, args, io)
    except AmbiguousPrefix:
        return job_status(cluster, args, io)
    except EXPECTED:
        pass
    for lookup, command, attr in ((cluster.alloc, alloc_status, "alloc"),
                                  (cluster.eval, eval_status, "eval"),
                                  (cluster.node, node_status, "node")):
        try:
            lookup(args.id)
        except EXPECTED:
            continue
        setattr(args, attr, args.id)
        return command(cluster, args, io)
    io.error(f'No matches returned for query "{args.id}"')
    return 1
