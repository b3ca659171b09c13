"""The dashboard's panels, each a widget over the public Python API that reads, never writes
(except the job editor and the step buttons, which act as the CLI would)."""

from .cluster import ClusterView, jobs_html
from .editor import JobEditor, sample_spec
from .errors import ErrorLog, learner_message
from .history import HistoryScrubber
from .inspector import EvalInspector

__all__ = ["ClusterView", "jobs_html", "JobEditor", "sample_spec", "ErrorLog",
           "learner_message", "HistoryScrubber", "EvalInspector"]
