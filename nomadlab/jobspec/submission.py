"""``JobSubmission``: the job spec as it was submitted, kept beside the job's version.

Nomad keeps the source of each registered version (``nomad job run`` sends it with the
job) so that ``GET /v1/job/:id/submission?version=N`` and the UI can show what was
written, and which variables it was run with.  Fields and JSON names are Nomad's
(``api.JobSubmission``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

__all__ = ["JobSubmission", "spec_format"]


def spec_format(text: str, hcl1: bool = False) -> str:
    """``hcl2``, ``hcl1`` or ``json``: Nomad's names for what a job spec was written in."""
    if text.lstrip().startswith("{"):
        return "json"
    return "hcl1" if hcl1 else "hcl2"


@dataclass(frozen=True)
class JobSubmission:
    """Source, format, ``-var`` flags and var-file contents of one submission."""

    source: str
    format: str = "hcl2"
    variable_flags: Mapping[str, str] = field(default_factory=dict)
    variables: str = ""

    @classmethod
    def of(cls, text: str, hcl1: bool = False,
           variable_flags: Optional[Mapping[str, Any]] = None,
           variables: str = "") -> "JobSubmission":
        flags = {k: v if isinstance(v, str) else str(v) for k, v in (variable_flags or {}).items()}
        return cls(text, spec_format(text, hcl1), flags, variables)

    def to_api(self, namespace: str = "", job_id: str = "", version: int = 0,
               job_modify_index: int = 0) -> dict[str, Any]:
        return {"Source": self.source, "Format": self.format,
                "VariableFlags": dict(self.variable_flags), "Variables": self.variables,
                "Namespace": namespace, "JobID": job_id, "Version": version,
                "JobModifyIndex": job_modify_index}

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "JobSubmission":
        flags = data.get("VariableFlags") or {}
        return cls(str(data.get("Source") or ""), str(data.get("Format") or "hcl2"),
                   {str(k): str(v) for k, v in flags.items()}, str(data.get("Variables") or ""))
