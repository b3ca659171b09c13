"""An HCL2 job file -> the positional tree the decoder reads, as Nomad's jobspec2 does it.

The file's top level holds ``variable "x" { ... }`` (or ``variables { ... }``),
``locals { ... }`` and one ``job``.  Input values come, each overriding the one before,
from a variable's ``default``, ``NOMAD_VAR_<name>`` in the environment, ``-var-file``
files in order, then ``-var name=value`` flags.  Every declared variable must end up
with a value and pass its ``validation`` blocks; locals may use variables and each
other.  The job block is then evaluated: attributes to values, ``dynamic`` blocks
expanded, and the result handed to :class:`~.decode.Decoder` as the same tree of
:class:`~.hcl.Item` that the HCL1 reader builds, positions included.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from . import hcl2_syntax as syn
from .errors import Problem
from .hcl import Body, Item, Key
from .hcl2_eval import EvalError, Scope, evaluate, type_name
from .hcl2_functions import functions
from .hcl2_types import ANY, STRING, Type, convert, describe_type, parse_type

__all__ = ["VariableInputs", "Declared", "read_hcl2", "HCL2Problems"]


@dataclass
class VariableInputs:
    """Where variable values come from besides defaults, in Nomad's order of precedence.

    ``files`` are ``(name, text)`` pairs, HCL (``x = "a"``) or JSON (``{"x": "a"}``);
    ``flags`` are ``-var`` values as typed on a command line; ``env`` is an environment
    whose ``NOMAD_VAR_<name>`` entries count.
    """

    flags: Mapping[str, str] = field(default_factory=dict)
    files: Sequence[tuple[str, str]] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Declared:
    """One ``variable`` block: where it is, its type and, once resolved, its value."""

    name: str
    line: int
    column: int
    type: Type = ANY
    has_type: bool = False
    default: Any = None
    has_default: bool = False
    description: str = ""
    sensitive: bool = False
    validations: list = field(default_factory=list)  # (condition Expr, message Expr, Block)
    value: Any = None
    source: str = ""  # default, env, file, flag


class HCL2Problems(Exception):
    """Everything wrong with an HCL2 job file, before the decoder's checks."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


_FAILED = "an invalid value"
_VARIABLE_KEYS = ("type", "default", "description", "sensitive", "validation")
_TOP_LEVEL = ("job", "locals", "variable", "variables")


