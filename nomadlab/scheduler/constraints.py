"""Nomad's constraint operands, and an explanation of each verdict a learner can read.

``check_constraint`` is Nomad's ``checkConstraint`` (scheduler/feasible/feasible.go) operand
for operand; ``version`` follows hashicorp/go-version and ``semver`` Nomad's strict
``helper/constraints/semver``. ``explain_constraint`` resolves both targets on a node and
says, in one sentence, why the constraint held or did not.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..structs import Constraint, Node
from .interpolate import resolve_target

__all__ = ["check_constraint", "explain_constraint", "constraint_key", "ConstraintResult",
           "Version", "parse_version", "version_constraint", "semver_constraint",
           "regexp_for", "UNDEFINED"]

#: How an unresolved target is shown.
UNDEFINED = "undefined"

_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE)


def constraint_key(c: Any) -> str:
    """Nomad's ``Constraint.String()``, the key of AllocMetric.ConstraintFiltered.

    Unlike ``Constraint.__str__`` this is not stripped: ``${attr.x} is_set `` keeps its
    trailing space, as it does in Nomad's metrics.
    """
    return f"{c.ltarget} {c.operand} {c.rtarget}"


# --- go-version -------------------------------------------------------------------------

_SEGMENTS = r"v?([0-9]+(?:\.[0-9]+)*?)"
_META = r"(?:\+([0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?"
_PRE_NUMERIC = r"-([0-9]+[0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*)"
_PRE_ALPHA = r"([A-Za-z\-~]+[0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*)"
#: go-version's VersionRegexpRaw: the dash before an alphabetic pre-release is optional.
VERSION_RAW = rf"{_SEGMENTS}(?:{_PRE_NUMERIC}|(?:-?{_PRE_ALPHA}))?{_META}"
#: go-version's SemverRegexpRaw: the dash is required.
SEMVER_RAW = rf"{_SEGMENTS}(?:{_PRE_NUMERIC}|(?:-{_PRE_ALPHA}))?{_META}"
_VERSION = re.compile(VERSION_RAW)
_SEMVER = re.compile(SEMVER_RAW)
_OPS = r"(>=|<=|!=|~>|=|>|<|)"
_VERSION_CONSTRAINT = re.compile(rf"\s*{_OPS}\s*({VERSION_RAW})\s*")
_SEMVER_CONSTRAINT = re.compile(rf"\s*{_OPS.replace('~>|', '')}\s*({SEMVER_RAW})\s*")


@dataclass(frozen=True)
class Version:
    """A parsed version as go-version holds it: segments padded to three, pre-release, meta."""

    segments: tuple[int, ...]
    pre: str = ""
    metadata: str = ""
    specified: int = 3  # how many segments the text named (go-version's ``si``)

    def __str__(self) -> str:
        text = ".".join(str(s) for s in self.segments)
        if self.pre:
            text += f"-{self.pre}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text

    def compare(self, other: Version) -> int:
        """-1, 0 or 1, as go-version's ``Compare`` (metadata ignored, pre-releases sort first)."""
        if str(self) == str(other):
            return 0
        if self.segments == other.segments:
            if not self.pre and not other.pre:
                return 0
            if not self.pre:
                return 1
            if not other.pre:
                return -1
            return _compare_prereleases(self.pre, other.pre)
        mine, theirs = self.segments, other.segments
        for i in range(max(len(mine), len(theirs))):
            if i >= len(mine):
                return 0 if all(s == 0 for s in theirs[i:]) else -1
            if i >= len(theirs):
                return 0 if all(s == 0 for s in mine[i:]) else 1
            if mine[i] != theirs[i]:
                return -1 if mine[i] < theirs[i] else 1
        return 0


