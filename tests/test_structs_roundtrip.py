"""Every API struct round-trips its own JSON, keeps unknown keys, and rejects wrong types.

The structs promise (``nomadlab/structs/_base.py``): ``from_api(to_api(x)) == x``, None is
never emitted, lists and maps always are, keys a struct does not model survive in
``extra``, and JSON that does not fit raises ``StructDecodeError`` naming the bad key.
Each property is checked for every struct ``nomadlab.structs`` exports, with instances
built from the structs' own type hints (``tests/strategies.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nomadlab.structs as structs
from nomadlab.structs import (ACLToken, Allocation, APIStruct, Evaluation, Job, Node,
                              StructDecodeError)
from strategies import (ALL_STRUCTS, api_fields, inner_hint, is_optional, is_struct,
                        iter_structs, strategy_for)

IDS = [cls.__name__ for cls in ALL_STRUCTS]
# Structs nest this deep below the one under test (every struct is also tested on its own).
DEPTH = 2
PROPERTY = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_every_struct_is_enumerated() -> None:
    assert ALL_STRUCTS, "nomadlab.structs exports no APIStruct subclass"
    for cls in (Job, Allocation, Node, Evaluation, ACLToken):
        assert cls in ALL_STRUCTS
    # A struct nested in an exported one but not exported itself would escape these tests.
    reachable: set[type] = set()

    def visit(hint: Any) -> None:
        hint = inner_hint(hint)
        if is_struct(hint) and hint not in reachable:
            reachable.add(hint)
            for _, field_hint in api_fields(hint):
                visit(field_hint)
        for arg in typing.get_args(hint):
            visit(arg)

    for cls in ALL_STRUCTS:
        visit(cls)
    assert reachable <= set(ALL_STRUCTS), \
        f"structs used but not exported: {sorted(c.__name__ for c in reachable - set(ALL_STRUCTS))}"


# -- the round trip ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_from_api_inverts_to_api(cls: type[APIStruct], data: st.DataObject) -> None:
    x = data.draw(strategy_for(cls, max_depth=DEPTH), label=cls.__name__)
    api = x.to_api()
    assert cls.from_api(api) == x
    # Through real JSON text too: what a cluster's HTTP API would carry.
    assert cls.from_api(json.loads(json.dumps(api))) == x
    assert cls.from_api(api).to_api() == api
    # The rules the round trip rests on: None is never emitted, everything else always is
    # (empty lists and maps included), at every level.
    for struct in iter_structs(x):
        emitted = struct.to_api()
        for f, _ in api_fields(type(struct)):
            name = type(struct).api_names()[f.name]
            if getattr(struct, f.name) is None:
                assert name not in emitted, f"{type(struct).__name__}.{f.name}: None was emitted"
            else:
                assert emitted.get(name) is not None, \
                    f"{type(struct).__name__}.{f.name}: {getattr(struct, f.name)!r} was not emitted"


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=IDS)
def test_optional_fields_default_to_none(cls: type[APIStruct]) -> None:
    """An Optional field is left out of the JSON when None, so from_api must get None back."""
    for f, hint in api_fields(cls):
        if is_optional(hint):
            assert f.default is None and f.default_factory is dataclasses.MISSING, \
                f"{cls.__name__}.{f.name} is Optional but defaults to {f.default!r}"
        else:
            assert f.default is not dataclasses.MISSING or \
                f.default_factory is not dataclasses.MISSING, \
                f"{cls.__name__}.{f.name} has no default, so from_api cannot omit it"


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=IDS)
def test_empty_object_is_the_default_struct(cls: type[APIStruct]) -> None:
    assert cls.from_api({}) == cls()
    assert cls.from_api(cls().to_api()) == cls()


# -- unknown keys -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_unknown_keys_survive(cls: type[APIStruct], data: st.DataObject) -> None:
    """Keys a struct does not model (at any depth) are kept in ``extra`` and emitted again."""
    x = data.draw(strategy_for(cls, max_depth=1, with_extra=True), label=cls.__name__)
    api = json.loads(json.dumps(x.to_api()))
    back = cls.from_api(api)
    assert back == x
    assert back.to_api() == api
    for struct in iter_structs(x):
        emitted = struct.to_api()
        for key, value in struct.extra.items():
            assert emitted[key] == value


def test_unknown_keys_are_kept_in_extra() -> None:
    doc = {"ID": "web", "Multiregion": {"Strategy": {"MaxParallel": 1}}, "VaultToken": "",
           "TaskGroups": [{"Name": "g", "Scaling": None, "Tasks": [{"Name": "t", "Vault": {}}]}]}
    job = Job.from_api(copy.deepcopy(doc))
    assert job.extra == {"Multiregion": {"Strategy": {"MaxParallel": 1}}, "VaultToken": ""}
    assert job.task_groups[0].extra == {"Scaling": None}
    assert job.task_groups[0].tasks[0].extra == {"Vault": {}}
    api = job.to_api()
    assert api["Multiregion"] == {"Strategy": {"MaxParallel": 1}} and api["VaultToken"] == ""
    assert api["TaskGroups"][0]["Scaling"] is None
    assert api["TaskGroups"][0]["Tasks"][0]["Vault"] == {}
    assert Job.from_api(api) == job


def test_extra_never_overrides_a_modelled_field() -> None:
    job = Job(id="web", extra={"ID": "other", "Unknown": 1})
    assert job.to_api()["ID"] == "web"
    assert job.to_api()["Unknown"] == 1


# -- wrong types ------------------------------------------------------------------------


def _sites(hint: Any, value: Any, path: tuple[Any, ...]) -> typing.Iterator[tuple[tuple, Any]]:
    """(path, type hint) of every value inside API JSON ``value`` that the hints type-check."""
    hint = inner_hint(hint)
    if value is None or hint is Any:
        return
    if path:
        yield path, hint
    origin = typing.get_origin(hint)
    if is_struct(hint):
        names = hint.api_names()
        for f, field_hint in api_fields(hint):
            key = names[f.name]
            if key in value:
                yield from _sites(field_hint, value[key], path + (key,))
    elif origin is list:
        (item,) = typing.get_args(hint)
        for i, v in enumerate(value):
            yield from _sites(item, v, path + (i,))
    elif origin is dict:
        _, item = typing.get_args(hint)
        for k, v in value.items():
            yield from _sites(item, v, path + (k,))


_NOT_LIST = st.text(max_size=5) | st.integers() | st.booleans() | st.dictionaries(
    st.text(max_size=3), st.integers(), max_size=2)
_NOT_OBJECT = st.text(max_size=5) | st.integers() | st.booleans() | st.lists(
    st.integers(), max_size=2)
_CONTAINERS = st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3),
                                                                    st.integers(), max_size=2)


def _wrong_value(hint: Any) -> st.SearchStrategy:
    """JSON values that do not fit ``hint`` (None is absent, not wrong, so never None)."""
    origin = typing.get_origin(hint)
    if hint is str:
        return st.integers() | st.floats() | st.booleans() | _CONTAINERS
    if hint is int:  # an integral float (3.0) is accepted as JSON has one number type
        return (st.text(max_size=5) | st.booleans() | _CONTAINERS
                | st.floats().filter(lambda f: not f.is_integer()))
    if hint is float:
        return st.text(max_size=5) | st.booleans() | _CONTAINERS
    if hint is bool:
        return st.integers() | st.floats() | st.text(max_size=5) | _CONTAINERS
    if origin is list:
        return _NOT_LIST
    if origin is dict or is_struct(hint):
        return _NOT_OBJECT
    raise AssertionError(hint)


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_wrong_type_is_a_struct_decode_error_at_its_path(cls: type[APIStruct],
                                                         data: st.DataObject) -> None:
    api = data.draw(strategy_for(cls, max_depth=DEPTH), label=cls.__name__).to_api()
    sites = list(_sites(cls, api, ()))
    assume(sites)
    path, hint = data.draw(st.sampled_from(sites), label="site")
    wrong = data.draw(_wrong_value(hint), label="wrong value")
    doc = copy.deepcopy(api)
    _set(doc, path, wrong)
    try:
        cls.from_api(doc)
    except StructDecodeError as err:
        assert [p for p, _ in err.problems] == [path], err.problems
        assert all(isinstance(m, str) and m for _, m in err.problems)
        assert str(err).startswith(".".join(str(p) for p in path) + ": ")
    else:
        pytest.fail(f"{cls.__name__}.from_api accepted {wrong!r} at {path} (a {hint})")


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=IDS)
@pytest.mark.parametrize("data", [None, [], "Job", 3, 1.5, True], ids=repr)
def test_non_object_is_a_struct_decode_error_at_the_root(cls: type[APIStruct], data: Any) -> None:
    with pytest.raises(StructDecodeError) as info:
        cls.from_api(data)
    assert [p for p, _ in info.value.problems] == [()]
    assert str(info.value).startswith("<root>: expected an object")


def test_every_problem_is_reported_with_its_path() -> None:
    doc = {"ID": 5, "TaskGroups": [{"Name": "g", "Count": "three", "Tasks": [{"Config": 1,
           "Env": {"A": 1}, "Resources": {"CPU": True}}]}], "Meta": []}
    with pytest.raises(StructDecodeError) as info:
        Job.from_api(doc)
    assert sorted(map(str, (p for p, _ in info.value.problems))) == sorted(map(str, [
        ("ID",), ("TaskGroups", 0, "Count"), ("TaskGroups", 0, "Tasks", 0, "Config"),
        ("TaskGroups", 0, "Tasks", 0, "Env", "A"),
        ("TaskGroups", 0, "Tasks", 0, "Resources", "CPU"), ("Meta",)]))


def test_structs_module_exports_the_error() -> None:
    assert structs.StructDecodeError is StructDecodeError
    assert not issubclass(StructDecodeError, (TypeError, KeyError))
