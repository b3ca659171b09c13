"""Request bodies checked the way Nomad's HTTP agent decodes them.

Nomad decodes every body with Go's ``encoding/json`` into a typed request struct
(``api.JobRegisterRequest``, ``api.NodeUpdateDrainRequest``, ...) and answers a value of
the wrong JSON kind with a 400 carrying Go's own message::

    json: cannot unmarshal array into Go struct field JobRegisterRequest.JobModifyIndex of type uint64

Python's ``json`` gives no such guarantee (``bool("false")`` is true, ``int([1])`` raises a
TypeError that became a 500), so each handler names the Go struct it reads
(:data:`JOB_REGISTER`, :data:`NODE_DRAIN`, ...) and :func:`decode_body` checks the body
against it before any value is used: kinds, integer ranges (int64, uint64) and, for the
``Job`` a body carries, every typed field of nomadlab's structs.  ``null`` is "not set",
as in Go; keys a struct does not have are ignored, as Go ignores them.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..structs import Job
from ..structs._base import _NONE_TYPE, _UNION_TYPES, INT64_MAX, INT64_MIN, APIStruct
from .errors import HTTPError
from .http import Request

__all__ = ["Shape", "decode_body", "JOB_REGISTER", "JOB_PLAN", "JOB_VALIDATE", "JOBS_PARSE",
           "SCALING", "JOB_REVERT", "JOB_DISPATCH", "NODE_DRAIN", "NODE_ELIGIBILITY",
           "SCHEDULER_CONFIG", "DEPLOYMENT_PROMOTE", "DEPLOYMENT_PAUSE", "DEPLOYMENT_UNBLOCK",
           "DEPLOYMENT_ALLOC_HEALTH"]

#: A Go type: its name as Go prints it ("bool", "uint64", "map[string]string"), a nested
#: request struct (:class:`Shape`), or one of nomadlab's API structs (the Job).
GoType = Union[str, "Shape", "ListOf", type]

_RANGES = {"int": (INT64_MIN, INT64_MAX), "int64": (INT64_MIN, INT64_MAX),
           "time.Duration": (INT64_MIN, INT64_MAX), "uint64": (0, 2**64 - 1)}


@dataclass(frozen=True)
class Shape:
    """One of Nomad's request structs: its Go name (``api.DrainSpec``) and typed fields."""

    go_name: str
    fields: dict[str, GoType]

    @property
    def name(self) -> str:
        return self.go_name.rsplit(".", 1)[-1]


_WRITE = {"Region": "string", "Namespace": "string", "SecretID": "string"}

JOB_SUBMISSION = Shape("api.JobSubmission", {
    "Source": "string", "Format": "string", "VariableFlags": "map[string]string",
    "Variables": "string"})
JOB_REGISTER = Shape("api.JobRegisterRequest", {
    "Job": Job, "Submission": JOB_SUBMISSION, "EnforceIndex": "bool", "JobModifyIndex": "uint64", "PolicyOverride": "bool",
    "PreserveCounts": "bool", "EvalPriority": "int", **_WRITE})
JOB_PLAN = Shape("api.JobPlanRequest", {
    "Job": Job, "Diff": "bool", "PolicyOverride": "bool", **_WRITE})
JOB_VALIDATE = Shape("api.JobValidateRequest", {"Job": Job, **_WRITE})
JOBS_PARSE = Shape("api.JobsParseRequest", {
    "JobHCL": "string", "HCLv1": "bool", "Canonicalize": "bool", "Variables": "string"})
SCALING = Shape("api.ScalingRequest", {
    "Count": "int64", "Target": "map[string]string", "Error": "bool", "Message": "string",
    "Meta": "map[string]interface {}", "PolicyOverride": "bool", "JobModifyIndex": "uint64",
    "EnforceIndex": "bool", **_WRITE})
JOB_REVERT = Shape("structs.JobRevertRequest", {
    "JobID": "string", "JobVersion": "uint64", "EnforcePriorVersion": "uint64",
    "ConsulToken": "string", "VaultToken": "string", **_WRITE})
JOB_DISPATCH = Shape("structs.JobDispatchRequest", {
    "JobID": "string", "Payload": "[]uint8", "Meta": "map[string]string",
    "IdPrefixTemplate": "string", **_WRITE})
NODE_DRAIN = Shape("api.NodeUpdateDrainRequest", {
    "NodeID": "string", "MarkEligible": "bool", "Meta": "map[string]string",
    "DrainSpec": Shape("api.DrainSpec", {"Deadline": "time.Duration",
                                         "IgnoreSystemJobs": "bool"}), **_WRITE})
