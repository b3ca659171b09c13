"""``JobSpecError``: every problem in a job spec, each with where it is and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["Problem", "JobSpecError"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a job spec.

    ``line``/``column`` are 1-based and ``None`` when unknown (e.g. JSON input);
    ``path`` reads like the spec itself: ``job "web" > group "api" > task "srv"``.
    """

    message: str
    line: Optional[int] = None
    column: Optional[int] = None
    path: str = ""

    def location(self, filename: Optional[str] = None) -> str:
        where = filename or "<job spec>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return where


class JobSpecError(ValueError):
    """A job spec that cannot become a Job; ``problems`` lists all that is wrong, in order.

    ``str()`` shows each problem as ``file:line:column: message``, the block path, the
    source line and a caret under the spot, the way compilers do.
    """

    def __init__(self, problems: list[Problem], source: Optional[str] = None,
                 filename: Optional[str] = None) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.column or 0))
        self.source = source
        self.filename = filename
        super().__init__(self._format())

    def __str__(self) -> str:
        return self._format()

    def _format(self) -> str:
        lines = self.source.splitlines() if self.source else []
        count = len(self.problems)
        out = [f"{count} problem{'s' if count != 1 else ''} in {self.filename or 'the job spec'}:"]
        for problem in self.problems:
            out.append(f"{problem.location(self.filename)}: {problem.message}")
            if problem.path:
                out.append(f"    in {problem.path}")
            if problem.line is not None and 0 < problem.line <= len(lines):
                text = lines[problem.line - 1].expandtabs(4)
                out.append(f"    {text}")
                if problem.column:
                    out.append("    " + " " * (problem.column - 1) + "^")
        return "\n".join(out)

    def _repr_html_(self) -> str:  # pragma: no cover - exercised by the notebook tests
        import html
        return f"<pre style='color:#b00'>{html.escape(self._format())}</pre>"
