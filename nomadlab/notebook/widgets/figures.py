"""matplotlib Figures to PNG bytes for ``ipywidgets.Image``, released right after."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["png"]

DPI = 80


def png(fig: Figure) -> bytes:
    """The figure as PNG; the figure is cleared afterwards so a dashboard that redraws on
    every state change does not keep old artists alive (nl.viz never registers figures
    with pyplot, so there is no global figure list to close them from)."""
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        fig.clear()
    return buf.getvalue()