class _Reader:
    def __init__(self, source: str, inputs: VariableInputs, base_dir: Optional[str],
                 allow_fs: bool) -> None:
        self.source = source
        self.inputs = inputs
        self.functions = functions(base_dir, allow_fs)
        self.problems: list[Problem] = []
        self.variables: dict[str, Declared] = {}
        self.locals: dict[str, Any] = {}
        self.local_lines: dict[str, int] = {}

    def problem(self, message: str, line: Optional[int] = None, column: Optional[int] = None,
                path: str = "") -> None:
        self.problems.append(Problem(message, line, column, path))

    def scope(self, source: Optional[str] = None) -> Scope:
        declared = {"var": {n: d.line for n, d in self.variables.items()},
                    "local": dict(self.local_lines)}
        return Scope({"var": {n: d.value for n, d in self.variables.items()},
                      "local": dict(self.locals)}, self.functions, source or self.source,
                     declared)

    # -- the file ----------------------------------------------------------------------------

    def read(self, body: syn.Body) -> Body:
        jobs: list[syn.Block] = []
        local_attrs: list[tuple[syn.Attribute, syn.Block]] = []
        for item in body.items:
            if isinstance(item, syn.Attribute):
                self.problem(f"{item.name} = ... cannot stand at the top of a job file: it "
                             "holds only job, variable, variables and locals blocks",
                             item.line, item.column)
            elif item.type == "variable":
                self.declare(item)
            elif item.type == "variables":
                for attr in self.attributes_only(item):
                    self.declare_short(attr)
            elif item.type == "locals":
                local_attrs += [(a, item) for a in self.attributes_only(item)]
            elif item.type == "job":
                jobs.append(item)
            else:
                close = difflib.get_close_matches(item.type, _TOP_LEVEL, n=1, cutoff=0.6)
                hint = f"; did you mean `{close[0]}`?" if close else \
                    (f'; a {item.type} goes inside a job block: job "<name>" {{ {item.type} ... }}.'
                     if item.type in ("group", "task") else ".")
                self.problem(f'unknown block "{item.type}" in the file{hint} Allowed here: '
                             f"{', '.join(_TOP_LEVEL)}.", item.line, item.column)
        if not jobs:
            self.problem('no job found: a job spec is one block, job "<name>" { ... }')
        if self.problems:
            raise HCL2Problems(self.problems)
        self.resolve_variables()
        if not self.problems:
            self.evaluate_locals(local_attrs)
        if self.problems:
            raise HCL2Problems(self.problems)
        out = Body()
        scope = self.scope()
        for job in jobs:
            item = self.block(job, scope, "")
            item.value = _tasks_as_groups(item.value)
            out.append(item)
        if self.problems:
            raise HCL2Problems(self.problems)
        return out

    def attributes_only(self, block: syn.Block) -> list[syn.Attribute]:
        attrs = []
        for item in block.body.items:
            if isinstance(item, syn.Block):
                self.problem(f"{block.type} holds only name = value attributes, not the block "
                             f"{item.type}", item.line, item.column)
            else:
                attrs.append(item)
        return attrs

    # -- variables ---------------------------------------------------------------------------

    def declare(self, block: syn.Block) -> None:
        if len(block.labels) != 1:
            self.problem('variable needs one label, its name: variable "<name>" { ... }',
                         block.line, block.column)
            return
        name, line, column = block.labels[0]
        where = f'variable "{name}"'
        if name in self.variables:
            first = self.variables[name].line
            self.problem(f'variable "{name}" is declared twice; the first is on line {first}',
                         line, column)
            return
        decl = Declared(name, line, column)
        bare = Scope({}, self.functions, self.source)
        for item in block.body.items:
            key = item.name if isinstance(item, syn.Attribute) else item.type
            if key not in _VARIABLE_KEYS:
                close = difflib.get_close_matches(key, _VARIABLE_KEYS, n=1, cutoff=0.6)
                hint = f"; did you mean `{close[0]}`?" if close else "."
                self.problem(f'unknown {"block" if isinstance(item, syn.Block) else "key"} '
                             f'"{key}" in {where}{hint} Allowed here: '
                             f"{', '.join(_VARIABLE_KEYS)}.", item.line, item.column, where)
                continue
            try:
                if isinstance(item, syn.Block):
                    if key != "validation":
                        raise EvalError(f"{key} is an attribute: write {key} = ...",
                                        item.line, item.column)
                    self.validation(item, decl, where)
                elif key == "type":
                    decl.type, decl.has_type = parse_type(item.expr), True
                elif key == "default":
                    decl.default, decl.has_default = evaluate(item.expr, bare), True
                elif key == "description":
                    decl.description = str(evaluate(item.expr, bare))
                elif key == "sensitive":
                    decl.sensitive = evaluate(item.expr, bare) is True
                else:
                    raise EvalError("validation is a block: validation { condition = ... "
                                    "error_message = ... }", item.line, item.column)
            except EvalError as err:
                self.problem(err.message, err.line, err.column, where)
        if decl.has_default:
            try:
                decl.default = convert(decl.default, decl.type, "the default")
            except ValueError as err:
                self.problem(f"{err} (the type is {describe_type(decl.type)})", line, column,
                             where)
        self.variables[name] = decl

    def declare_short(self, attr: syn.Attribute) -> None:
        """``variables { x = "default" }``: a variable with a default and no type."""
        decl = Declared(attr.name, attr.line, attr.column, has_default=True)
        try:
            decl.default = evaluate(attr.expr, Scope({}, self.functions, self.source))
        except EvalError as err:
            self.problem(err.message, err.line, err.column, "variables")
        if attr.name in self.variables:
            self.problem(f'variable "{attr.name}" is declared twice; the first is on line '
                         f"{self.variables[attr.name].line}", attr.line, attr.column)
            return
        self.variables[attr.name] = decl

    def validation(self, block: syn.Block, decl: Declared, where: str) -> None:
        attrs = {a.name: a for a in block.body.items if isinstance(a, syn.Attribute)}
        for needed in ("condition", "error_message"):
            if needed not in attrs:
                raise EvalError(f"validation needs {needed} = ...", block.line, block.column)
        extra = [a for a in block.body.items if getattr(a, "name", None) not in
                 ("condition", "error_message")]
        if extra:
            raise EvalError("validation holds only condition and error_message",
                            extra[0].line, extra[0].column)
        decl.validations.append((attrs["condition"].expr, attrs["error_message"].expr, block))

    def resolve_variables(self) -> None:
        for decl in self.variables.values():
            if decl.has_default:
                decl.value, decl.source = decl.default, "default"
        for key, raw in sorted(self.inputs.env.items()):
            if key.startswith("NOMAD_VAR_") and key[10:] in self.variables:
                self.assign(self.variables[key[10:]], raw, f"the environment ({key})")
        for name, text in self.inputs.files:
            self.read_var_file(name, text)
        for key, raw in self.inputs.flags.items():
            decl = self.variables.get(key)
            if decl is None:
                self.undeclared(key, f"-var {key}=...")
                continue
            self.assign(decl, raw, f"-var {key}")
        for decl in self.variables.values():
            where = f'variable "{decl.name}"'
            if not decl.source:
                self.problem(f'variable "{decl.name}" has no value: give it a default, or set '
                             f"it with -var {decl.name}=..., a -var-file, or NOMAD_VAR_"
                             f"{decl.name}", decl.line, decl.column, where)
                continue
            if decl.source != _FAILED:
                self.validate(decl, where)

    def undeclared(self, key: str, how: str, line: Optional[int] = None,
                   column: Optional[int] = None) -> None:
        close = difflib.get_close_matches(key, list(self.variables), n=1, cutoff=0.6)
        hint = f' Did you mean "{close[0]}"?' if close else \
            f' Declare it in the job spec: variable "{key}" {{ ... }}.'
        self.problem(f'{how} sets the variable "{key}", which the job spec does not '
                     f"declare.{hint}", line, column)

    def assign(self, decl: Declared, raw: Any, origin: str) -> None:
        """A value typed as text (-var, NOMAD_VAR_): a string as is, else an HCL value."""
        value = raw
        if isinstance(raw, str) and decl.has_type and decl.type != STRING and \
                decl.type != ANY:
            try:
                expr, text = syn.parse_expression(raw)
                value = evaluate(expr, Scope({}, {}, text))
            except (syn.HCL2SyntaxError, EvalError) as err:
                self.problem(f"{origin}: {raw!r} is not a valid {describe_type(decl.type)} "
                             f"value ({err.message})", decl.line, decl.column,
                             f'variable "{decl.name}"')
                decl.source = _FAILED
                return
        try:
            decl.value = convert(value, decl.type, f"the value of var.{decl.name} from {origin}")
            decl.source = origin
        except ValueError as err:
            shown = f" ({raw!r})" if isinstance(raw, str) else ""
            self.problem(f"{err}{shown}", decl.line, decl.column, f'variable "{decl.name}"')
            decl.source = _FAILED

    def read_var_file(self, name: str, text: str) -> None:
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                self.problem(f"the var file {name} is not valid JSON: {err.msg} (line "
                             f"{err.lineno})")
                return
            if not isinstance(data, dict):
                self.problem(f"the var file {name} must hold a JSON object")
                return
            for key, value in data.items():
                if key not in self.variables:
                    self.undeclared(key, f"the var file {name}")
                else:
                    self.assign(self.variables[key], value, f"the var file {name}")
            return
        try:
            body = syn.parse_hcl2(text)
        except syn.HCL2SyntaxError as err:
            self.problem(f"the var file {name}, line {err.line}: {err.message}")
            return
        scope = Scope({}, {}, text)
        for item in body.items:
            if isinstance(item, syn.Block):
                self.problem(f"the var file {name}, line {item.line}: only name = value "
                             f"lines are allowed, not the block {item.type}")
                continue
            if item.name not in self.variables:
                self.undeclared(item.name, f"the var file {name} (line {item.line})")
                continue
            try:
                value = evaluate(item.expr, scope)
            except EvalError as err:
                self.problem(f"the var file {name}, line {err.line}: {err.message}")
                continue
            self.assign(self.variables[item.name], value, f"the var file {name}")

    def validate(self, decl: Declared, where: str) -> None:
        scope = Scope({"var": {decl.name: decl.value}}, self.functions, self.source)
        for condition, message, block in decl.validations:
            try:
                ok = evaluate(condition, scope)
                if not isinstance(ok, bool):
                    raise EvalError(f"condition must be true or false, not {type_name(ok)}",
                                    condition.line, condition.column)
                if not ok:
                    text = evaluate(message, scope)
                    self.problem(f"invalid value for var.{decl.name} (from {decl.source}): "
                                 f"{text}", block.line, block.column, where)
            except EvalError as err:
                self.problem(err.message, err.line, err.column, where)

    # -- locals ------------------------------------------------------------------------------

    def evaluate_locals(self, attrs: list[tuple[syn.Attribute, syn.Block]]) -> None:
        """Locals may use each other in any order: evaluate until no more can be."""
        pending = []
        for attr, block in attrs:
            if attr.name in self.local_lines:
                self.problem(f"local.{attr.name} is defined twice; the first is on line "
                             f"{self.local_lines[attr.name]}", attr.line, attr.column, "locals")
                continue
            self.local_lines[attr.name] = attr.line
            pending.append(attr)
        names = {a.name for a in pending}
        while pending:
            errors: list[tuple[syn.Attribute, EvalError]] = []
            left = []
            for attr in pending:
                try:
                    self.locals[attr.name] = evaluate(attr.expr, self.scope())
                except EvalError as err:
                    errors.append((attr, err))
                    left.append(attr)
            if len(left) == len(pending):
                for attr, err in errors:
                    message = err.message
                    waiting = [n for n in names if n not in self.locals and n != attr.name
                               and f"local.{n}" in self.source[attr.expr.start:attr.expr.end]]
                    if waiting:
                        message = f"local.{attr.name} and local.{waiting[0]} depend on each other"
                    self.problem(message, err.line, err.column, "locals")
                return
            pending = left

    # -- the job -----------------------------------------------------------------------------

    def block(self, block: syn.Block, scope: Scope, path: str) -> Item:
        labels = [Key(text, line, column) for text, line, column in block.labels]
        here = f"{path} > {block.type}" if path else block.type
        if labels:
            here += f' "{labels[0]}"'
        return Item(Key(block.type, block.line, block.column), self.body(block.body, scope, here),
                    labels, is_block=True)

    def body(self, body: syn.Body, scope: Scope, path: str) -> Body:
        out = Body()
        out.line, out.column = body.line, body.column
        for item in body.items:
            if isinstance(item, syn.Attribute):
                key = Key(item.name, item.line, item.column)
                try:
                    value = evaluate(item.expr, scope)
                except EvalError as err:
                    self.problem(err.message, err.line, err.column, path)
                    continue
                out.append(Item(key, _tree(value, key)))
            elif item.type == "dynamic":
                out.extend(self.dynamic(item, scope, path))
            else:
                out.append(self.block(item, scope, path))
        return out

    def dynamic(self, block: syn.Block, scope: Scope, path: str) -> list[Item]:
        """``dynamic "name" { for_each, iterator, labels, content { } }``, expanded."""
        if len(block.labels) != 1:
            self.problem('dynamic needs one label, the type of block it makes: dynamic "<block>"'
                         " { ... }", block.line, block.column, path)
            return []
        kind, line, column = block.labels[0]
        attrs = {a.name: a for a in block.body.items if isinstance(a, syn.Attribute)}
        contents = [b for b in block.body.items if isinstance(b, syn.Block) and
                    b.type == "content"]
        allowed = ("for_each", "iterator", "labels", "content")
        for item in block.body.items:
            name = item.name if isinstance(item, syn.Attribute) else item.type
            if name not in allowed:
                self.problem(f'unknown key "{name}" in dynamic "{kind}"; allowed: '
                             f"{', '.join(allowed)}", item.line, item.column, path)
                return []
        if "for_each" not in attrs or len(contents) != 1:
            self.problem(f'dynamic "{kind}" needs for_each = ... and one content {{ ... }} block',
                         block.line, block.column, path)
            return []
        iterator = kind
        if "iterator" in attrs:
            expr = attrs["iterator"].expr
            if not isinstance(expr, syn.Variable):
                self.problem("iterator is a plain name, e.g. iterator = port", expr.line,
                             expr.column, path)
                return []
            iterator = expr.name
        try:
            collection = evaluate(attrs["for_each"].expr, scope)
        except EvalError as err:
            self.problem(err.message, err.line, err.column, path)
            return []
        if isinstance(collection, dict):
            pairs = [(k, collection[k]) for k in sorted(collection)]
        elif isinstance(collection, list):
            pairs = list(enumerate(collection))
        else:
            expr = attrs["for_each"].expr
            self.problem(f'for_each in dynamic "{kind}" needs a list, set or map, not '
                         f"{type_name(collection)}", expr.line, expr.column, path)
            return []
        out = []
        for key, value in pairs:
            inner = scope.child({iterator: {"key": key, "value": value}})
            labels: list[Key] = []
            if "labels" in attrs:
                try:
                    found = evaluate(attrs["labels"].expr, inner)
                except EvalError as err:
                    self.problem(err.message, err.line, err.column, path)
                    return []
                if not isinstance(found, list):
                    found = [found]
                labels = [Key(str(label), line, column) for label in found]
            out.append(Item(Key(kind, line, column), self.body(contents[0].body, inner, path),
                            labels, is_block=True))
        return out


