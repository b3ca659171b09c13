"""What a Jupyter kernel does on its way out: stop the kernel's agent, in time.

Jupyter shuts a kernel down (and restarts one) by sending ``shutdown_request``; the kernel
process then exits and runs its ``atexit`` handlers.  The kernel manager does not wait for
long: SIGTERM after half of its ``shutdown_wait_time`` (5 s by default), SIGKILL at the
end.  A SIGKILLed kernel leaves every task and container its agent started behind, so:

* at exit each task gets at most :data:`EXIT_KILL_TIMEOUT` seconds of its kill_timeout
  (all tasks are stopped at once, so the whole agent stops in about that time);
* SIGTERM (the manager's second step, or ``kill <pid>``) stops the agent too, then ends
  the process as SIGTERM would; one arriving while the agent is stopping waits for it.

A kernel's agent stops its tasks and containers even when it has a data dir.  A Nomad
client with a data dir leaves its tasks running when it shuts down, for its next start to
re-attach (``nomadlab agent -dev -data-dir DIR`` does the same); but a kernel is not a
service that comes back: shut down, it may never start again, and a restarted or
re-run lab starts its own agent.  The lab's promise is the issue's: "kernel shutdown,
kernel restart and re-running a lab's first cell leave no process and no container
behind".  So a kernel is treated as Nomad treats dev mode (destroy the allocations on
shutdown).  Nothing acknowledged is lost all the same: the data dir keeps the state, and
an agent started on it again re-attaches to nothing but starts the jobs' tasks afresh.

A kernel SIGKILLed before its agent finished (a loaded machine, a kernel killed from
outside) runs none of this, so the promise does not rest on it alone:

* every exec and raw_exec task of a kernel's agent is tied to the kernel's process: its
  executor waits on a pidfd of the kernel and SIGKILLs the task (its PID namespace, its
  process group, its cgroups) the moment the kernel is gone (see
  :mod:`nomadlab.drivers.executor`; ``Agent._tasks_outlive_agent`` says which agents'
  tasks may outlive them: only one with a data dir outside a kernel);
* a container is run by the engine, which knows nothing of the kernel: it carries its
  kernel as its owner, and the kernel's container reaper, a process in a session of its
  own waiting on a pidfd of the kernel, removes it the moment the kernel is gone (see
  :mod:`nomadlab.drivers.container_reaper`).  Were the reaper killed too, the next agent
  on the host removes it when its client starts
  (:meth:`nomadlab.drivers.docker.DockerDriver.remove_orphans`).
* an agent that does stop ends with ``docker rm -f`` of all its containers at once, so
  none it killed stays behind, removed or not.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

__all__ = ["EXIT_KILL_TIMEOUT", "install", "stopping", "in_kernel"]

#: Seconds each task gets to stop when its kernel exits: well inside the 2.5 s before the
#: kernel manager's SIGTERM, so the SIGKILL at 5 s never finds the agent still stopping.
EXIT_KILL_TIMEOUT = 1.0

_installed = False
_stopping = threading.Event()


def install(stop_agent: Callable[[], None]) -> None:
    """Call ``stop_agent`` when the kernel process ends (once, however it ends).

    The SIGTERM handler is installed only in a Jupyter kernel's main thread: a plain Python
    process or a test runner keeps its own handling of SIGTERM.
    """
    global _installed
    if _installed or not in_kernel() or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        if _stopping.is_set():  # atexit is stopping the agent: let it finish
            return
        _stopping.set()
        stop_agent()
        signal.signal(signal.SIGTERM, previous if callable(previous) else signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    _installed = True


def stopping() -> None:
    """Mark that the agent is being stopped at exit (a SIGTERM then waits for it)."""
    _stopping.set()


def in_kernel() -> bool:
    """True in an IPython kernel (ipykernel's shell has a ``kernel``), not in a terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
