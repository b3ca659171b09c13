"""``%nomad`` and ``%%nomad``: the Nomad CLI inside a notebook, talking to the kernel's agent.

Every command but two goes through :func:`nomadlab.commands.run`, the same code as the
``nomadlab`` command, so a cell prints what a terminal would.  The cell form puts the job
spec in the cell body (``%%nomad job run``, ``job plan``, ``job validate``).  Two commands
exist only here: ``%nomad agent -dev ...`` (restart the kernel's agent in another shape)
and ``%nomad step`` (advance a step-mode agent one stage and say what happened).

A mistake prints a message for the learner, never a traceback: a job spec error shows the
line with a caret under the column; an unexpected failure says so and leaves the
traceback to ``%tb``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any, Optional, TextIO

from IPython.core.magic import Magics, line_cell_magic, magics_class

from . import session

__all__ = ["NomadMagics", "run_line", "settle", "FILE_COMMANDS", "load_ipython_extension"]

#: Commands that read a job spec file; the cell form passes the cell body as ``-``.
FILE_COMMANDS = (("job", "run"), ("job", "plan"), ("job", "validate"))

NOTEBOOK_HELP = """\
Notebook-only commands:
    %nomad agent -dev [-clients N] [-nodes N] [-mode auto|step] [-seed N]
        restart the kernel's agent with that shape (the old one is shut down)
    %nomad step [N | -all]
        step mode: advance one stage (or N, or until idle) and say what happened;
        `%%nomad job run -detach` registers a job and leaves its evaluation to step
Cell magics (the job spec is the cell body):
    %%nomad job run | %%nomad job plan | %%nomad job validate"""


#: Commands after which a cell waits for the clients to catch up (see :func:`settle`).
SETTLING = (["job", "run"], ["job", "stop"])
SETTLE_TIMEOUT = 3.0


def _in_motion(alloc: Any) -> bool:
    """Told to run but not started yet, or told to stop but still running."""
    desired, client = alloc.desired_status, alloc.client_status
    return (desired == "run" and client == "pending") or \
        (desired in ("stop", "evict") and client == "running")


def settle(a: Any, timeout: float = SETTLE_TIMEOUT) -> None:
    """Until the clients have started (or stopped) what the plan told them to, giving up
    only when no allocation has changed for ``timeout`` seconds.

    The CLI returns once the evaluation is complete; a notebook cell returns when its
    effect is there to see, so the next cell's ``%nomad status`` shows "running", not
    "pending".  Clients that are making progress (a task event, a status) are waited for
    however busy the machine is; a client that stopped answering is not waited for long.
    A step-mode agent moves only when asked, so it is not waited for.
    """
    if getattr(a, "mode", None) != "auto":
        return
    seen = None
    deadline = time.monotonic() + timeout
    while True:
        index = a.index
        allocs = a.allocs()
        if not any(_in_motion(x) for x in allocs):
            return
        progress = max((x.modify_index for x in allocs), default=0)
        if progress != seen:  # a client moved: give it as long again
            seen, deadline = progress, time.monotonic() + timeout
        if time.monotonic() >= deadline:
            return
        a.wait_for_index(index, timeout=max(deadline - time.monotonic(), 0))


class UsageError(Exception):
    """A notebook command used the wrong way; the message says how to use it."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


def _agent_parser() -> _Parser:
    p = _Parser(prog="%nomad agent", add_help=False)
    p.add_argument("-dev", action="store_true", required=True,
                   help="an in-process dev agent (the only kind a notebook runs)")
    p.add_argument("-clients", type=int, default=1, help="real client nodes (default 1)")
    p.add_argument("-nodes", type=int, default=0,
                   help="simulated nodes: they run every task with the mock driver")
    p.add_argument("-mode", choices=("auto", "step"), default="auto")
    p.add_argument("-seed", type=int, default=0)
    return p


def agent_command(args: list[str], out: TextIO) -> int:
    """``%nomad agent -dev ...``: shut the kernel's agent down and start one of that shape."""
    opts = _agent_parser().parse_args(args)
    if opts.clients < 0 or opts.nodes < 0:
        raise UsageError("-clients and -nodes count nodes: give 0 or more")
    shape = session.AgentShape(clients=opts.clients, nodes=opts.nodes, mode=opts.mode,
                               seed=opts.seed)
    new = session.start(shape)
    print(session.describe(new), file=out)
    return 0


