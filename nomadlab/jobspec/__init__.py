"""Job specifications: HCL2 (as Nomad reads it), HCL1 (pyhcl) or JSON -> a validated Job."""

from .defaults import canonicalize
from .errors import JobSpecError, Problem
from .parse import describe_path, job_from_api, parse_job
from .validate import validate

__all__ = ["parse_job", "job_from_api", "describe_path", "canonicalize", "validate",
           "JobSpecError", "Problem"]
