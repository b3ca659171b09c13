"""The one mechanism that turns nomadlab's dataclasses into Nomad's API JSON and back.

Every struct in :mod:`nomadlab.structs` is a plain dataclass that inherits
:class:`APIStruct`.  The API name of each field is derived from its Python name
(``memory_mb`` -> ``MemoryMB``) with Nomad's acronyms kept upper case, or given
explicitly with ``field(metadata={"api": "LTarget"})``.  Conversion is driven by the
type hints, so a new field needs no conversion code of its own.

Rules that make ``from_api(to_api(x)) == x`` hold for every struct:

* ``None`` is never emitted (Nomad's OpenAPI schemas have no nullable fields), so an
  ``Optional`` field must default to ``None``;
* lists and maps are always emitted, empty ones included;
* keys that a struct does not model (a newer Nomad, an enterprise field) are kept in
  ``extra`` and emitted again unchanged, so a real cluster's JSON survives a round trip.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

__all__ = ["APIStruct", "StructDecodeError", "api_field", "api_name", "internal_field",
           "INT64_MIN", "INT64_MAX"]

T = TypeVar("T", bound="APIStruct")

# Parts of a snake_case name that Nomad spells in capitals (ID, MemoryMB, ...). "cpu" is
# not one: Nomad writes Cpu, CpuShares, TotalCpuCores; only the legacy Resources.CPU is upper.
_ACRONYMS = {
    "id": "ID", "mb": "MB", "ip": "IP", "tg": "TG", "dns": "DNS",
    "cidr": "CIDR", "acl": "ACL", "ttl": "TTL", "http": "HTTP", "tls": "TLS",
    "url": "URL", "iops": "IOPS", "csi": "CSI", "grpc": "GRPC",
}


def api_name(python_name: str) -> str:
    """Nomad's PascalCase spelling of a snake_case attribute name."""
    return "".join(_ACRONYMS.get(part, part.capitalize()) for part in python_name.split("_"))


def internal_field(**kwargs: Any) -> Any:
    """A field nomadlab keeps beside the API data (an evaluation's trace): never emitted,
    never read from JSON, not part of equality."""
    return field(default=None, compare=False, repr=False, metadata={"internal": True}, **kwargs)


def api_field(api: str, **kwargs: Any) -> Any:
    """A dataclass field whose API name is not the derived one (``LTarget``, ``MBits``)."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["api"] = api
    return field(metadata=metadata, **kwargs)


@dataclass
class StructDecodeError(Exception):
    """API JSON that does not fit a struct: each problem is ``(path, message)``.

    ``path`` is a tuple of API keys and list indexes from the top-level object, e.g.
    ``("TaskGroups", 0, "Count")``, so callers can point at the offending place.
    """

    problems: list[tuple[tuple[Any, ...], str]]

    def __str__(self) -> str:
        return "; ".join(
            f"{'.'.join(str(p) for p in path) or '<root>'}: {message}" for path, message in self.problems
        )


class _Field(typing.NamedTuple):
    name: str
    api: str
    hint: Any


_NONE_TYPE = type(None)
#: Nomad's integers are Go's int/int64; JSON numbers outside them do not decode.
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
_UNION_TYPES: tuple[Any, ...] = (Union,)
if sys.version_info >= (3, 10):
    _UNION_TYPES += (types.UnionType,)


def _describe(hint: Any) -> str:
    """A short, learner-readable name of a type hint ("integer", "list of string")."""
    origin = typing.get_origin(hint)
    if origin in _UNION_TYPES:
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not _NONE_TYPE)
    if origin is list:
        return f"list of {_describe(typing.get_args(hint)[0])}"
    if origin is dict:
        return f"map of {_describe(typing.get_args(hint)[1])}"
    if isinstance(hint, type) and issubclass(hint, APIStruct):
        return "object"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint, "value")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@dataclass
class APIStruct:
    """Base of every struct: generic ``to_api`` / ``from_api`` driven by type hints.

    ``extra`` holds API keys this struct does not model; it is keyword-only so that
    subclasses keep their own fields in positional order.
    """

    extra: dict[str, Any] = field(default_factory=dict, repr=False, kw_only=True)
    _fields_cache: ClassVar[dict[type, tuple[_Field, ...]]] = {}

    @classmethod
    def _api_fields(cls) -> tuple[_Field, ...]:
        cached = APIStruct._fields_cache.get(cls)
        if cached is None:
            hints = typing.get_type_hints(cls)
            cached = tuple(
                _Field(f.name, f.metadata.get("api") or api_name(f.name), hints[f.name])
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                if f.name != "extra" and not f.metadata.get("internal")
            )
            APIStruct._fields_cache[cls] = cached
        return cached

    @classmethod
    def api_names(cls) -> dict[str, str]:
        """Python attribute name -> Nomad API name, in declaration order."""
        return {f.name: f.api for f in cls._api_fields()}

    def to_api(self) -> dict[str, Any]:
        """This object as Nomad's API JSON (a dict of PascalCase keys)."""
        out: dict[str, Any] = {}
        for f in self._api_fields():
            value = getattr(self, f.name)
            if value is not None:
                out[f.api] = _to_api_value(value)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_api(cls: type[T], data: Any) -> T:
        """Build the struct from Nomad's API JSON; raises :class:`StructDecodeError`."""
        problems: list[tuple[tuple[Any, ...], str]] = []
        result = _from_api_struct(cls, data, (), problems)
        if problems:
            raise StructDecodeError(problems)
        return result  # type: ignore[return-value]


def _to_api_value(value: Any) -> Any:
    if isinstance(value, APIStruct):
        return value.to_api()
    if isinstance(value, list):
        return [_to_api_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_api_value(v) for k, v in value.items()}
    return value


def _from_api_struct(cls: type, data: Any, path: tuple[Any, ...], problems: list) -> Any:
    if not isinstance(data, dict):
        problems.append((path, f"expected an object, got {_type_name(data)}"))
        return None
    known = {}
    kwargs: dict[str, Any] = {}
    for f in cls._api_fields():
        known[f.api] = f
    extra = {}
    for key, value in data.items():
        f = known.get(key)
        if f is None:
            extra[key] = value
        elif value is not None:
            kwargs[f.name] = _from_api_value(f.hint, value, path + (key,), problems)
    return cls(**kwargs, extra=extra)


def _from_api_value(hint: Any, value: Any, path: tuple[Any, ...], problems: list) -> Any:
    origin = typing.get_origin(hint)
    if origin in _UNION_TYPES:
        args = [a for a in typing.get_args(hint) if a is not _NONE_TYPE]
        if len(args) == 1:
            return _from_api_value(args[0], value, path, problems)
        return value
    if origin is list:
        if not isinstance(value, list):
            problems.append((path, f"expected a list, got {_type_name(value)}"))
            return []
        (item,) = typing.get_args(hint)
        return [_from_api_value(item, v, path + (i,), problems) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            problems.append((path, f"expected an object, got {_type_name(value)}"))
            return {}
        _, item = typing.get_args(hint)
        return {str(k): _from_api_value(item, v, path + (k,), problems) for k, v in value.items()}
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, APIStruct):
        return _from_api_struct(hint, value, path, problems)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if INT64_MIN <= value <= INT64_MAX:
                return value
            problems.append((path, f"number {value} overflows a 64-bit integer (Nomad's int)"))
            return None
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:
        return value
    problems.append((path, f"expected {_describe(hint)}, got {_type_name(value)} {value!r}"))
    return None

