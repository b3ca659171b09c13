"""nomadlab: learn how Nomad schedules by running a real Nomad-style orchestrator in Jupyter.

The public names are re-exported here and pinned by ``tests/test_public_api.py``.
"""

from . import structs
from .agent import Agent, dev
from .jobspec import JobSpecError, Problem, parse_job
from .structs import (Allocation, AllocMetric, Deployment, Evaluation, Job, Node, Task,
                      TaskGroup)

__version__ = "0.1.0"

__all__ = ["dev", "Agent", "parse_job", "JobSpecError", "Problem", "Job", "TaskGroup", "Task", "Evaluation",
           "Allocation", "AllocMetric", "Node", "Deployment", "structs", "__version__"]
