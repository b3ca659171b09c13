"""``deployment list | status | promote | fail | pause | resume | unblock``
(command/deployment_*.go): the words, exit codes and monitors of ``nomad deployment``."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Optional

from ..cluster import reverted_job_version
from ..format.deployment import deployment_list, deployment_status
from ..format.units import SHORT_ID, limit
from ..structs import Deployment, Evaluation
from .base import EXPECTED, IO, error_message
from .cluster import AmbiguousPrefix, find_deployment
from .monitor import monitor, monitor_deployment, timestamp

__all__ = ["deployment_list_command", "deployment_status_command", "deployment_promote",
           "deployment_fail", "deployment_pause", "deployment_resume", "deployment_unblock"]


def _length(args: argparse.Namespace) -> Optional[int]:
    return None if getattr(args, "verbose", False) else SHORT_ID


def _newest_first(deployments: list[Deployment]) -> list[dict[str, Any]]:
    """As Nomad's API client sorts them (DeploymentIndexSort)."""
    return [d.to_api() for d in sorted(deployments, key=lambda d: -d.create_index)]


def _find(cluster: Any, args: argparse.Namespace, io: IO) -> Optional[Deployment]:
    """The deployment the ID (prefix) names; None once the error is printed."""
    try:
        return find_deployment(cluster, args.deployment)
    except AmbiguousPrefix as err:
        io.error("Prefix matched multiple deployments\n\n" +
                 deployment_list(_newest_first(err.matches), _length(args)).text())
    except EXPECTED as err:
        io.error(f"Error retrieving deployment: {error_message(err)}")
    return None


def deployment_list_command(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Every deployment of the namespace, newest first."""
    try:
        found = cluster.deployments()
    except EXPECTED as err:
        io.error(f"Error retrieving deployments: {error_message(err)}")
        return 1
    io.print(deployment_list(_newest_first(found), _length(args)).text())
    return 0


def deployment_status_command(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """The deployment's state and Deployed table; ``-monitor`` follows it to the end."""
    if not args.deployment:
        return deployment_list_command(cluster, args, io)
    d = _find(cluster, args, io)
    if d is None:
        return 1
    length = _length(args)
    if args.monitor:
        io.print(f'{timestamp()}: Monitoring deployment "{limit(d.id, length)}"')
        monitor_deployment(cluster, io, d, verbose=args.verbose)
        return 0
    io.print(deployment_status(d.to_api(), length).text())
    return 0


def _then_monitor(cluster: Any, args: argparse.Namespace, io: IO,
                  ev: Optional[Evaluation], blank: bool = True) -> int:
    """Nomad's tail of every deployment write: nothing more without an evaluation or with
    ``-detach``; else monitor the evaluation (and the deployment it is part of)."""
    if ev is None or not ev.id or args.detach:
        return 0
    if blank:
        io.print("")
    return monitor(cluster, io, ev.id, verbose=args.verbose)


def _write(cluster: Any, args: argparse.Namespace, io: IO, verb: str,
           call: Callable[[Deployment], Optional[Evaluation]]
           ) -> tuple[Optional[Deployment], Optional[Evaluation], int]:
    d = _find(cluster, args, io)
    if d is None:
        return None, None, 1
    try:
        return d, call(d), 0
    except EXPECTED as err:
        io.error(f"Error {verb} deployment: {error_message(err)}")
        return d, None, 1


def deployment_promote(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Promote the canaries of the ``-group``s named (all groups without one)."""
    groups = list(args.group) if args.group else None
    _d, ev, code = _write(cluster, args, io, "promoting",
                          lambda d: cluster.promote_deployment(d.id, groups))
    if code:
        return code
    if ev is not None and ev.id and args.detach:
        io.print(f"Evaluation ID: {ev.id}")
        return 0
    return _then_monitor(cluster, args, io, ev, blank=False)


def deployment_fail(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    """Fail the deployment; say so, and which version an auto-revert went back to."""
    before: dict[str, int] = {}

    def fail(d: Deployment) -> Optional[Evaluation]:
        try:
            before["version"] = cluster.job(d.job_id, d.namespace).version
        except KeyError:
            pass
        return cluster.fail_deployment(d.id)
    d, ev, code = _write(cluster, args, io, "failing", fail)
    if code or d is None:
        return code
    reverted = reverted_job_version(cluster, d, before["version"]) if before else None
    if reverted is not None:
        io.print(f'Deployment "{d.id}" failed. Auto-reverted to job version {reverted}.')
    else:
        io.print(f'Deployment "{d.id}" failed')
    return _then_monitor(cluster, args, io, ev)


def deployment_pause(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    d, _ev, code = _write(cluster, args, io, "pausing",
                          lambda d: cluster.pause_deployment(d.id, True))
    if code or d is None:
        return code
    io.print(f'Deployment "{d.id}" paused')
    return 0


def deployment_resume(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    d, ev, code = _write(cluster, args, io, "resuming",
                         lambda d: cluster.pause_deployment(d.id, False))
    if code or d is None:
        return code
    io.print(f'Deployment "{d.id}" resumed')
    return _then_monitor(cluster, args, io, ev)


def deployment_unblock(cluster: Any, args: argparse.Namespace, io: IO) -> int:
    d, ev, code = _write(cluster, args, io, "unblocking",
                         lambda d: cluster.unblock_deployment(d.id))
    if code or d is None:
        return code
    io.print(f'Deployment "{d.id}" unblocked')
    return _then_monitor(cluster, args, io, ev)
