"""Pictures of the state: networkx graph builders and matplotlib drawings.

Builders take an agent, a state snapshot or Nomad's API JSON (see :func:`read_source`)
and return networkx graphs or plain data; ``draw*`` turn them into matplotlib Figures.
"""

from .draw import draw, draw_diff, draw_topology
from .graphs import diff, job_graph, kind_counts, topology
from .source import Source, read_source

from .funnel import draw_funnel, draw_why_not, placement_funnel, why_not, why_not_table
from .timeline import draw_timeline, timeline
from .deployments import deployment_timeline, draw_deployment_timeline

__all__ = ["read_source", "Source", "job_graph", "topology", "diff", "kind_counts", "draw",
           "draw_topology", "draw_diff", "placement_funnel", "why_not", "why_not_table",
           "draw_funnel", "draw_why_not", "timeline", "draw_timeline", "deployment_timeline",
           "draw_deployment_timeline"]
