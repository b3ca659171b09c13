"""``%load_ext nomadlab``: register the magics and start (or attach to) the kernel's agent.

Loading says what it started, so a learner sees from the first cell which nodes exist,
which drivers each found (and, when there is no Docker engine, that the labs use exec and
simulated nodes), the mode, and where the HTTP API listens.
"""

from __future__ import annotations

from typing import Any

from . import session

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%nomad``/``%%nomad`` and make sure the kernel has an agent."""
    from .magics import NomadMagics
    ipython.register_magics(NomadMagics)
    attached = session.current() is not None
    try:
        a = session.agent()
    except Exception as e:  # the magics still load; `%nomad agent -dev` can try again
        print(f"nomadlab: the dev agent did not start: {e}\n"
              "Fix what the message names, then run `%nomad agent -dev`.")
        return
    if attached:
        print("nomadlab: the magics use the agent this kernel already runs.")
    print(session.describe(a))


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and shut down the kernel's agent with everything it started."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("nomad", None)
    session.shutdown()