def _go_int(text: str) -> Optional[int]:
    """``strconv.ParseInt(text, 10, 64)``, or None where Go would return an error."""
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _compare_part(mine: str, theirs: str) -> int:
    if mine == theirs:
        return 0
    mine_int, theirs_int = _go_int(mine), _go_int(theirs)
    if mine == "":
        return -1 if theirs_int is not None else 1
    if theirs == "":
        return 1 if mine_int is not None else -1
    if mine_int is not None and theirs_int is None:
        return -1
    if mine_int is None and theirs_int is not None:
        return 1
    if mine_int is None and theirs_int is None:
        return 1 if mine > theirs else -1
    return 1 if mine_int > theirs_int else -1


def _compare_prereleases(mine: str, theirs: str) -> int:
    if mine == theirs:
        return 0
    a, b = mine.split("."), theirs.split(".")
    for i in range(max(len(a), len(b))):
        result = _compare_part(a[i] if i < len(a) else "", b[i] if i < len(b) else "")
        if result:
            return result
    return 0


def _parse(text: str, pattern: re.Pattern) -> Optional[Version]:
    match = pattern.fullmatch(text)
    if match is None:
        return None
    raw_segments = match.group(1).split(".")
    segments = [_go_int(s) for s in raw_segments]
    if any(s is None for s in segments):
        return None
    padded = tuple(segments) + (0,) * max(0, 3 - len(segments))
    pre = match.group(3) or match.group(2) or ""
    return Version(padded, pre, match.group(4) or "", len(raw_segments))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1024)
def parse_version(text: str) -> Optional[Version]:
    """go-version's ``NewVersion`` (lenient: ``1.0beta1`` parses), or None when malformed."""
    return _parse(text, _VERSION)


def _prerelease_check(v: Version, c: Version) -> bool:
    if v.pre and c.pre:
        return v.segments == c.segments
    return not (v.pre and not c.pre)


def _pessimistic(v: Version, c: Version) -> bool:
    if not _prerelease_check(v, c) or (c.pre and not v.pre):
        return False
    if v.compare(c) < 0:
        return False
    cs = len(c.segments)
    if cs > len(v.segments):
        return False
    if any(v.segments[i] != c.segments[i] for i in range(c.specified - 1)):
        return False
    return c.segments[cs - 1] <= v.segments[cs - 1]


_VERSION_OPS: dict[str, Callable[[Version, Version], bool]] = {
    "": lambda v, c: v.compare(c) == 0,
    "=": lambda v, c: v.compare(c) == 0,
    "!=": lambda v, c: v.compare(c) != 0,
    ">": lambda v, c: _prerelease_check(v, c) and v.compare(c) == 1,
    "<": lambda v, c: _prerelease_check(v, c) and v.compare(c) == -1,
    ">=": lambda v, c: _prerelease_check(v, c) and v.compare(c) >= 0,
    "<=": lambda v, c: _prerelease_check(v, c) and v.compare(c) <= 0,
    "~>": _pessimistic,
}
_SEMVER_OPS: dict[str, Callable[[Version, Version], bool]] = {
    "": lambda v, c: v.compare(c) == 0,
    "=": lambda v, c: v.compare(c) == 0,
    "!=": lambda v, c: v.compare(c) != 0,
    ">": lambda v, c: v.compare(c) == 1,
    "<": lambda v, c: v.compare(c) == -1,
    ">=": lambda v, c: v.compare(c) >= 0,
    "<=": lambda v, c: v.compare(c) <= 0,
}

VersionCheck = Callable[[Version], bool]


def _constraints(text: str, pattern: re.Pattern, version: re.Pattern,
                 ops: dict[str, Callable[[Version, Version], bool]]) -> Optional[VersionCheck]:
    checks = []
    for single in text.split(","):
        match = pattern.fullmatch(single)
        if match is None:
            return None
        against = _parse(match.group(2), version)
        if against is None:
            return None
        checks.append((ops[match.group(1)], against))
    return lambda v: all(op(v, against) for op, against in checks)


