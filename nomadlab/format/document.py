"""A small document model for CLI output: key/value blocks, tables, headings and lines.

Every renderer in :mod:`nomadlab.format` builds a :class:`Document`; ``text()`` gives
exactly what the ``nomad`` CLI prints (its ``formatKV``/``formatList`` alignment, which is
ryanuber/columnize), ``html()`` a compact table layout for notebooks.  One model, two
renderings, so the notebook and the terminal never disagree.
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass, field
from typing import Union

__all__ = ["KV", "Table", "Heading", "Line", "Blank", "Document", "columnize", "EMPTY"]

#: What Nomad prints for an empty cell (columnize's ``Empty``).
EMPTY = "<none>"

#: Line styles; the HTML rendering colours them the way Nomad's terminal output does.
STYLES = ("", "added", "deleted", "edited", "error", "warning", "bold")
_COLOURS = {"added": "#2e7d32", "deleted": "#c62828", "edited": "#b28704",
            "error": "#c62828", "warning": "#b28704"}


def columnize(rows: list[list[str]], glue: str = "  ", empty: str = EMPTY) -> str:
    """Align cells in columns as columnize does: cells trimmed, blanks shown as ``empty``,
    every column but a row's last padded to the widest cell, joined by ``glue``."""
    cells = [[(str(c).strip() or empty) for c in row] for row in rows]
    widths: dict[int, int] = {}
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths.get(i, 0), len(cell))
    lines = []
    for row in cells:
        parts = [cell.ljust(widths[i]) + glue for i, cell in enumerate(row[:-1])]
        lines.append("".join(parts) + (row[-1] if row else ""))
    return "\n".join(lines)


@dataclass
class KV:
    """Nomad's ``formatKV``: ``Key = value`` lines aligned on the ``=``."""

    rows: list[tuple[str, str]]

    def text(self) -> str:
        return columnize([[k, v] for k, v in self.rows], glue=" = ")

    def html(self) -> str:
        body = "".join(f"<tr><th style='text-align:left'>{_e(k)}</th><td style='text-align:left'>"
                       f"{_e(v.strip() or EMPTY)}</td></tr>" for k, v in self.rows)
        return f"<table class='nomadlab-kv'>{body}</table>"


@dataclass
class Table:
    """Nomad's ``formatList``: a header row and aligned columns."""

    header: list[str]
    rows: list[list[str]]
    #: Said instead of the table when there are no rows ("No allocations placed").
    if_empty: str = ""

    def text(self) -> str:
        if not self.rows and self.if_empty:
            return self.if_empty
        return columnize([self.header] + self.rows)

    def html(self) -> str:
        if not self.rows and self.if_empty:
            return f"<div>{_e(self.if_empty)}</div>"
        head = "".join(f"<th style='text-align:left'>{_e(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{_e(str(c).strip() or EMPTY)}"
                                        "</td>" for c in row) + "</tr>" for row in self.rows)
        return f"<table class='nomadlab-list'><tr>{head}</tr>{body}</table>"


@dataclass
class Heading:
    """A bold section title (``Summary``, ``Allocations``, ``Placement Metrics``)."""

    title: str

    def text(self) -> str:
        return self.title

    def html(self) -> str:
        return f"<div style='font-weight:bold;margin-top:0.6em'>{_e(self.title)}</div>"


@dataclass
class Line:
    """One line as printed; ``style`` colours it in HTML (a ``+`` line green, ...)."""

    content: str
    style: str = ""

    def text(self) -> str:
        return self.content

    def html(self) -> str:
        colour = _COLOURS.get(self.style)
        css = "white-space:pre;font-family:monospace;margin:0"
        if colour:
            css += f";color:{colour}"
        if self.style == "bold":
            css += ";font-weight:bold"
        return f"<div style='{css}'>{_e(self.content) or '&nbsp;'}</div>"


@dataclass
class Blank:
    """An empty line between sections."""

    def text(self) -> str:
        return ""

    def html(self) -> str:
        return ""


Block = Union[KV, Table, Heading, Line, Blank, "Document"]


@dataclass
class Document:
    """Blocks in order; ``str()`` is the CLI text, ``_repr_html_`` the notebook view."""

    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> "Document":
        self.blocks.extend(blocks)
        return self

    def section(self, title: str, *blocks: Block) -> "Document":
        """A blank line, a bold title and its body, as Nomad separates sections."""
        return self.add(Blank(), Heading(title), *blocks)

    def lines(self, text: str, style: str = "") -> "Document":
        return self.add(*(Line(line, style) for line in text.split("\n")))

    def text(self) -> str:
        return "\n".join(block.text() for block in self.blocks)

    def html(self) -> str:
        return ("<div class='nomadlab-output' style='font-size:90%'>"
                + "".join(block.html() for block in self.blocks) + "</div>")

    __str__ = text

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(self.text())  # type: ignore[attr-defined]


def _e(text: str) -> str:
    return _html.escape(str(text))
