"""Nomad's CLI output, rendered from API JSON so it works for a real cluster too.

Each renderer returns a :class:`~nomadlab.format.document.Document`: ``str()`` is the
text ``nomad`` prints (same columns, same words), ``_repr_html_`` a compact table for
notebooks.  Importing this package also gives the main structs their rich reprs
(:mod:`.reprs`).
"""

from .allocation import alloc_status, task_events
from .deployment import deployed_table, deployment_list, deployment_status
from .document import KV, Blank, Document, Heading, Line, Table, columnize
from .evaluation import eval_status, failed_placement_lines
from .job import alloc_list, job_history, job_inspect, job_list, job_status
from .metrics import alloc_metric_lines, score_table
from .node import node_list, node_status
from .plan import job_diff_lines, plan_exit_code, plan_output
from .reprs import document_for, install

install()

__all__ = ["Document", "KV", "Table", "Heading", "Line", "Blank", "columnize", "job_list",
           "job_status", "job_history", "job_inspect", "alloc_list", "eval_status",
           "failed_placement_lines", "alloc_status", "task_events", "node_list", "node_status",
           "alloc_metric_lines", "score_table", "job_diff_lines", "plan_output",
           "plan_exit_code", "document_for", "deployment_list", "deployment_status",
           "deployed_table"]
