"""Evaluating HCL2 expressions over Python values, the way Nomad's HCL2 decoder does.

Values are plain Python: ``str``, ``int``/``float`` (HCL's one number type; whole
numbers stay ``int``), ``bool``, ``None`` (null), ``list`` (tuples, lists and sets)
and ``dict`` (objects and maps).  A reference whose root is not ``var``, ``local`` or
an iterator in scope (``attr.kernel.name``, ``NOMAD_ALLOC_DIR``, ``node.unique.id``) is
kept as the text ``${...}``: Nomad resolves those per node and per task at run time,
and its HCL2 parser keeps them the same way (``UnknownVariable`` in jobspec2).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import hcl2_syntax as syn

__all__ = ["EvalError", "Scope", "evaluate", "to_string", "type_name", "is_number"]


@dataclass
class EvalError(Exception):
    """An expression that has no value: what is wrong, and where (1-based)."""

    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


class Scope:
    """What names mean while evaluating: ``var``, ``local``, iterators, functions.

    ``declared`` maps a root name (``var``/``local``) to the line each of its members
    was declared on, so an undefined one can be told apart from a misspelt one.
    """

    def __init__(self, values: dict[str, Any], functions: dict[str, Callable[..., Any]],
                 source: str, declared: Optional[dict[str, dict[str, int]]] = None) -> None:
        self.values = values
        self.functions = functions
        self.source = source
        self.declared = declared or {}

    def child(self, names: dict[str, Any]) -> "Scope":
        return Scope({**self.values, **names}, self.functions, self.source, self.declared)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """HCL's word for a value's type, as its error messages use it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _number_text(value: float | int) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def to_string(value: Any, expr: Optional[syn.Expr] = None) -> str:
    """A value as text in a template (``"${x}"``): strings, numbers and bools only."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return _number_text(value)
    where = (expr.line, expr.column) if expr else (0, 0)
    if value is None:
        raise EvalError("a null value cannot be used in a string template", *where)
    raise EvalError(f"a {type_name(value)} cannot be used in a string template: only strings, "
                    "numbers and bools can (jsonencode() or join() turn a "
                    f"{type_name(value)} into a string)", *where)


def _number(value: Any, expr: syn.Expr, what: str) -> float | int:
    if is_number(value):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise EvalError(f"{what} needs a number, not {type_name(value)} {_show(value)}",
                    expr.line, expr.column)


def _bool(value: Any, expr: syn.Expr, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise EvalError(f"{what} needs a bool (true or false), not {type_name(value)} "
                    f"{_show(value)}", expr.line, expr.column)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if is_number(value):
        return _number_text(value)
    return ""


def _normalize_number(value: float) -> float | int:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
        return int(value)
    return value


def equal(a: Any, b: Any) -> bool:
    """HCL's ``==``: same type and same value (``1 == "1"`` is false, ``1 == 1.0`` true)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def _constant(expr: syn.Expr) -> bool:
    """A literal key, ``[0]`` or ``["HOME"]``: part of a traversal, as HCL reads it."""
    return isinstance(expr, syn.Literal) or (
        isinstance(expr, syn.Template) and all(isinstance(p, str) for p in expr.parts))


def _traversal_root(expr: syn.Expr) -> Optional[syn.Variable]:
    """The variable at the root of ``a.b[0].c``, if the expression is such a chain."""
    while isinstance(expr, (syn.GetAttr, syn.Index)):
        if isinstance(expr, syn.Index) and not _constant(expr.key):
            return None
        expr = expr.obj
    return expr if isinstance(expr, syn.Variable) else None


def evaluate(expr: syn.Expr, scope: Scope) -> Any:
    """The value of ``expr`` in ``scope``; raises :class:`EvalError` with the position."""
    method = _DISPATCH.get(type(expr))
    if method is None:  # pragma: no cover - every node type is dispatched
        raise EvalError(f"cannot evaluate {type(expr).__name__}", expr.line, expr.column)
    return method(expr, scope)


def _literal(expr: syn.Literal, scope: Scope) -> Any:
    return expr.value


def _template(expr: syn.Template, scope: Scope) -> Any:
    parts = expr.parts
    if len(parts) == 1 and isinstance(parts[0], syn.Interpolation):
        return _interpolate(parts[0], scope)  # "${x}" alone keeps x's type, as HCL does
    return "".join(_render(parts, scope))


def _interpolate(part: syn.Interpolation, scope: Scope) -> Any:
    """``${x}``; one naming a runtime variable stays exactly as written, spaces and all."""
    if _unknown_root(part.inner, scope) is not None or (
            isinstance(part.inner, syn.Variable) and part.inner.name not in scope.values):
        return scope.source[part.start:part.end]
    return evaluate(part.inner, scope)