NODE_ELIGIBILITY = Shape("api.NodeUpdateEligibilityRequest", {
    "NodeID": "string", "Eligibility": "string", **_WRITE})
DEPLOYMENT_PROMOTE = Shape("structs.DeploymentPromoteRequest", {
    "DeploymentID": "string", "All": "bool", "Groups": "[]string", **_WRITE})
DEPLOYMENT_PAUSE = Shape("structs.DeploymentPauseRequest", {
    "DeploymentID": "string", "Pause": "bool", **_WRITE})
DEPLOYMENT_UNBLOCK = Shape("structs.DeploymentUnblockRequest", {
    "DeploymentID": "string", **_WRITE})
DEPLOYMENT_ALLOC_HEALTH = Shape("structs.DeploymentAllocHealthRequest", {
    "DeploymentID": "string", "HealthyAllocationIDs": "[]string",
    "UnhealthyAllocationIDs": "[]string", **_WRITE})
SCHEDULER_CONFIG = Shape("api.SchedulerConfiguration", {
    "SchedulerAlgorithm": "string", "MemoryOversubscriptionEnabled": "bool",
    "RejectJobRegistration": "bool", "PauseEvalBroker": "bool", "CreateIndex": "uint64",
    "ModifyIndex": "uint64",
    "PreemptionConfig": Shape("api.PreemptionConfig", {
        "SystemSchedulerEnabled": "bool", "SysBatchSchedulerEnabled": "bool",
        "BatchSchedulerEnabled": "bool", "ServiceSchedulerEnabled": "bool"})})


class _Mismatch(Exception):
    """Go's UnmarshalTypeError: the JSON value's kind, the Go type, where it was."""

    def __init__(self, value: Any, go_type: str, struct: str, stack: tuple[str, ...],
                 path: tuple[Any, ...], number: bool = False) -> None:
        super().__init__()
        self.value, self.go_type, self.struct = value, go_type, struct
        self.stack, self.path, self.number = stack, path, number


def decode_body(request: Request, shape: Shape, required: bool = True) -> dict[str, Any]:
    """The body as a dict whose values have the kinds ``shape`` declares, or a 400 with
    Go's message (``null`` or, when not ``required``, no body: an empty dict)."""
    body = request.json(required=required)
    if body is None:
        return {}
    try:
        if not isinstance(body, dict):
            raise _Mismatch(body, shape.go_name, "", (), ())
        body = _canonical_keys(body, shape)
        _struct(body, shape.fields, shape.name, (), ())
    except _Mismatch as err:
        raise HTTPError(400, _message(err, request.body)) from None
    return body


