"""``parse_job``: HCL or JSON text -> a canonical, validated :class:`~nomadlab.structs.Job`.

The steps, each collecting problems rather than stopping at the first:
HCL2 (variables, locals, functions, dynamic blocks; or pyhcl for ``hcl1=True``), kept
positional -> decode against the schema -> ``Job.from_api`` -> Nomad's defaults ->
Nomad's validation.  Every problem becomes a :class:`Problem` with a line
(for HCL), a readable block path and a message; nothing but :class:`JobSpecError`
leaves this module.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Mapping, Optional, Sequence, Union

from ..structs import Job, StructDecodeError
from .decode import Decoder, Path, Position
from .defaults import canonicalize
from .errors import JobSpecError, Problem
from .hcl import Body, HCLSyntaxError, parse_hcl
from .hcl2_job import HCL2Problems, VariableInputs, read_hcl2
from .hcl2_syntax import HCL2SyntaxError
from .schema import JOB, Attr, Block, Spec
from .validate import validate

__all__ = ["parse_job", "job_from_api", "describe_path", "variable_inputs", "parse_var_flags"]


def parse_job(text: str, filename: Optional[str] = None, *, hcl1: bool = False,
              variables: Optional[Mapping[str, Any]] = None,
              var_files: Sequence[Union[str, os.PathLike]] = (),
              var_text: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
              allow_fs: bool = False) -> Job:
    """Parse a job spec written in HCL2 (the default, as in Nomad), HCL1 or JSON.

    JSON may be the API's ``{"Job": {...}}`` or the bare job.  HCL2 input variables
    take their values from ``variables`` (``-var name=value``), ``var_files`` (paths
    to ``-var-file`` files, HCL or JSON), ``var_text`` (one var file's contents, as
    ``/v1/jobs/parse`` takes it) and ``env`` (its ``NOMAD_VAR_<name>`` entries; pass
    ``os.environ`` to read the process's, as Nomad's CLI does).  ``allow_fs`` lets
    ``file()`` and friends read below the spec's directory (the CLI allows it, the HTTP
    API does not).  Runtime references (``${attr.kernel.name}``, ``${NOMAD_ALLOC_DIR}``)
    are left as written: they are resolved per node and per task when the job runs.
    Raises :class:`JobSpecError` listing every problem found.
    """
    try:
        if not isinstance(text, str):
            raise JobSpecError([Problem(f"a job spec is text, not {type(text).__name__}")],
                               None, filename)
        if text.lstrip().startswith("{"):
            return _parse_json(text, filename)
        if hcl1:
            return _parse_hcl(text, filename)
        inputs = variable_inputs(variables, var_files, var_text, env, filename)
        return _parse_hcl2(text, filename, inputs, allow_fs)
    except JobSpecError:
        raise
    except Exception as err:  # a bug of ours must still reach the learner as a JobSpecError
        raise JobSpecError([Problem(f"nomadlab could not read this job spec ({type(err).__name__}:"
                                    f" {err}); please report it")], text, filename) from err


def variable_inputs(variables: Optional[Mapping[str, Any]] = None,
                    var_files: Sequence[Union[str, os.PathLike]] = (),
                    var_text: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                    filename: Optional[str] = None) -> VariableInputs:
    """Gather ``-var``, ``-var-file`` and ``NOMAD_VAR_`` inputs; a missing file is a problem."""
    files: list[tuple[str, str]] = []
    for path in var_files:
        try:
            files.append((str(path), pathlib.Path(path).read_text(encoding="utf-8")))
        except OSError as err:
            raise JobSpecError([Problem(f"cannot read the var file {path}: "
                                        f"{err.strerror or err}")], None, filename) from None
    if var_text:
        files.append(("Variables", var_text))
    return VariableInputs(flags=dict(variables or {}), files=files, env=dict(env or {}))


def parse_var_flags(flags: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``, as Nomad reads ``-var``."""
    out: dict[str, str] = {}
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep or not name.strip():
            raise JobSpecError([Problem(f"-var {flag!r}: write -var name=value")])
        out[name.strip()] = value
    return out


def job_from_api(data: Any, source: Optional[str] = None, filename: Optional[str] = None) -> Job:
    """A canonical, validated Job from API JSON (a dict); raises :class:`JobSpecError`."""
    if isinstance(data, dict) and isinstance(data.get("Job"), dict) and len(data) == 1:
        data = data["Job"]
    if not isinstance(data, dict):
        raise JobSpecError([Problem('a JSON job spec must be an object: {"Job": {...}} or the '
                                    "job itself")], source, filename)
    job, api, problems = _build(data)
    if problems or job is None:
        raise JobSpecError([_problem(api, path, message, {}) for path, message in problems],
                           source, filename)
    return job


