"""nomadlab: learn how Nomad schedules by running a real Nomad-style orchestrator in Jupyter.

The public names are re-exported here and pinned by ``tests/test_public_api.py``.
"""

from . import structs
from . import format as _format  # noqa: F401  (gives the structs their notebook reprs)
from .agent import Agent, dev
from .api.remote import Remote, connect
from .jobspec import JobSpecError, Problem, parse_job
from .structs import (Allocation, AllocMetric, Deployment, Evaluation, Job, Node, Task,
                      TaskGroup)

__version__ = "0.1.0"

__all__ = ["dev", "Agent", "viz", "parse_job", "JobSpecError", "Problem", "Job", "TaskGroup",
           "Task", "Evaluation", "Allocation", "AllocMetric", "Node", "Deployment", "structs",
           "__version__", "connect", "Remote"]


def __getattr__(name: str):
    """``nl.viz`` is imported on first use: it brings matplotlib, which takes a while."""
    if name == "viz":
        import importlib
        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'nomadlab' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext nomadlab``: the magics and the kernel's agent (see nomadlab.notebook)."""
    from .notebook import extension
    extension.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .notebook import extension
    extension.unload_ipython_extension(ipython)