def _canonical_keys(data: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """Keys spelled as the struct spells them: Go's decoder matches a JSON key to a field
    case-insensitively when no field has the exact name (python-nomad sends
    ``UnHealthyAllocationIDs``, which Nomad reads as ``UnhealthyAllocationIDs``)."""
    folded = {name.lower(): name for name in shape.fields}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key if key in shape.fields else folded.get(key.lower(), key)
        nested = shape.fields.get(name)
        if isinstance(nested, Shape) and isinstance(value, dict):
            value = _canonical_keys(value, nested)
        if name not in out or key == name:
            out[name] = value
    return out


def _message(err: _Mismatch, raw: bytes) -> str:
    if err.number:
        what = f"number {_literal(raw, err.path)}"
    else:
        what = _kind(err.value)
    if not err.struct and not err.stack:
        return f"json: cannot unmarshal {what} into Go value of type {err.go_type}"
    return (f"json: cannot unmarshal {what} into Go struct field "
            f"{err.struct}.{'.'.join(err.stack)} of type {err.go_type}")


def _kind(value: Any) -> str:
    """Go's word for a JSON value's kind."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _literal(raw: bytes, path: tuple[Any, ...]) -> str:
    """A number as the client wrote it (Python reads ``1e400`` as inf): Go quotes it so."""
    value: Any = json.loads(raw, parse_float=str, parse_int=str)
    for key in path:
        if isinstance(value, dict) and key not in value:  # matched case-insensitively
            key = next(k for k in value if k.lower() == str(key).lower())
        value = value[key]
    return str(value)


def _struct(data: dict[str, Any], fields: dict[str, GoType], struct: str,
            stack: tuple[str, ...], path: tuple[Any, ...]) -> None:
    for key, value in data.items():
        go_type = fields.get(key)
        if go_type is not None and value is not None:
            _value(value, go_type, struct, stack + (key,), path + (key,))


def _value(value: Any, go_type: GoType, struct: str, stack: tuple[str, ...],
           path: tuple[Any, ...]) -> None:
    if isinstance(go_type, Shape):
        if not isinstance(value, dict):
            raise _Mismatch(value, go_type.go_name, struct, stack, path)
        _struct(value, go_type.fields, go_type.name, stack, path)
    elif isinstance(go_type, type):
        _api_struct(value, go_type, struct, stack, path)
    elif isinstance(go_type, ListOf):
        if not isinstance(value, list):
            raise _Mismatch(value, go_type.go_name, struct, stack, path)
        for i, v in enumerate(value):
            if v is not None:
                _api_struct(v, go_type.item, struct, stack, path + (i,))
    elif go_type in _RANGES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Mismatch(value, go_type, struct, stack, path)
        low, high = _RANGES[go_type]
        # Go refuses 3.6e12 for an integer; nomadlab takes a whole float (Python clients
        # write 3600e9), as its structs do, and refuses the rest in Go's words.
        whole = isinstance(value, int) or value.is_integer()
        if not whole or not low <= value <= high:
            raise _Mismatch(value, go_type, struct, stack, path, number=True)
    elif go_type == "float64":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Mismatch(value, go_type, struct, stack, path)
        if value in (float("inf"), float("-inf")):
            raise _Mismatch(value, go_type, struct, stack, path, number=True)
    elif go_type == "bool":
        if not isinstance(value, bool):
            raise _Mismatch(value, go_type, struct, stack, path)
    elif go_type in ("string", "[]uint8"):  # Go reads a []byte from a base64 string
        if not isinstance(value, str):
            raise _Mismatch(value, go_type, struct, stack, path)
    elif go_type.startswith("map[string]"):
        if not isinstance(value, dict):
            raise _Mismatch(value, go_type, struct, stack, path)
        item = go_type[len("map[string]"):]
        for key, v in value.items():
            if v is not None and item != "interface {}":
                _value(v, item, struct, stack, path + (key,))
    elif go_type.startswith("[]"):
        if not isinstance(value, list):
            raise _Mismatch(value, go_type, struct, stack, path)
        for i, v in enumerate(value):
            if v is not None:
                _value(v, go_type[2:], struct, stack, path + (i,))
    # "interface {}" takes any value


def _api_struct(value: Any, cls: type, struct: str, stack: tuple[str, ...],
                path: tuple[Any, ...]) -> None:
    """A nomadlab struct (the Job) by its type hints, Nomad's Go types named from them."""
    if not isinstance(value, dict):
        raise _Mismatch(value, _go_name(cls), struct, stack, path)
    assert issubclass(cls, APIStruct)
    fields = {f.api: _go_hint(f.hint, f.api) for f in cls._api_fields()}
    _struct(value, {k: v for k, v in fields.items() if v is not None}, cls.__name__, stack, path)


def _go_name(cls: type) -> str:
    return f"api.{cls.__name__}"


def _go_hint(hint: Any, api: str) -> Optional[GoType]:
    """The Go type of a struct field from its Python hint (None: not checked here)."""
    origin = typing.get_origin(hint)
    if origin in _UNION_TYPES:
        args = [a for a in typing.get_args(hint) if a is not _NONE_TYPE]
        return _go_hint(args[0], api) if len(args) == 1 else None
    if origin is list:
        item = _go_hint(typing.get_args(hint)[0], api)
        return _list_of(item)
    if origin is dict:
        item = _go_hint(typing.get_args(hint)[1], api)
        return f"map[string]{item}" if isinstance(item, str) else None
    if isinstance(hint, type) and issubclass(hint, APIStruct):
        return hint
    if hint is int:
        return "uint64" if api.endswith("Index") else "int"
    return {bool: "bool", str: "string", float: "float64"}.get(hint)


def _list_of(item: Optional[GoType]) -> Optional[GoType]:
    if isinstance(item, str):
        return f"[]{item}"
    if isinstance(item, type):
        return ListOf(item)
    return None


@dataclass(frozen=True)
class ListOf:
    """``[]*api.TaskGroup``: a list whose items are nomadlab structs."""

    item: type

    @property
    def go_name(self) -> str:
        return f"[]*{_go_name(self.item)}"