@functools.lru_cache(maxsize=1024)
def version_constraint(text: str) -> Optional[VersionCheck]:
    """go-version's ``NewConstraint`` (``">= 1.2, < 2.0"``, ``"~> 1.2"``), or None if malformed."""
    return _constraints(text, _VERSION_CONSTRAINT, _VERSION, _VERSION_OPS)


@functools.lru_cache(maxsize=1024)
def semver_constraint(text: str) -> Optional[VersionCheck]:
    """Nomad's strict semver constraints: Semver 2.0 ordering, no ``~>``, or None if malformed."""
    return _constraints(text, _SEMVER_CONSTRAINT, _SEMVER, _SEMVER_OPS)


# --- the operands -----------------------------------------------------------------------

@functools.lru_cache(maxsize=1024)
def regexp_for(pattern: str) -> Optional[re.Pattern]:
    """The compiled regexp, cached like Nomad's RegexpCache; None when it does not compile."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _go_float(text: str) -> Optional[float]:
    """``strconv.ParseFloat(text, 64)``: out-of-range values are errors there, not infinities."""
    if not _GO_FLOAT.fullmatch(text):
        return None
    value = float(text)
    if value in (float("inf"), float("-inf")) and "inf" not in text.lower():
        return None
    return value


def _check_order(operand: str, left: Any, right: Any) -> bool:
    """Integers if both parse, then floats, else lexical: Nomad's ``checkOrder``."""
    if not isinstance(left, str) or not isinstance(right, str):
        return False
    pair: tuple[Any, Any]
    li, ri = _go_int(left), _go_int(right)
    if li is not None and ri is not None:
        pair = (li, ri)
    else:
        lf, rf = _go_float(left), _go_float(right)
        pair = (lf, rf) if lf is not None and rf is not None else (left, right)
    a, b = pair
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operand]


def _version_match(parse: Callable[[str], Optional[VersionCheck]], left: Any, right: Any) -> bool:
    if isinstance(left, bool):
        return False
    if isinstance(left, int):
        left = str(left)
    if not isinstance(left, str) or not isinstance(right, str):
        return False
    version = parse_version(left)
    check = parse(right)
    return version is not None and check is not None and check(version)


def _set(text: str) -> set[str]:
    return {part.strip() for part in text.split(",")}


def _set_contains_all(left: Any, right: Any) -> bool:
    if not isinstance(left, str) or not isinstance(right, str):
        return False
    return _set(right) <= _set(left)


def _set_contains_any(left: Any, right: Any) -> bool:
    if not isinstance(left, str) or not isinstance(right, str):
        return False
    return bool(_set(right) & _set(left))


def _regexp_match(left: Any, right: Any) -> bool:
    if not isinstance(left, str) or not isinstance(right, str):
        return False
    compiled = regexp_for(right)
    return compiled is not None and compiled.search(left) is not None


def check_constraint(operand: str, lval: Any, rval: Any, lfound: bool, rfound: bool) -> bool:
    """Nomad's ``checkConstraint``: does ``lval operand rval`` hold?

    ``distinct_hosts`` and ``distinct_property`` always hold here: they are about other
    allocations and have their own checkers. ``!=`` compares the values even when a target
    is unset, as Nomad does (an unset attribute resolves to ``""`` there; pass ``""``, not
    None, to reproduce a node exactly).
    """
    if operand in ("distinct_hosts", "distinct_property"):
        return True
    both = lfound and rfound
    if operand in ("=", "==", "is"):
        return both and lval == rval
    if operand in ("!=", "not"):
        return lval != rval
    if operand in ("<", "<=", ">", ">="):
        return both and _check_order(operand, lval, rval)
    if operand == "is_set":
        return lfound
    if operand == "is_not_set":
        return not lfound
    if operand == "version":
        return both and _version_match(version_constraint, lval, rval)
    if operand == "semver":
        return both and _version_match(semver_constraint, lval, rval)
    if operand == "regexp":
        return both and _regexp_match(lval, rval)
    if operand in ("set_contains", "set_contains_all"):
        return both and _set_contains_all(lval, rval)
    if operand == "set_contains_any":
        return both and _set_contains_any(lval, rval)
    return False


