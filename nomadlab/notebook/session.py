"""The kernel's one agent: started by ``%load_ext nomadlab`` (or ``agent()``), reused by
every magic and dashboard, replaced by ``%nomad agent -dev ...`` or ``use(nl.dev(...))``
and shut down at exit.

One agent per kernel is what ``nomad agent -dev`` gives on a laptop: every cell talks to
the same cluster, so a job run in one cell is the job ``%nomad status`` shows in the next.
Replacing it shuts the old one down (re-running a lab's first cell leaves one cluster, not
two), and so does the kernel's shutdown, restart or SIGTERM (see :mod:`.kernel_exit`).
"""

from __future__ import annotations

import atexit
import errno
import os
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from . import kernel_exit

__all__ = ["agent", "use", "start", "current", "describe", "shutdown", "on_change",
           "AgentShape", "DEFAULT_HTTP_PORT", "IDLE"]

DEFAULT_HTTP_PORT = 4646
#: What stepping says when there is nothing to do (the magic and the dashboard alike).
IDLE = "idle: no evaluation is waiting and none is in flight"


@dataclass(frozen=True)
class AgentShape:
    """What ``%nomad agent -dev`` may ask for: real clients, simulated nodes, mode, seed."""

    clients: int = 1
    nodes: int = 0
    mode: str = "auto"
    seed: int = 0
    http: bool = True


