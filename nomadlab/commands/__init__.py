"""The ``nomad`` commands, over a cluster object: the in-process agent or a Remote.

``run(cluster, argv)`` is what the ``nomadlab`` CLI (over HTTP) and the notebook's
``%nomad`` magics (over the kernel's agent) both call, so a learner sees the same
output and exit codes in a terminal and in a cell::

    nomadlab.commands.run(c, ["job", "status", "example"])
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, TextIO

from .base import IO, HelpRequested, Parser, UsageError, normalise_flags
from .deployments import (deployment_fail, deployment_list_command, deployment_pause,
                          deployment_promote, deployment_resume, deployment_status_command,
                          deployment_unblock)
from .drain import node_drain
from .inspect import alloc_logs, alloc_status, eval_status, node_eligibility, node_status
from .jobs import (DEFAULT_INIT_NAME, job_history, job_init, job_inspect, job_plan,
                   job_revert, job_run, job_status, job_stop, job_validate, status)
from .services import service_delete, service_info, service_list

__all__ = ["run", "COMMANDS", "parser"]

Command = Callable[[Any, Any, IO], int]


def _flag(p: Parser, name: str, help: str) -> None:
    p.add_argument(f"-{name}", dest=name.replace("-", "_"), action="store_true", help=help)


def _spec_flags(p: Parser) -> None:
    """``-var``, ``-var-file`` and ``-hcl1``: how ``job run|plan|validate`` read a spec."""
    p.add_argument("-var", dest="var", action="append", default=[], metavar="KEY=VALUE",
                   help="Set an HCL2 input variable (repeatable)")
    p.add_argument("-var-file", dest="var_file", action="append", default=[], metavar="FILE",
                   help="Read HCL2 input variables from a file, HCL or JSON (repeatable)")
    _flag(p, "hcl1", "Parse the job file as HCL1 (the HCL2 parser is the default)")


def parser() -> Parser:
    """Every command and its flags, spelled as ``nomad`` spells them."""
    root = Parser(prog="nomadlab")
    top = root.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)

    job = top.add_parser("job", help="Interact with jobs")
    jobs = job.add_subparsers(dest="subcommand", metavar="<subcommand>", parser_class=Parser)
    p = jobs.add_parser("init", help="Create an example job file")
    _flag(p, "short", "Write a minimal job file without comments")
    p.add_argument("filename", nargs="?", help=f"Where to write it (default {DEFAULT_INIT_NAME})")
    p.set_defaults(func=job_init)
    p = jobs.add_parser("run", help="Run a new job or update an existing job")
    _flag(p, "detach", "Return right after registering; print the evaluation ID")
    _flag(p, "verbose", "Full IDs")
    p.add_argument("-check-index", dest="check_index", type=int, default=None,
                   help="Run only if the job's modify index is still this (from job plan)")
    _spec_flags(p)
    p.add_argument("file", help="The job file (HCL or JSON), or - for standard input")
    p.set_defaults(func=job_run)
    p = jobs.add_parser("plan", help="Dry-run a job update to see what would change")
    _flag(p, "verbose", "Show every field of the diff")
    _spec_flags(p)
    p.add_argument("file")
    p.set_defaults(func=job_plan)
    p = jobs.add_parser("status", help="Display status information about a job")
    _flag(p, "verbose", "Full IDs and times")
    p.add_argument("job", nargs="?")
    p.set_defaults(func=job_status)
    p = jobs.add_parser("stop", help="Stop a running job")
    _flag(p, "purge", "Forget the job too (garbage-collect it now)")
    _flag(p, "detach", "Do not monitor the evaluation")
    _flag(p, "verbose", "Full IDs")
    _flag(p, "yes", "Do not ask for confirmation")
    p.add_argument("job")
    p.set_defaults(func=job_stop)
    p = jobs.add_parser("validate", help="Check a job specification for errors")
    _spec_flags(p)
    p.add_argument("file", help="The job file (HCL or JSON), or - for standard input")
    p.set_defaults(func=job_validate)
    p = jobs.add_parser("inspect", help="Inspect the job as the server holds it (JSON)")
    p.add_argument("job")
    p.set_defaults(func=job_inspect)
    p = jobs.add_parser("history", help="Display all tracked versions of a job")
    _flag(p, "p", "Show the difference between each version and the one before")
    p.add_argument("job")
    p.set_defaults(func=job_history)

    p = jobs.add_parser("revert", help="Revert to a prior version of the job")
    _flag(p, "detach", "Return right after the revert; print the evaluation ID")
    _flag(p, "verbose", "Full IDs")
    p.add_argument("job")
    p.add_argument("version", help="The version to revert to")
    p.set_defaults(func=job_revert)

    dep = top.add_parser("deployment", help="Interact with deployments")
    deps = dep.add_subparsers(dest="subcommand", metavar="<subcommand>", parser_class=Parser)
    p = deps.add_parser("list", help="List all deployments")
    _flag(p, "verbose", "Full IDs")
    p.set_defaults(func=deployment_list_command)
    p = deps.add_parser("status", help="Display the status of a deployment")
    _flag(p, "verbose", "Full IDs (and, with -monitor, the allocations)")
    _flag(p, "monitor", "Follow the deployment until it finishes")
    p.add_argument("deployment", nargs="?")
    p.set_defaults(func=deployment_status_command)
    for name, func, help_text in (
            ("promote", deployment_promote, "Promote canaries in a deployment"),
            ("fail", deployment_fail, "Manually fail a deployment"),
            ("pause", deployment_pause, "Pause a deployment"),
            ("resume", deployment_resume, "Resume a paused deployment"),
            ("unblock", deployment_unblock, "Unblock a blocked deployment")):
        p = deps.add_parser(name, help=help_text)
        if name == "promote":
            p.add_argument("-group", dest="group", action="append", default=[],
                           help="A group to promote (repeatable); all groups when none")
        if name != "pause":
            _flag(p, "detach", "Return right away instead of monitoring the evaluation")
        _flag(p, "verbose", "Full IDs")
        p.add_argument("deployment")
        p.set_defaults(func=func)

    ev = top.add_parser("eval", help="Interact with evaluations")
    evs = ev.add_subparsers(dest="subcommand", metavar="<subcommand>", parser_class=Parser)
    p = evs.add_parser("status", help="Display evaluation status and placement failures")
    _flag(p, "verbose", "Full IDs and linked evaluations")
    p.add_argument("eval")
    p.set_defaults(func=eval_status)

    alloc = top.add_parser("alloc", help="Interact with allocations")
    allocs = alloc.add_subparsers(dest="subcommand", metavar="<subcommand>", parser_class=Parser)
    p = allocs.add_parser("status", help="Display allocation status information and metadata")
    _flag(p, "verbose", "Full IDs, placement metrics and scores")
    p.add_argument("alloc")
    p.set_defaults(func=alloc_status)
    p = allocs.add_parser("logs", help="Stream the logs of a task")
    _flag(p, "stderr", "Read stderr instead of stdout")
    _flag(p, "f", "Keep printing as the task writes, until it stops")
    _flag(p, "tail", "Only the end (10 lines unless -n)")
    p.add_argument("-n", dest="n", type=int, default=None, help="Lines to show from the end")
    p.add_argument("alloc")
    p.add_argument("task", nargs="?")
    p.set_defaults(func=alloc_logs)

    node = top.add_parser("node", help="Interact with nodes")
    nodes = node.add_subparsers(dest="subcommand", metavar="<subcommand>", parser_class=Parser)
    p = nodes.add_parser("status", help="Display status information about nodes")
    _flag(p, "verbose", "Full IDs, attributes and meta")
    p.add_argument("node", nargs="?")
    p.set_defaults(func=node_status)
    p = nodes.add_parser("drain", help="Toggle drain mode on a node")
    _flag(p, "enable", "Drain: migrate its allocations away")
    _flag(p, "disable", "Stop draining")
    p.add_argument("-deadline", dest="deadline", default=None,
                   help="How long the drain may take before the rest is stopped (default 1h)")
    _flag(p, "force", "Stop every allocation now (no migration, no deadline)")
    _flag(p, "no-deadline", "Migrate with no deadline")
    _flag(p, "ignore-system", "Leave system jobs' allocations on the node")
    _flag(p, "keep-ineligible", "With -disable: leave the node ineligible")
    _flag(p, "detach", "Do not monitor the drain")
    _flag(p, "monitor", "Monitor a drain already set")
    _flag(p, "yes", "Do not ask for confirmation")
    p.add_argument("-m", dest="m", default="",
                   help='Message for the drain update, kept in the node\'s LastDrain as '
                        '"message" (enable) or "cancel_message" (disable)')
    p.add_argument("-meta", dest="meta", action="append", default=[],
                   help="Drain metadata key=value, kept in the node's LastDrain (repeatable)")
    p.add_argument("node")
    p.set_defaults(func=node_drain)
    p = nodes.add_parser("eligibility", help="Toggle scheduling eligibility of a node")
    _flag(p, "enable", "Eligible for new allocations")
    _flag(p, "disable", "Ineligible (existing allocations stay)")
    p.add_argument("node")
    p.set_defaults(func=node_eligibility)

    service = top.add_parser("service", help="Interact with registered services")
    services = service.add_subparsers(dest="subcommand", metavar="<subcommand>",
                                      parser_class=Parser)
    p = services.add_parser("list", help="Display all registered Nomad services")
    p.add_argument("-namespace", dest="namespace", default="", help="The namespace (* for all)")
    p.set_defaults(func=service_list)
    p = services.add_parser("info", help="Display an individual Nomad service registration")
    _flag(p, "verbose", "Full IDs")
    p.add_argument("-namespace", dest="namespace", default="", help="The namespace")
    p.add_argument("service")
    p.set_defaults(func=service_info)
    p = services.add_parser("delete", help="Deregister a registered Nomad service")
    p.add_argument("-namespace", dest="namespace", default="", help="The namespace")
    p.add_argument("service")
    p.add_argument("id")
    p.set_defaults(func=service_delete)

    p = top.add_parser("status", help="Display the status of a job, allocation, evaluation or node")
    p.add_argument("id", nargs="?")
    p.set_defaults(func=status)
    return root


#: The commands ``run`` understands, as words (for help texts and the notebook).
COMMANDS = ("job init", "job run", "job plan", "job status", "job stop", "job validate",
            "job inspect", "job history", "job revert", "deployment list", "deployment status",
            "deployment promote", "deployment fail", "deployment pause", "deployment resume",
            "deployment unblock", "eval status", "alloc status", "alloc logs",
            "node status", "node drain", "node eligibility", "service list", "service info",
            "service delete", "status")


def run(cluster: Any, argv: list[str], *, stdin: Optional[str] = None,
        out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """Run one command against ``cluster``; text goes to ``out``/``err``, the exit code is
    returned (never raised): Nomad's codes, 1 for usage errors."""
    io = IO(out or sys.stdout, err or sys.stderr, stdin)
    p = parser()
    try:
        args = p.parse_args(normalise_flags(list(argv)))
    except HelpRequested as e:
        io.print(e.text.rstrip())
        return 0
    except UsageError as e:
        if str(e):
            io.error(f"Error: {e}")
        io.error(e.usage.rstrip())
        return 1
    func = getattr(args, "func", None)
    if func is None:
        io.error(p.format_help().rstrip())
        return 1
    return int(func(cluster, args, io))
