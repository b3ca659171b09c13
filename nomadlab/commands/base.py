"""What every command shares: its streams, Nomad-style flags, and the one place errors
become the ``Error ...: message`` line and exit code the ``nomad`` CLI gives."""

from __future__ import annotations

import argparse

from dataclasses import dataclass
from typing import Any, Callable, Optional, TextIO

from ..api.client import NomadError
from ..jobspec import JobSpecError
from ..errors import ClusterError
from ..structs import StructDecodeError
from .cluster import AmbiguousPrefix

__all__ = ["IO", "Parser", "UsageError", "HelpRequested", "error_message", "normalise_flags", "read_spec"]


@dataclass
class IO:
    """Where a command writes, and what ``-`` reads."""

    out: TextIO
    err: TextIO
    stdin: Optional[str] = None

    def print(self, text: Any = "") -> None:
        self.out.write(f"{text}\n")
        self.out.flush()

    def error(self, text: Any) -> None:
        self.err.write(f"{text}\n")
        self.err.flush()


class UsageError(Exception):
    """Bad flags or arguments: the command prints its usage and exits 1, as nomad does."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class HelpRequested(Exception):
    """``-h``/``-help``: the command's help text, for the caller to print where it prints."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Help(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                         nargs=0, help="Show this help")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        raise HelpRequested(parser.format_help())


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing to the process's stderr and exiting, so
    a notebook cell gets the message and the kernel stays up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help"] = False
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "-help", action=_Help)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.format_usage())

    def exit(self, status: int = 0, message: Optional[str] = None) -> None:  # type: ignore[override]
        raise UsageError(message or "", self.format_usage())


def normalise_flags(argv: list[str]) -> list[str]:
    """Nomad's flag package accepts ``-flag=value`` and ``--flag``; argparse wants the
    value apart for single-dash flags."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            arg = arg[1:]
        if arg.startswith("-") and len(arg) > 1 and "=" in arg:
            flag, value = arg.split("=", 1)
            out.extend([flag, value])
        else:
            out.append(arg)
    return out


def error_message(err: BaseException) -> str:
    """The message of an error from the agent, the HTTP client or the job spec parser."""
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    return str(err)


#: Errors a command reports as ``Error <context>: <message>`` (never a traceback).
EXPECTED: tuple[type[BaseException], ...] = (KeyError, ValueError, LookupError, JobSpecError,
                                             StructDecodeError, RuntimeError, TimeoutError,
                                             OSError, NomadError, ClusterError)


def read_spec(path: str, stdin: Optional[str]) -> tuple[str, str]:
    """The job file's text and the name errors use (``-``: the given standard input)."""
    if path == "-":
        if stdin is None:
            raise OSError("no standard input given for '-'")
        return stdin, "<stdin>"
    with open(path, encoding="utf-8") as f:
        return f.read(), path


def ambiguous(io_: IO, err: AmbiguousPrefix, rows: Callable[[Any], list[str]],
              header: list[str]) -> int:
    from ..format.document import Table
    io_.print(f"Prefix matched multiple {err.kind}s\n")
    io_.print(Table(header, [rows(m) for m in err.matches]).text())
    return 1
