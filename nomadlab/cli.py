"""The ``nomadlab`` command, modelled on ``nomad``: ``nomadlab job init``, ``job validate``.

Output and exit codes follow the ``nomad`` CLI so that what a learner types here works
against a real cluster too.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

from .jobspec import JobSpecError, parse_job

__all__ = ["main"]

DEFAULT_INIT_NAME = "example.nomad.hcl"


def _example(short: bool) -> str:
    name = "short.nomad.hcl" if short else "example.nomad.hcl"
    return resources.files("nomadlab.jobspec").joinpath("examples", name).read_text()


def job_init(args: argparse.Namespace) -> int:
    """Write an example job spec, refusing to overwrite one (as ``nomad job init``)."""
    target = Path(args.filename or DEFAULT_INIT_NAME)
    if target.exists():
        print(f"Job '{target}' already exists", file=sys.stderr)
        return 1
    target.write_text(_example(args.short))
    print(f"Example job file written to {target}")
    return 0


def job_validate(args: argparse.Namespace) -> int:
    """Parse and validate a job spec; print every problem or "Job validation successful"."""
    if args.file == "-":
        text, name = sys.stdin.read(), "<stdin>"
    else:
        try:
            text, name = Path(args.file).read_text(), args.file
        except OSError as err:
            print(f"Error getting job struct: {err.strerror}: {args.file}", file=sys.stderr)
            return 1
    try:
        parse_job(text, filename=name)
    except JobSpecError as err:
        print("Job validation errors:", file=sys.stderr)
        print(str(err), file=sys.stderr)
        return 1
    print("Job validation successful")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nomadlab",
        description="Learn how Nomad schedules: a Nomad-style orchestrator you can look inside.")
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    job = commands.add_parser("job", help="Interact with jobs")
    job_commands = job.add_subparsers(dest="job_command", metavar="<subcommand>")

    init = job_commands.add_parser("init", help="Create an example job file")
    init.add_argument("-short", "--short", action="store_true",
                      help="Write a minimal job file without comments")
    init.add_argument("filename", nargs="?", help=f"Where to write it (default {DEFAULT_INIT_NAME})")
    init.set_defaults(func=job_init)

    validate = job_commands.add_parser("validate", help="Check a job specification for errors")
    validate.add_argument("file", help="The job file (HCL or JSON), or - for standard input")
    validate.set_defaults(func=job_validate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 1
    return int(func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
