"""Hypothesis strategies for nomadlab's API structs, built from their type hints.

``strategy_for(cls)`` reads ``typing.get_type_hints`` and ``dataclasses.fields`` of an
:class:`~nomadlab.structs.APIStruct` subclass and builds instances field by field, the
same way ``to_api``/``from_api`` are driven by the hints, so a new field or struct is
covered without touching the tests.  Shared by ``test_structs_roundtrip.py`` and
``test_openapi.py`` (which narrows some fields to what Nomad's OpenAPI schema allows
through ``override``).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Callable, Iterator, Optional, Union

from hypothesis import strategies as st

import nomadlab.structs as structs
from nomadlab.structs import APIStruct

__all__ = ["ALL_STRUCTS", "INT_BOUND", "JSON", "Override", "api_fields", "inner_hint",
           "is_optional", "is_struct", "iter_structs", "strategy_for"]

_UNION_TYPES = (Union, types.UnionType)

INT_BOUND = 2**62

#: Values a JSON document may hold (``Any`` fields such as a task's driver ``config``).
JSON_LEAVES = (st.none() | st.booleans() | st.integers(-INT_BOUND, INT_BOUND)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10))
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (st.lists(children, max_size=3)
                      | st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8,
)

#: ``override(cls, field, hint) -> strategy or None``: a strategy for ``hint`` (the field's
#: type without ``Optional``) to use instead of the generic one; None keeps the generic one.
Override = Callable[[type, dataclasses.Field, Any], Optional[st.SearchStrategy]]

#: Every struct exported by ``nomadlab.structs`` (aliases such as ``Periodic`` counted once),
#: sorted by name so test ids are stable.
ALL_STRUCTS: list[type[APIStruct]] = sorted(
    {obj for name in structs.__all__
     if isinstance(obj := getattr(structs, name), type) and issubclass(obj, APIStruct)
     and obj is not APIStruct},
    key=lambda cls: cls.__name__,
)


def is_struct(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, APIStruct)


def is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in _UNION_TYPES and type(None) in typing.get_args(hint)


def inner_hint(hint: Any) -> Any:
    """``Optional[X]`` -> ``X``; anything else unchanged."""
    if is_optional(hint):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        assert len(args) == 1, f"only Optional[X] unions are supported, not {hint}"
        return args[0]
    return hint


@functools.lru_cache(maxsize=None)
def api_fields(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    """The dataclass fields of ``cls`` that reach the API (all but ``extra``), with hints."""
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls)
                 if f.name != "extra" and not f.metadata.get("internal"))


def _unknown_keys(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    """``extra``: API keys the struct does not model, never one of its own field names."""
    known = set(cls.api_names().values())  # type: ignore[attr-defined]
    key = st.text(min_size=1, max_size=12).filter(lambda k: k not in known)
    return st.dictionaries(key, JSON, max_size=2)


_cache: dict[tuple[Any, ...], st.SearchStrategy] = {}


def strategy_for(cls: type[APIStruct], *, max_depth: int = 3, with_extra: bool = False,
                 override: Optional[Override] = None, _depth: int = 0) -> st.SearchStrategy:
    """Instances of ``cls`` with every field drawn from its type hint.

    Lists and maps of structs get at most two items, and none once ``max_depth`` nested
    structs deep; ``Optional`` structs are then ``None``.  ``extra`` is ``{}`` unless
    ``with_extra``, which fills it (at every level) with keys the struct does not model.
    """
    key = (cls, max_depth, with_extra, override, _depth)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    options = {"max_depth": max_depth, "with_extra": with_extra, "override": override}
    kwargs: dict[str, st.SearchStrategy] = {}
    for f, hint in api_fields(cls):
        inner = inner_hint(hint)
        if is_optional(hint) and is_struct(inner) and _depth >= max_depth:
            kwargs[f.name] = st.none()
            continue
        strategy = override(cls, f, inner) if override is not None else None
        if strategy is None:
            strategy = _for_hint(inner, _depth, options)
        kwargs[f.name] = st.none() | strategy if is_optional(hint) else strategy
    kwargs["extra"] = _unknown_keys(cls) if with_extra else st.builds(dict)
    result = _cache[key] = st.builds(cls, **kwargs)
    return result


def _for_hint(hint: Any, depth: int, options: dict[str, Any]) -> st.SearchStrategy:
    origin = typing.get_origin(hint)
    if hint is Any:
        return JSON
    if hint is str:
        return st.text(max_size=20)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-INT_BOUND, INT_BOUND)
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if is_struct(hint):
        return strategy_for(hint, _depth=depth + 1, **options)
    if is_optional(hint):
        return st.none() | _for_hint(inner_hint(hint), depth, options)
    if origin is list:
        (item,) = typing.get_args(hint)
        size = 0 if is_struct(item) and depth >= options["max_depth"] else 2
        if size == 0:
            return st.builds(list)
        return st.lists(_for_hint(item, depth, options), max_size=size)
    if origin is dict:
        key, item = typing.get_args(hint)
        assert key is str, f"map keys must be strings, not {key}"
        size = 0 if is_struct(item) and depth >= options["max_depth"] else 2
        if size == 0:
            return st.builds(dict)
        return st.dictionaries(st.text(max_size=10), _for_hint(item, depth, options),
                               max_size=size)
    raise TypeError(f"no strategy for type hint {hint!r}; teach tests/strategies.py about it")


def iter_structs(value: Any) -> Iterator[APIStruct]:
    """Every struct inside ``value`` (itself included), depth first."""
    if isinstance(value, APIStruct):
        yield value
        for f, _ in api_fields(type(value)):
            yield from iter_structs(getattr(value, f.name))
    elif isinstance(value, list):
        for item in value:
            yield from iter_structs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_structs(item)