def _render(parts: list, scope: Scope) -> list[str]:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, syn.TemplateIf):
            cond = _bool(evaluate(part.cond, scope), part.cond, "%{ if }")
            out.extend(_render(part.then if cond else part.otherwise, scope))
        elif isinstance(part, syn.TemplateFor):
            collection = evaluate(part.collection, scope)
            for key, value in _iterate(collection, part.collection, "%{ for }"):
                names = {part.value_var: value}
                if part.key_var:
                    names[part.key_var] = key
                out.extend(_render(part.body, scope.child(names)))
        else:
            out.append(to_string(_interpolate(part, scope), part))
    return out


def _iterate(collection: Any, expr: syn.Expr, what: str) -> list[tuple[Any, Any]]:
    if isinstance(collection, dict):
        return [(k, collection[k]) for k in sorted(collection)]
    if isinstance(collection, list):
        return list(enumerate(collection))
    raise EvalError(f"{what} needs a list, set, map or object to go through, not "
                    f"{type_name(collection)} {_show(collection)}", expr.line, expr.column)


def _variable(expr: syn.Variable, scope: Scope) -> Any:
    if expr.name in scope.values:
        return scope.values[expr.name]
    return "${" + scope.source[expr.start:expr.end] + "}"


def _unknown_root(expr: syn.Expr, scope: Scope) -> Optional[str]:
    root = _traversal_root(expr)
    if root is not None and root.name not in scope.values:
        return "${" + scope.source[expr.start:expr.end] + "}"
    return None


def _get_attr(expr: syn.GetAttr, scope: Scope) -> Any:
    kept = _unknown_root(expr, scope)
    if kept is not None:
        return kept
    obj = evaluate(expr.obj, scope)
    return _lookup(obj, expr.name, expr, scope, attribute=True)


def _index(expr: syn.Index, scope: Scope) -> Any:
    kept = _unknown_root(expr, scope)
    if kept is not None:
        return kept
    obj = evaluate(expr.obj, scope)
    key = evaluate(expr.key, scope)
    return _lookup(obj, key, expr, scope, attribute=False)


def _lookup(obj: Any, key: Any, expr: syn.Expr, scope: Scope, attribute: bool) -> Any:
    if isinstance(obj, dict):
        name = to_string(key, expr)
        if name in obj:
            return obj[name]
        raise EvalError(_missing(expr, name, obj, scope), expr.line, expr.column)
    if isinstance(obj, list) and not attribute:
        index = _number(key, expr, "an index into a list")
        if not float(index).is_integer():
            raise EvalError(f"a list index must be a whole number, not {_number_text(index)}",
                            expr.line, expr.column)
        if 0 <= int(index) < len(obj):
            return obj[int(index)]
        raise EvalError(f"index {int(index)} is out of range: the list has {len(obj)} "
                        f"element{'s' if len(obj) != 1 else ''}", expr.line, expr.column)
    if obj is None:
        raise EvalError("cannot look into a null value", expr.line, expr.column)
    what = f'attribute "{key}"' if attribute else f"[{_show(key) or key}]"
    raise EvalError(f"a {type_name(obj)} has no {what}", expr.line, expr.column)