@dataclass
class _Session:
    agent: Any = None
    started_in: float = 0.0       # seconds from asking to a ready agent
    listeners: list[Callable[[Any], None]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    shut_down: "weakref.WeakSet[Any]" = field(default_factory=weakref.WeakSet)


_session = _Session()


def current() -> Any:
    """The kernel's agent, or None when none has been started or attached."""
    return _session.agent


def agent() -> Any:
    """The kernel's agent, starting the default one (one real client) if there is none."""
    with _session.lock:
        if _session.agent is None:
            start(AgentShape())
        return _session.agent


def use(existing: Any) -> Any:
    """Attach an agent made elsewhere (``nl.dev(mode="step", ...)``) so the magics and the
    dashboard talk to it.

    The agent it replaces is shut down first when it runs in this kernel, whoever made it:
    a lab's first cell (``c = nl.dev(...)``; ``use(c)``) run twice must leave one cluster
    running, not two.  A cluster read over HTTP (``nl.connect``) is not ours to stop.
    """
    with _session.lock:
        if existing is not _session.agent:
            _retire()
            _install(existing, started_in=0.0)
        return existing


def start(shape: AgentShape) -> Any:
    """Start an agent of ``shape`` as the kernel's agent.

    The kernel's agent is shut down first, so its HTTP port (4646) is free for the new one
    and no task of the old cluster keeps running.
    """
    import nomadlab as nl
    with _session.lock:
        _retire()
        begin = time.perf_counter()
        new = _dev(nl, shape)
        if shape.nodes:
            from .progress import track  # a thousand nodes take seconds: show it
            for i in track(range(shape.nodes), description="simulated nodes"):
                new.add_node(name=f"sim-{i + 1}")
        _install(new, started_in=time.perf_counter() - begin)
        return new


def _dev(nl: Any, shape: AgentShape) -> Any:
    """``nl.dev`` with the HTTP API on 4646 when free, else on any free port."""
    kwargs: dict[str, Any] = dict(clients=shape.clients, mode=shape.mode, seed=shape.seed)
    if not shape.http:
        return nl.dev(**kwargs)
    if _port_free(DEFAULT_HTTP_PORT):
        try:
            return nl.dev(**kwargs, http=True)
        except OSError as err:  # taken between the check and the bind
            if err.errno != errno.EADDRINUSE:
                raise
    return nl.dev(**kwargs, http=0)


def http_address(a: Any) -> Optional[str]:
    """``http://127.0.0.1:<port>`` when the agent serves its HTTP API, else None."""
    address = getattr(a, "http_addr", None)
    if not address:
        return None
    return address if "://" in str(address) else f"http://{address}"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _retire(max_kill_timeout: Optional[float] = None) -> None:
    """Shut the current agent down and let go of it and of its NOMAD_ADDR."""
    old = _session.agent
    if old is None:
        return
    _shutdown(old, max_kill_timeout)
    if os.environ.get("NOMAD_ADDR") and os.environ["NOMAD_ADDR"] == http_address(old):
        del os.environ["NOMAD_ADDR"]
    _session.agent, _session.started_in = None, 0.0


def _install(new: Any, *, started_in: float) -> None:
    """Make ``new`` the kernel's agent; ``NOMAD_ADDR`` points at its HTTP API so
    ``!nomadlab status`` in a cell finds it."""
    _session.agent, _session.started_in = new, started_in
    address = http_address(new) if new is not None else None
    if address:
        os.environ["NOMAD_ADDR"] = address
    if new is not None:
        kernel_exit.install(_stop_at_exit)
    for listener in list(_session.listeners):
        listener(new)


def on_change(listener: Callable[[Any], None]) -> Callable[[], None]:
    """Call ``listener(agent)`` whenever the kernel's agent is replaced; returns a remover.

    A dashboard made without a cluster follows the kernel's agent this way."""
    _session.listeners.append(listener)

    def remove() -> None:
        if listener in _session.listeners:
            _session.listeners.remove(listener)
    return remove


def _shutdown(a: Any, max_kill_timeout: Optional[float] = None) -> None:
    """Shut an in-process agent down once; a cluster read over HTTP (no ``shutdown``) is
    not ours to stop."""
    stop = getattr(a, "shutdown", None)
    if stop is None or a in _session.shut_down:
        return
    _session.shut_down.add(a)
    if max_kill_timeout is None:
        stop()
    else:
        stop(max_kill_timeout=max_kill_timeout)


def shutdown(max_kill_timeout: Optional[float] = None) -> None:
    """Shut the kernel's agent down (every task and container it started) and forget it.

    ``max_kill_timeout`` caps each task's kill_timeout (seconds); the kernel's exit uses
    :data:`kernel_exit.EXIT_KILL_TIMEOUT` so it is done before Jupyter kills the kernel.
    """
    with _session.lock:
        if _session.agent is not None:
            _retire(max_kill_timeout)
            _install(None, started_in=0.0)


def _stop_at_exit() -> None:
    """The kernel is exiting (shutdown, restart, SIGTERM): stop the agent in time."""
    kernel_exit.stopping()
    shutdown(max_kill_timeout=kernel_exit.EXIT_KILL_TIMEOUT)


atexit.register(_stop_at_exit)


# -- what was started, in words -------------------------------------------------------


def describe(a: Any, started_in: Optional[float] = None) -> str:
    """What the agent runs: server, clients with their resources and drivers, mode, HTTP.

    Said once, plainly: without a Docker engine the labs use exec and simulated nodes.
    """
    if not a.in_process:  # nl.connect(...): a cluster this kernel only talks to
        nodes = a.nodes()
        return (f"nomadlab: the magics and the dashboard talk to the cluster at {a.address} "
                f"(index {a.index}, {len(nodes)} node(s)); it runs on its own, outside this "
                "kernel")
    started_in = _session.started_in if started_in is None and a is _session.agent else started_in
    took = f" in {started_in:.2f} s" if started_in else ""
    lines = [f"nomadlab dev agent ready{took}: mode {a.mode}, seed {a.seed}"]
    lines.append(f"  server     in this kernel (state index {a.index})")
    docker_missing = ""
    nodes = sorted(a.nodes(), key=lambda n: (n.attributes.get("nomadlab.simulated") == "true",
                                              n.name))
    simulated = [n for n in nodes if n.attributes.get("nomadlab.simulated") == "true"]
    for node in nodes:
        if node in simulated:
            continue
        cpu = node.node_resources.cpu.cpu_shares
        memory = node.node_resources.memory.memory_mb
        found = [d for d, info in sorted(node.drivers.items()) if info.detected and info.healthy]
        lines.append(f"  client     {node.name} (node {node.id[:8]}): {cpu} MHz CPU, "
                     f"{memory} MB memory; drivers: {', '.join(found) or 'none'}")
        for name, info in sorted(node.drivers.items()):
            if not (info.detected and info.healthy):
                why = info.health_description
                lines.append("             " + (why if why.startswith(name) else
                                               f"{name} not detected: {why}"))
                if name == "docker":
                    docker_missing = info.health_description
    if simulated:
        names = ", ".join(n.name for n in simulated[:4]) + (", ..." if len(simulated) > 4 else "")
        lines.append(f"  simulated  {len(simulated)} node(s) ({names}): tasks there run with "
                     "the mock driver")
    address = http_address(a)
    if address:
        lines.append(f"  HTTP API   {address} (NOMAD_ADDR is set: `!nomadlab status` in a "
                     "cell talks to this agent)")
    if docker_missing:
        lines.append("No Docker engine here, so the labs use the exec driver and simulated "
                     "nodes instead of containers.")
    if a.mode == "step":
        lines.append("Try: %%nomad job run -detach (a job spec in the cell), then %nomad step "
                     "to move it one stage at a time")
    else:
        lines.append("Try: %nomad node status   |   %%nomad job run (a job spec in the cell)")
    return "\n".join(lines)