def _tasks_as_groups(job: Body) -> Body:
    """A ``task`` written directly in the job runs in a group of its own name, after the
    job's groups, as Nomad's jobspec2 makes it (``normalizeJob``)."""
    out = Body()
    out.line, out.column = job.line, job.column
    wrapped = []
    for item in job:
        if str(item.key) == "task" and item.is_block and len(item.labels) == 1:
            group = Body([item])
            group.line, group.column = item.line, item.column
            wrapped.append(Item(Key("group", item.line, item.column), group, [item.labels[0]],
                                is_block=True))
        else:
            out.append(item)
    out.extend(wrapped)
    return out


def _tree(value: Any, key: Key) -> Any:
    """An evaluated value in the shape the decoder reads: objects become bodies."""
    if isinstance(value, dict):
        body = Body(Item(Key(str(k), key.line, key.column), _tree(v, key))
                    for k, v in value.items())
        body.line, body.column = key.line, key.column
        return body
    if isinstance(value, list):
        return [_tree(v, key) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_hcl2(text: str, inputs: Optional[VariableInputs] = None, base_dir: Optional[str] = None,
              allow_fs: bool = False) -> tuple[Body, dict[str, Declared]]:
    """Parse and evaluate an HCL2 job file; the decoder's tree and the variables' values.

    Raises :class:`~.hcl2_syntax.HCL2SyntaxError` or :class:`HCL2Problems`."""
    reader = _Reader(text, inputs or VariableInputs(), base_dir, allow_fs)
    body = reader.read(syn.parse_hcl2(text))
    return body, reader.variables
