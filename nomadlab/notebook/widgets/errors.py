"""Where a widget callback's error goes: an Output the learner sees, never the void.

ipywidgets swallows an exception raised in a click handler into the browser's console,
where no learner looks.  Every dashboard callback runs through :meth:`ErrorLog.guard`,
which shows the message in the dashboard instead (and keeps a count, which the tests read).
"""

from __future__ import annotations

import functools
import traceback
from typing import Any, Callable, TypeVar

import ipywidgets as widgets

from ...jobspec import JobSpecError

__all__ = ["ErrorLog", "learner_message"]

F = TypeVar("F", bound=Callable[..., Any])

_EXPECTED = (JobSpecError, KeyError, ValueError, RuntimeError, TimeoutError)


def learner_message(e: BaseException) -> str:
    """The message for a mistake a learner can make; a bug also names its type."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, _EXPECTED):
        return str(e)
    return f"nomadlab internal error ({type(e).__name__}: {e})"


class ErrorLog(widgets.Output):
    """The dashboard's error area: each failed callback appends what went wrong and where."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("nomadlab-errors")
        self.count = 0
        self._last = ""

    def report(self, where: str, e: BaseException) -> None:
        """Show the error; the same message twice in a row (a refresh failing on every
        state change) is shown once."""
        self.count += 1
        text = f"{where}: {learner_message(e)}\n"
        if text == self._last:
            return
        self._last = text
        if not isinstance(e, _EXPECTED):
            text += "".join(traceback.format_exception(type(e), e, e.__traceback__))
        self.append_stderr(text)

    def clear(self) -> None:
        self.outputs = ()
        self.count = 0
        self._last = ""

    def guard(self, where: str) -> Callable[[F], F]:
        """Decorate a callback so that an exception is reported here, not lost."""
        def wrap(fn: F) -> F:
            @functools.wraps(fn)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                try:
                    return fn(*args, **kwargs)
                except Exception as e:
                    self.report(where, e)
                    return None
            return guarded  # type: ignore[return-value]
        return wrap