def _build(data: dict[str, Any]) -> tuple[Optional[Job], dict[str, Any], list[tuple[Path, str]]]:
    """Struct, defaults, validation: the job (if it could be built), its API form, problems."""
    try:
        job = Job.from_api(data)
    except StructDecodeError as err:
        named = [(path, f"{_last_key(path)}: {message}" if _last_key(path) else message)
                 for path, message in err.problems]
        return None, data, named
    canonicalize(job)
    return job, job.to_api(), validate(job)


def _last_key(path: Path) -> str:
    return next((str(p) for p in reversed(path) if isinstance(p, str)), "")


def _parse_hcl(text: str, filename: Optional[str]) -> Job:
    try:
        body = parse_hcl(text)
    except HCLSyntaxError as err:
        raise JobSpecError([Problem(err.message, err.line, err.column)], text, filename) from None
    return _decode(body, text, filename, hcl2=False)


def _parse_hcl2(text: str, filename: Optional[str], inputs: VariableInputs,
                allow_fs: bool) -> Job:
    base_dir = str(pathlib.Path(filename).parent) if filename else None
    try:
        body, _ = read_hcl2(text, inputs, base_dir, allow_fs)
    except HCL2SyntaxError as err:
        raise JobSpecError([Problem(err.message, err.line, err.column)], text, filename) from None
    except HCL2Problems as err:
        raise JobSpecError(err.problems, text, filename) from None
    return _decode(body, text, filename, hcl2=True)


def _decode(body: Body, text: str, filename: Optional[str], hcl2: bool) -> Job:
    decoder = Decoder(hcl2)
    data = decoder.decode(body)
    problems = [_problem(data or {}, path, message, decoder.positions, position)
                for position, path, message in decoder.problems]
    job = None
    if data is not None:
        # Validate what did decode, but say nothing more about a value already reported.
        job, api, found = _build(data)
        problems += [_problem(api, path, message, decoder.positions) for path, message in found
                     if not any(path[:len(r)] == r for r in decoder.reported)]
    if problems or job is None:
        raise JobSpecError(problems, text, filename)
    return job


def _parse_json(text: str, filename: Optional[str]) -> Job:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise JobSpecError([Problem(f"invalid JSON: {err.msg}", err.lineno, err.colno)],
                           text, filename) from None
    return job_from_api(data, text, filename)


def _problem(api: dict[str, Any], path: Path, message: str, positions: dict[Path, Position],
             position: Optional[Position] = None) -> Problem:
    if position is None:
        for end in range(len(path), -1, -1):
            position = positions.get(path[:end])
            if position is not None:
                break
    line, column = position if position else (None, None)
    return Problem(message, line, column, describe_path(api, path))


def describe_path(api: dict[str, Any], path: Path) -> str:
    """``("TaskGroups", 0, "Tasks", 1, "Resources")`` -> ``job "web" > group "api" > task "srv"
    > resources``: the blocks a path goes through, named as in the job spec."""
    if not path and not api.get("ID"):
        return ""
    parts = [f'job "{api.get("ID", "")}"']
    spec: Optional[Spec] = JOB
    node: Any = api
    i = 0
    while i < len(path) and spec is not None:
        key = path[i]
        name, entry = _hcl_entry(spec, key)
        if not isinstance(entry, Block):
            break
        node = node.get(key) if isinstance(node, dict) else None
        if entry.many and i + 1 < len(path):
            index = path[i + 1]
            item = None
            if isinstance(node, (list, dict)):
                try:
                    item = node[index]
                except (IndexError, KeyError, TypeError):
                    item = None
            label = item.get(entry.label) if isinstance(item, dict) and entry.label else None
            parts.append(f'{name} "{label}"' if label else
                         f"{name}[{index}]" if isinstance(index, int) else f'{name} "{index}"')
            node = item
            i += 2
        else:
            parts.append(name)
            i += 1
        spec = entry.spec
    return " > ".join(parts)


def _hcl_entry(spec: Spec, api_key: Any) -> tuple[str, Optional[Attr | Block]]:
    if api_key in ("ReservedPorts", "DynamicPorts"):
        api_key = "Ports"
    for name, entry in spec.items():
        if entry.api == api_key:
            return name, entry
    return str(api_key), None