# --- explanations -----------------------------------------------------------------------

@dataclass(frozen=True)
class ConstraintResult:
    """One constraint checked on one node: both sides resolved, the verdict and why."""

    node_id: str
    node_name: str
    ltarget: str
    lvalue: Optional[str]  # None when the target is not set on the node ("undefined")
    rtarget: str
    rvalue: Optional[str]
    operand: str
    passed: bool
    reason: str

    @property
    def key(self) -> str:
        """The constraint as Nomad prints it (AllocMetric.ConstraintFiltered)."""
        return f"{self.ltarget} {self.operand} {self.rtarget}"


def _show(value: Optional[str]) -> str:
    return UNDEFINED if value is None else f'"{value}"'


def _why_not(operand: str, ltarget: str, lval: Optional[str], rval: Optional[str],
             lfound: bool, rfound: bool) -> str:
    if operand == "is_set":
        return f"{ltarget} is not set on this node"
    if operand == "is_not_set":
        return f"{ltarget} is set on this node ({_show(lval)})"
    if not lfound:
        return f"{ltarget} is not set on this node"
    if operand not in ("!=", "not") and not rfound:
        return "the right-hand side does not resolve on this node"
    if operand in ("!=", "not"):
        return f"{ltarget} is {_show(lval)}, which it must not be"
    if operand == "regexp" and regexp_for(rval or "") is None:
        return f"{_show(rval)} is not a valid regular expression"
    if operand in ("version", "semver"):
        if parse_version(lval or "") is None:
            return f"{_show(lval)} is not a version"
        parse = version_constraint if operand == "version" else semver_constraint
        if parse(rval or "") is None:
            return f"{_show(rval)} is not a valid {operand} constraint"
        return f"version {_show(lval)} does not satisfy {_show(rval)}"
    if operand in ("set_contains", "set_contains_all"):
        missing = sorted(_set(rval or "") - _set(lval or ""))
        return f"{_show(lval)} lacks {', '.join(missing)}"
    if operand == "set_contains_any":
        return f"{_show(lval)} contains none of {_show(rval)}"
    if operand == "regexp":
        return f"{_show(lval)} does not match {_show(rval)}"
    if operand in ("=", "==", "is"):
        return f"{ltarget} is {_show(lval)}, not {_show(rval)}"
    if operand in ("<", "<=", ">", ">="):
        return f"{_show(lval)} {operand} {_show(rval)} is false"
    return f'unknown operand "{operand}"'


def explain_constraint(constraint: Constraint, node: Node) -> ConstraintResult:
    """Check ``constraint`` on ``node`` as Nomad's ConstraintChecker does, and say why."""
    lval, lfound = resolve_target(constraint.ltarget, node)
    rval, rfound = resolve_target(constraint.rtarget, node)
    # Nomad passes Go's zero value "" for an unset target; only `!=` can tell the difference.
    passed = check_constraint(constraint.operand, lval if lfound else "",
                              rval if rfound else "", lfound, rfound)
    if passed:
        reason = f"{_show(lval)} {constraint.operand} {_show(rval)}".strip() \
            if constraint.operand not in ("is_set", "is_not_set") else \
            f"{constraint.ltarget} {'is' if lfound else 'is not'} set"
    else:
        reason = _why_not(constraint.operand, constraint.ltarget, lval, rval, lfound, rfound)
    return ConstraintResult(node_id=node.id, node_name=node.name, ltarget=constraint.ltarget,
                            lvalue=lval if lfound else None, rtarget=constraint.rtarget,
                            rvalue=rval if rfound else None, operand=constraint.operand,
                            passed=passed, reason=reason)
