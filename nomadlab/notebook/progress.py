"""Progress bars for long work in a notebook (big simulations, image builds, many steps).

``track`` wraps an iterable like ``tqdm.auto`` does: in a kernel that can show widgets it
displays an ``ipywidgets.IntProgress`` with a label; elsewhere it stays silent, so the
same lab code runs under nbclient and in a terminal.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Iterator, Optional, TypeVar

import ipywidgets as widgets

from .kernel_exit import in_kernel

__all__ = ["ProgressBar", "track"]

T = TypeVar("T")


class ProgressBar(widgets.HBox):
    """A bar and a label: ``start(total, what)``, ``advance()``, ``finish(message)``."""

    def __init__(self, **kwargs: Any) -> None:
        self.bar = widgets.IntProgress(min=0, max=1, value=0)
        self.label = widgets.Label()
        super().__init__([self.bar, self.label], **kwargs)
        self._what = ""
        self._began = 0.0

    def start(self, total: int, what: str) -> None:
        self._what, self._began = what, time.monotonic()
        self.bar.max, self.bar.value, self.bar.bar_style = max(total, 1), 0, ""
        self.layout.display = None
        self._label()

    def advance(self, n: int = 1, total: Optional[int] = None) -> None:
        if total is not None and total > self.bar.max:
            self.bar.max = total
        self.bar.value = min(self.bar.value + n, self.bar.max)
        self._label()

    def finish(self, message: str = "") -> None:
        self.bar.value, self.bar.bar_style = self.bar.max, "success"
        self.label.value = message or f"{self._what}: done in {time.monotonic() - self._began:.1f} s"

    def _label(self) -> None:
        self.label.value = f"{self._what}: {self.bar.value}/{self.bar.max}"


def track(items: Iterable[T], total: Optional[int] = None, description: str = "") -> Iterator[T]:
    """Yield ``items``, showing how many are done (a bar in a notebook, nothing elsewhere)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not in_kernel():
        yield from items
        return
    from IPython.display import display
    bar = ProgressBar()
    bar.start(total or 0, description or "working")
    display(bar)
    for item in items:
        yield item
        bar.advance()
    bar.finish()
