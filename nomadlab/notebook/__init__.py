"""nomadlab in Jupyter: the ``%nomad`` magics, the kernel's agent and the dashboard widget.

``%load_ext nomadlab`` (or ``nomadlab lab``, which loads it for every kernel) starts one
in-process agent per kernel.  From Python::

    import nomadlab.notebook as nb
    c = nb.agent()                 # the kernel's agent, started if there is none
    nb.use(nl.dev(mode="step"))    # or attach one you made; the magics follow it
    display(nb.Dashboard())        # topology, jobs, evaluations, history, a job editor
    for i in nb.track(range(1000), description="nodes"):   # a progress bar for long work
        c.add_node(name=f"n{i}")

Importing this package is cheap; ipywidgets and matplotlib load with the dashboard.
"""

from __future__ import annotations

from typing import Any

from .extension import load_ipython_extension, unload_ipython_extension
from .session import agent, use

__all__ = ["agent", "use", "Dashboard", "track", "load_ipython_extension",
           "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    """``Dashboard`` and ``track`` are imported on first use: they bring ipywidgets (and
    the dashboard matplotlib)."""
    if name == "Dashboard":
        from .dashboard import Dashboard
        return Dashboard
    if name == "track":
        from .progress import track
        return track
    raise AttributeError(f"module 'nomadlab.notebook' has no attribute {name!r}")