def step_command(args: list[str], out: TextIO) -> int:
    """``%nomad step [N | -all]``: advance the step-mode agent and print each stage."""
    a = session.agent()
    if a.mode != "step":
        raise UsageError("the kernel's agent runs in auto mode, where evaluations move on "
                         "their own; restart it with `%nomad agent -dev -mode step` to step")
    if args == ["-all"]:
        records, idle = a.run_until_idle(), True
    else:
        if len(args) > 1 or (args and not args[0].isdigit()):
            raise UsageError("usage: %nomad step [N | -all]")
        records, idle = [], False
        for _ in range(int(args[0]) if args else 1):
            record = a.step()
            if record is None:
                idle = True
                break
            records.append(record)
    for record in records:
        print(record, file=out)
    if idle:
        print(session.IDLE, file=out)
    return 0


def run_line(argv: list[str], stdin: Optional[str] = None, out: Optional[TextIO] = None,
             err: Optional[TextIO] = None) -> int:
    """Run one ``%nomad`` command against the kernel's agent; returns its exit code.

    Errors a learner can cause are printed to ``err`` as a message, not raised.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    from ..jobspec import JobSpecError
    try:
        if session.current() is None and argv[:1] != ["agent"]:
            session.agent()  # first use without %load_ext: say what was started
            print(session.describe(session.current()) + "\n", file=out)
        if argv and argv[0] == "agent":
            return agent_command(argv[1:], out)
        if argv and argv[0] == "step":
            return step_command(argv[1:], out)
        from ..commands import run
        code = run(session.agent(), argv, stdin=stdin, out=out, err=err)
        if code in (0, 2) and [a for a in argv if not a.startswith("-")][:2] in SETTLING:
            settle(session.agent())
        if not argv or argv[0] in ("-h", "-help", "--help", "help"):
            print("\n" + NOTEBOOK_HELP, file=out)
        return code
    except KeyboardInterrupt:  # the stop button during `alloc logs -f` or a long monitor
        print("interrupted", file=err)
        return 130
    except JobSpecError as e:
        print(str(e), file=err)
    except UsageError as e:
        print(str(e), file=err)
    except (KeyError, ValueError, RuntimeError, TimeoutError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"Error: {message}", file=err)
    except Exception as e:  # a nomadlab bug: say so, keep the kernel, keep the traceback
        sys.last_type, sys.last_value, sys.last_traceback = type(e), e, e.__traceback__
        print(f"nomadlab internal error ({type(e).__name__}: {e}); `%tb` shows where",
              file=err)
    return 1


@magics_class
class NomadMagics(Magics):
    """``%nomad <command>`` and ``%%nomad job run|plan|validate`` with the spec below."""

    @line_cell_magic
    def nomad(self, line: str, cell: Optional[str] = None) -> None:
        """Run a Nomad CLI command against the kernel's agent (``%nomad -help`` lists them).

        As a cell magic the body is the job spec: ``%%nomad job run`` on the first line,
        HCL below it.
        """
        try:
            argv = shlex.split(line)
        except ValueError as e:
            print(f"Error: cannot read the command line: {e}", file=sys.stderr)
            return
        stdin = None
        if cell is not None:
            words = tuple(a for a in argv if not a.startswith("-"))
            if words[:2] not in FILE_COMMANDS:
                print("Error: %%nomad takes a job spec in the cell body for `job run`, "
                      "`job plan` and `job validate`; use %nomad (one %) for "
                      f"`{line.strip()}`", file=sys.stderr)
                return
            if not argv or argv[-1] != "-":
                argv.append("-")
            stdin = cell
        run_line(argv, stdin=stdin)


def load_ipython_extension(ipython: Any) -> None:
    """The magics alone, for kernels ``nomadlab lab`` starts: the agent starts on first use
    (or at ``%load_ext nomadlab``, which then still says what it started)."""
    ipython.register_magics(NomadMagics)