def _missing(expr: syn.Expr, name: str, obj: dict, scope: Scope) -> str:
    """An undefined ``var.x`` / ``local.x`` says so, and what may have been meant."""
    root = expr.obj if isinstance(expr, (syn.GetAttr, syn.Index)) else None
    close = difflib.get_close_matches(name, [str(k) for k in obj], n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    if isinstance(root, syn.Variable) and close:
        line = scope.declared.get(root.name, {}).get(close[0])
        if line:
            hint += f" ({root.name}.{close[0]} is defined on line {line})"
    if isinstance(root, syn.Variable) and root.name in ("var", "local"):
        if root.name == "var":
            return (f'var.{name} is not declared: add variable "{name}" {{ ... }} to the job '
                    f"spec{hint}")
        return f"local.{name} is not defined in any locals block{hint}"
    return f'this object has no attribute "{name}"{hint}'


def _splat(expr: syn.Splat, scope: Scope) -> Any:
    obj = evaluate(expr.obj, scope)
    if obj is None:
        return []
    items = obj if isinstance(obj, list) else [obj]
    return [evaluate(expr.each, scope.child({"\0item": item})) for item in items]


#: Functions that take their arguments unevaluated: try() and can() catch their
#: errors, convert() reads its second argument as a type.
_RAW_ARGUMENTS = ("try", "can", "convert")


def _call(expr: syn.Call, scope: Scope) -> Any:
    func = scope.functions.get(expr.name)
    if func is None:
        close = difflib.get_close_matches(expr.name, list(scope.functions), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}()?" if close else \
            " (Nomad's HCL2 functions are listed at /docs/job-specification/hcl2/functions)"
        raise EvalError(f"there is no function named {expr.name}(){hint}", expr.line,
                        expr.column)
    if expr.name in _RAW_ARGUMENTS:
        try:
            return func(expr.args, scope)
        except ValueError as err:
            raise EvalError(f"{expr.name}(): {err}", expr.line, expr.column) from None
    args = [evaluate(a, scope) for a in expr.args]
    if expr.expand_final:
        last = args.pop() if args else None
        if not isinstance(last, list):
            raise EvalError(f"{expr.name}(...): the argument before ... must be a list",
                            expr.line, expr.column)
        args.extend(last)
    try:
        return func(*args)
    except EvalError:
        raise
    except TypeError as err:
        raise EvalError(f"{expr.name}(): wrong number or kind of arguments ({err})",
                        expr.line, expr.column) from None
    except (ValueError, KeyError, IndexError, OverflowError, ZeroDivisionError) as err:
        message = err.args[0] if err.args else str(err)
        raise EvalError(f"{expr.name}(): {message}", expr.line, expr.column) from None


def _tuple(expr: syn.TupleCons, scope: Scope) -> list:
    return [evaluate(item, scope) for item in expr.items]


def _object(expr: syn.ObjectCons, scope: Scope) -> dict:
    out: dict[str, Any] = {}
    for key_expr, value_expr in expr.items:
        key = to_string(evaluate(key_expr, scope), key_expr)
        out[key] = evaluate(value_expr, scope)
    return out


def _for(expr: syn.ForExpr, scope: Scope) -> Any:
    collection = evaluate(expr.collection, scope)
    pairs = _iterate(collection, expr.collection, "a for expression")
    is_object = expr.key is not None
    tuple_out: list = []
    object_out: dict[str, Any] = {}
    for key, value in pairs:
        names = {expr.value_var: value}
        if expr.key_var:
            names[expr.key_var] = key
        inner = scope.child(names)
        if expr.cond is not None and not _bool(evaluate(expr.cond, inner), expr.cond, "if"):
            continue
        result = evaluate(expr.value, inner)
        if not is_object:
            tuple_out.append(result)
            continue
        assert expr.key is not None
        name = to_string(evaluate(expr.key, inner), expr.key)
        if expr.group:
            object_out.setdefault(name, []).append(result)
        elif name in object_out:
            raise EvalError(f'two elements have the key "{name}": add ... after the value to '
                            "group them, { for ... : k => v... }", expr.key.line,
                            expr.key.column)
        else:
            object_out[name] = result
    return object_out if is_object else tuple_out


def _conditional(expr: syn.Conditional, scope: Scope) -> Any:
    cond = _bool(evaluate(expr.cond, scope), expr.cond, "a condition (cond ? a : b)")
    return evaluate(expr.then if cond else expr.otherwise, scope)


def _binary(expr: syn.Binary, scope: Scope) -> Any:
    op = expr.op
    if op in ("&&", "||"):
        left = _bool(evaluate(expr.left, scope), expr.left, op)
        right = _bool(evaluate(expr.right, scope), expr.right, op)
        return (left and right) if op == "&&" else (left or right)
    left, right = evaluate(expr.left, scope), evaluate(expr.right, scope)
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    a = _number(left, expr.left, f"'{op}'")
    b = _number(right, expr.right, f"'{op}'")
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    if op == ">=":
        return a >= b
    if op == "+":
        return _normalize_number(a + b) if isinstance(a + b, float) else a + b
    if op == "-":
        return _normalize_number(a - b) if isinstance(a - b, float) else a - b
    if op == "*":
        return _normalize_number(a * b) if isinstance(a * b, float) else a * b
    if b == 0 and op in ("/", "%"):
        raise EvalError("division by zero", expr.right.line, expr.right.column)
    if op == "/":
        return _normalize_number(a / b)
    return _normalize_number(math.fmod(a, b))


def _unary(expr: syn.Unary, scope: Scope) -> Any:
    value = evaluate(expr.operand, scope)
    if expr.op == "!":
        return not _bool(value, expr.operand, "'!'")
    return -_number(value, expr.operand, "'-'")


def _parens(expr: syn.Parens, scope: Scope) -> Any:
    return evaluate(expr.inner, scope)


_DISPATCH: dict[type, Callable[[Any, Scope], Any]] = {
    syn.Literal: _literal, syn.Template: _template, syn.Variable: _variable,
    syn.GetAttr: _get_attr, syn.Index: _index, syn.Splat: _splat, syn.Call: _call,
    syn.TupleCons: _tuple, syn.ObjectCons: _object, syn.ForExpr: _for,
    syn.Conditional: _conditional, syn.Binary: _binary, syn.Unary: _unary,
    syn.Parens: _parens, syn.Interpolation: _interpolate,
}
