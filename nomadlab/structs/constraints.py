"""Where a task group may and would like to run: constraints, affinities, spreads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct, api_field

__all__ = ["Constraint", "Affinity", "Spread", "SpreadTarget", "CONSTRAINT_OPERANDS",
           "AFFINITY_OPERANDS"]

#: Every operand Nomad's ConstraintChecker understands (nomad/structs/structs.go).
CONSTRAINT_OPERANDS = (
    "=", "==", "is", "!=", "not", ">", ">=", "<", "<=", "regexp", "set_contains",
    "set_contains_all", "set_contains_any", "version", "semver", "is_set", "is_not_set",
    "distinct_hosts", "distinct_property",
)
#: Affinities take the same operands except the two that are about placement counts.
AFFINITY_OPERANDS = tuple(op for op in CONSTRAINT_OPERANDS
                          if op not in ("distinct_hosts", "distinct_property"))


@dataclass
class Constraint(APIStruct):
    """A hard rule: nodes where ``LTarget Operand RTarget`` is false are filtered."""

    ltarget: str = api_field("LTarget", default="")
    rtarget: str = api_field("RTarget", default="")
    operand: str = "="

    def __str__(self) -> str:
        """Nomad's spelling, the key of AllocMetric.ConstraintFiltered."""
        return f"{self.ltarget} {self.operand} {self.rtarget}".strip()


@dataclass
class Affinity(APIStruct):
    """A soft preference: matching nodes gain (or lose, when negative) ``weight``."""

    ltarget: str = api_field("LTarget", default="")
    rtarget: str = api_field("RTarget", default="")
    operand: str = "="
    weight: Optional[int] = None

    def __str__(self) -> str:
        return f"{self.ltarget} {self.operand} {self.rtarget}".strip()


@dataclass
class SpreadTarget(APIStruct):
    """The share of a group's allocations wanted on one value of the spread attribute."""

    value: str = ""
    percent: int = 0


@dataclass
class Spread(APIStruct):
    """Spread allocations over the values of ``attribute`` (e.g. ``${node.datacenter}``)."""

    attribute: str = ""
    weight: Optional[int] = None
    spread_target: list[SpreadTarget] = field(default_factory=list)
