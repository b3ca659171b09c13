"""The one place the server's errors become Nomad's HTTP status codes and messages.

Nomad answers an error with a status code and the message as a plain-text body
(``CodedError`` in command/agent/http.go); clients such as the ``nomad`` CLI and
python-nomad show that text.  Handlers raise :class:`HTTPError` for what they check
themselves; everything else is translated here, once.
"""

from __future__ import annotations

from typing import Optional

from ..errors import ClusterError
from ..jobspec import JobSpecError

__all__ = ["HTTPError", "to_http_error", "multierror", "INVALID_METHOD"]

#: Nomad's ErrInvalidMethod.
INVALID_METHOD = "Invalid method"


class HTTPError(Exception):
    """A status code and the message Nomad would send with it (and any header the answer
    must carry, such as a 405's ``Allow``)."""

    def __init__(self, status: int, message: str,
                 headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def multierror(messages: list[str]) -> str:
    """Messages the way Go's multierror prints them (what Nomad returns for a bad job)."""
    n = len(messages)
    items = "".join(f"\n\t* {m}" for m in messages)
    return f"{n} error{'s' if n != 1 else ''} occurred:{items}\n\n"


def to_http_error(err: BaseException) -> HTTPError:
    """Translate what the server, state store and job spec layer raise."""
    if isinstance(err, HTTPError):
        return err
    if isinstance(err, JobSpecError):
        if err.source:  # HCL text: lines and carets say more than a list
            return HTTPError(400, str(err))
        return HTTPError(400, multierror([p.message if not p.path else f"{p.path}: {p.message}"
                                          for p in err.problems]))
    if isinstance(err, ClusterError):
        return HTTPError(err.status, err.message)
    return HTTPError(500, f"{type(err).__name__}: {err}")
