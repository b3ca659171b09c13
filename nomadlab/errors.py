"""The errors a cluster answers with, one small hierarchy for every entry point.

The server, the in-process agent and a remote cluster raise these; each boundary
translates them once: the HTTP API into Nomad's status code and message
(:func:`nomadlab.api.errors.to_http_error`), the commands and magics into the text
``nomad`` prints.  Nothing else (no bare ``KeyError`` or ``ValueError`` from deep inside)
is turned into a 404 or a 400, so a bug stays a bug (a 500 with its traceback logged).

The classes also derive from the Python exception a caller would reach for
(``NotFound`` is a ``KeyError``, ``Invalid`` a ``ValueError``, ``PermissionDenied`` a
``PermissionError``), so notebook code written as ``except KeyError`` keeps working.
"""

from __future__ import annotations

from typing import ClassVar, Optional

__all__ = ["ClusterError", "NotFound", "Conflict", "Invalid", "PermissionDenied"]


class ClusterError(Exception):
    """A request the cluster refused; ``status`` is the HTTP code Nomad answers with."""

    status: ClassVar[int] = 500

    def __init__(self, message: str, *, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status  # type: ignore[misc]

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class NotFound(ClusterError, KeyError):
    """The job, allocation, node, ... named does not exist (or no ID has that prefix)."""

    status = 404


class Conflict(ClusterError):
    """The write lost a race it asked to be told about (``-check-index``, ``cas``).

    Nomad answers these with a 400 or a 500 depending on the endpoint, hence ``status``
    per instance; the message is Nomad's.
    """

    status = 409


class Invalid(ClusterError, ValueError):
    """The request itself is wrong: a bad field, a value out of range, a stopped job."""

    status = 400


class PermissionDenied(ClusterError, PermissionError):
    """The request's token may not do this (Nomad's ``Permission denied``)."""

    status = 403

    def __init__(self, message: str = "Permission denied", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
