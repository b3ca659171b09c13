"""HCL2 type constraints (``type = list(string)``) and converting a value to one.

A type is a tuple: ``("string",)``, ``("number",)``, ``("bool",)``, ``("any",)``,
``("list", T)``, ``("set", T)``, ``("map", T)``, ``("object", {name: T})``,
``("tuple", [T, ...])``.  Conversion follows cty's safe conversions: numbers and bools
become strings and back, a tuple becomes a list, an object a map.
"""

from __future__ import annotations

from typing import Any

from . import hcl2_syntax as syn
from .hcl2_eval import EvalError, Scope, evaluate, is_number, to_string, type_name

__all__ = ["Type", "ANY", "STRING", "parse_type", "convert", "describe_type"]

Type = tuple
ANY: Type = ("any",)
STRING: Type = ("string",)
_PRIMITIVES = ("string", "number", "bool", "any")


def parse_type(expr: syn.Expr) -> Type:
    """Read a type expression; raises :class:`EvalError` for anything else."""
    if isinstance(expr, syn.Variable) and expr.name in _PRIMITIVES:
        return (expr.name,)
    if isinstance(expr, syn.Call) and expr.name in ("list", "set", "map") and len(expr.args) == 1:
        return (expr.name, parse_type(expr.args[0]))
    if isinstance(expr, syn.Call) and expr.name == "object" and len(expr.args) == 1 \
            and isinstance(expr.args[0], syn.ObjectCons):
        fields = {}
        for key, value in expr.args[0].items:
            if not isinstance(key, syn.Literal):
                raise EvalError("an object type's attribute names are plain names",
                                key.line, key.column)
            fields[str(key.value)] = parse_type(value)
        return ("object", fields)
    if isinstance(expr, syn.Call) and expr.name == "tuple" and len(expr.args) == 1 \
            and isinstance(expr.args[0], syn.TupleCons):
        return ("tuple", [parse_type(e) for e in expr.args[0].items])
    raise EvalError("not a type: write string, number, bool, any, list(T), set(T), map(T), "
                    "object({...}) or tuple([...])", expr.line, expr.column)


def describe_type(t: Type) -> str:
    kind = t[0]
    if kind in _PRIMITIVES:
        return kind
    if kind in ("list", "set", "map"):
        return f"{kind}({describe_type(t[1])})"
    if kind == "object":
        return "object({" + ", ".join(f"{k} = {describe_type(v)}" for k, v in t[1].items()) + "})"
    return "tuple([" + ", ".join(describe_type(v) for v in t[1]) + "])"


def convert(value: Any, t: Type, where: str = "the value") -> Any:
    """``value`` as type ``t``; raises ``ValueError`` saying what was wanted."""
    kind = t[0]
    if value is None or kind == "any":
        return value
    if kind == "string":
        if isinstance(value, (str, bool)) or is_number(value):
            return to_string(value)
    elif kind == "number":
        if is_number(value):
            return value
        if isinstance(value, str):
            try:
                number = float(value)
                return int(number) if number.is_integer() and "." not in value else number
            except ValueError:
                pass
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
    elif kind in ("list", "set"):
        if isinstance(value, list):
            items = [convert(v, t[1], f"an element of {where}") for v in value]
            if kind == "set":
                unique: list = []
                for item in items:
                    if item not in unique:
                        unique.append(item)
                items = unique
            return items
    elif kind == "map":
        if isinstance(value, dict):
            return {k: convert(v, t[1], f'{where}["{k}"]') for k, v in value.items()}
    elif kind == "object":
        if isinstance(value, dict):
            missing = [k for k in t[1] if k not in value]
            if missing:
                raise ValueError(f'{where} needs the attribute "{missing[0]}"')
            return {k: convert(value[k], ft, f"{where}.{k}") for k, ft in t[1].items()}
    elif kind == "tuple":
        if isinstance(value, list) and len(value) == len(t[1]):
            return [convert(v, ft, f"{where}[{i}]") for i, (v, ft) in enumerate(zip(value, t[1]))]
    raise ValueError(f"{where} must be {_article(describe_type(t))}, not {type_name(value)}")


def _article(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def convert_function(args: list, scope: Scope) -> Any:
    """``convert(value, type)``: the type is read as a type expression, not evaluated."""
    if len(args) != 2:
        raise ValueError("convert() takes a value and a type")
    value = evaluate(args[0], scope)
    try:
        return convert(value, parse_type(args[1]))
    except ValueError as err:
        raise EvalError(f"convert(): {err}", args[0].line, args[0].column) from None
