"""Nomad's HCL2 function library (jobspec2/functions.go), over plain Python values.

Each function raises ``ValueError`` with a short reason; the evaluator adds the
function's name and the position of the call.  The filesystem functions read only
below the job spec's directory, and only when the caller allows it (the CLI does;
``/v1/jobs/parse`` does not, as in Nomad).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import ipaddress
import json
import math
import os
import re
import urllib.parse
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Optional

from ..structs.duration import parse_duration
from .hcl2_eval import EvalError, Scope, equal, evaluate, is_number, to_string, type_name
from .hcl2_types import convert_function

__all__ = ["functions"]

Func = Callable[..., Any]


def _str(value: Any, what: str = "argument") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or is_number(value):
        return to_string(value)
    raise ValueError(f"the {what} must be a string, not {type_name(value)}")


def _num(value: Any, what: str = "argument") -> float | int:
    if is_number(value):
        return value
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    raise ValueError(f"the {what} must be a number, not {type_name(value)}")


def _int(value: Any, what: str = "argument") -> int:
    number = _num(value, what)
    if not float(number).is_integer():
        raise ValueError(f"the {what} must be a whole number")
    return int(number)


def _list(value: Any, what: str = "argument") -> list:
    if isinstance(value, list):
        return value
    raise ValueError(f"the {what} must be a list, not {type_name(value)}")


def _map(value: Any, what: str = "argument") -> dict:
    if isinstance(value, dict):
        return value
    raise ValueError(f"the {what} must be a map or object, not {type_name(value)}")


def _whole(value: float | int) -> float | int:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- strings -----------------------------------------------------------------------------

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _format(fmt: Any, *args: Any) -> str:
    """Go-style verbs as cty's format(): %s %d %f %g %e %t %q %v %x %X %o %b %%."""
    fmt = _str(fmt, "format")
    out: list[str] = []
    pos = 0
    index = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, precision, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if index >= len(args):
            raise ValueError(f"not enough arguments for the format string (verb %{verb})")
        value = args[index]
        index += 1
        spec = "%" + flags + (width or "") + (f".{precision}" if precision else "")
        if verb in ("s", "v"):
            text = _json_text(value) if isinstance(value, (list, dict)) else to_string(value)
            out.append((spec + "s") % text)
        elif verb == "q":
            out.append((spec + "s") % json.dumps(_str(value)))
        elif verb == "t":
            if not isinstance(value, bool):
                raise ValueError(f"%t needs a bool, not {type_name(value)}")
            out.append((spec + "s") % ("true" if value else "false"))
        elif verb in ("d", "x", "X", "o", "b"):
            number = _int(value, f"value for %{verb}")
            if verb == "b":
                out.append((spec + "s") % format(number, "b"))
            else:
                out.append((spec + verb) % number)
        elif verb in ("f", "e", "E", "g", "G"):
            out.append((spec + verb) % float(_num(value, f"value for %{verb}")))
        else:
            raise ValueError(f"unsupported format verb %{verb}")
    out.append(fmt[pos:])
    if index < len(args):
        raise ValueError(f"too many arguments: the format uses {index}, {len(args)} given")
    return "".join(out)


def _formatlist(fmt: Any, *args: Any) -> list:
    lengths = {len(a) for a in args if isinstance(a, list)}
    if len(lengths) > 1:
        raise ValueError("all list arguments must have the same length")
    n = lengths.pop() if lengths else 1
    return [_format(fmt, *[a[i] if isinstance(a, list) else a for a in args]) for i in range(n)]


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _indent(spaces: Any, text: Any) -> str:
    pad = " " * _int(spaces, "number of spaces")
    return _str(text).replace("\n", "\n" + pad)


def _replace(text: Any, search: Any, replacement: Any) -> str:
    text, search, replacement = _str(text), _str(search), _str(replacement)
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        return _regex_replace(text, search[1:-1], replacement)
    return text.replace(search, replacement)


def _regex_replace(text: Any, pattern: Any, replacement: Any) -> str:
    repl = re.sub(r"\$(\d+|\{\w+\})", lambda m: "\\g<" + m.group(1).strip("{}") + ">",
                  _str(replacement))
    return re.sub(_str(pattern), repl, _str(text))


def _substr(text: Any, offset: Any, length: Any) -> str:
    text, offset, length = _str(text), _int(offset), _int(length)
    if offset < 0:
        offset += len(text)
    offset = max(0, min(offset, len(text)))
    return text[offset:] if length < 0 else text[offset:offset + length]


def _title(text: Any) -> str:
    return re.sub(r"(^|\s)(\w)", lambda m: m.group(1) + m.group(2).upper(), _str(text))


def _trim(text: Any, chars: Any) -> str:
    return _str(text).strip(_str(chars))


def _chomp(text: Any) -> str:
    return re.sub(r"(\r\n|\n|\r)+$", "", _str(text))


def _split(sep: Any, text: Any) -> list:
    text = _str(text)
    return text.split(_str(sep)) if text else [""]


def _join(sep: Any, *lists: Any) -> str:
    if not lists:
        raise ValueError("join needs at least one list")
    items = [x for lst in lists for x in _list(lst, "list")]
    return _str(sep).join(to_string(x) for x in items)


def _parseint(text: Any, base: Any) -> int:
    base = _int(base, "base")
    if not 2 <= base <= 62:
        raise ValueError("the base must be between 2 and 62")
    try:
        return int(_str(text), base)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" as a base {base} integer') from None


# -- collections -------------------------------------------------------------------------

def _length(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ValueError(f"length() needs a string, list or map, not {type_name(value)}")


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null, non-empty argument")


def _coalescelist(*lists: Any) -> list:
    for lst in lists:
        if _list(lst):
            return lst
    raise ValueError("no non-empty list")


def _compact(lst: Any) -> list:
    return [x for x in _list(lst) if x is not None and x != ""]


def _concat(*lists: Any) -> list:
    return [x for lst in lists for x in _list(lst)]


def _contains(lst: Any, value: Any) -> bool:
    return any(equal(x, value) for x in _list(lst))


def _distinct(lst: Any) -> list:
    out: list = []
    for x in _list(lst):
        if not any(equal(x, y) for y in out):
            out.append(x)
    return out


def _element(lst: Any, index: Any) -> Any:
    lst, index = _list(lst), _int(index, "index")
    if not lst:
        raise ValueError("cannot use element() with an empty list")
    if index < 0:
        raise ValueError("the index must not be negative")
    return lst[index % len(lst)]


def _flatten(lst: Any) -> list:
    out: list = []
    for x in _list(lst):
        out.extend(_flatten(x) if isinstance(x, list) else [x])
    return out


def _index_of(lst: Any, value: Any) -> int:
    for i, x in enumerate(_list(lst)):
        if equal(x, value):
            return i
    raise ValueError("the item was not found in the list")


def _keys(mapping: Any) -> list:
    return sorted(_map(mapping))


def _values(mapping: Any) -> list:
    mapping = _map(mapping)
    return [mapping[k] for k in sorted(mapping)]


def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    mapping, key = _map(mapping), _str(key, "key")
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise ValueError(f'the map has no key "{key}" and no default was given')


def _merge(*maps: Any) -> dict:
    out: dict = {}
    for mapping in maps:
        if mapping is not None:
            out.update(_map(mapping))
    return out


def _range(*args: Any) -> list:
    nums = [_num(a) for a in args]
    if len(nums) == 1:
        start, stop, step = 0, nums[0], 1
    elif len(nums) == 2:
        start, stop, step = nums[0], nums[1], 1 if nums[1] >= nums[0] else -1
    elif len(nums) == 3:
        start, stop, step = nums
    else:
        raise ValueError("range() takes one to three numbers")
    if step == 0:
        raise ValueError("the step must not be zero")
    out: list = []
    value = start
    while (value < stop) if step > 0 else (value > stop):
        out.append(_whole(value))
        value += step
        if len(out) > 1024:
            raise ValueError("more than 1024 values")
    return out


def _slice(lst: Any, start: Any, end: Any) -> list:
    lst, start, end = _list(lst), _int(start), _int(end)
    if not 0 <= start <= end <= len(lst):
        raise ValueError(f"the indexes {start} and {end} do not fit a list of {len(lst)}")
    return lst[start:end]


def _sort(lst: Any) -> list:
    return sorted(_str(x, "element") for x in _list(lst))


def _chunklist(lst: Any, size: Any) -> list:
    lst, size = _list(lst), _int(size, "size")
    if size < 0:
        raise ValueError("the size must not be negative")
    if size == 0:
        return [lst]
    return [lst[i:i + size] for i in range(0, len(lst), size)]


def _zipmap(keys: Any, values: Any) -> dict:
    keys, values = _list(keys), _list(values)
    if len(keys) != len(values):
        raise ValueError("the lists of keys and values must have the same length")
    return {_str(k, "key"): v for k, v in zip(keys, values)}


def _setunion(*sets: Any) -> list:
    return _distinct([x for s in sets for x in _list(s)])


def _setintersection(first: Any, *others: Any) -> list:
    return [x for x in _distinct(first) if all(_contains(o, x) for o in others)]


def _setproduct(*sets: Any) -> list:
    out: list = [[]]
    for s in sets:
        out = [prefix + [x] for prefix in out for x in _list(s)]
    return out


def _reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(_list(value)))


def _max(*nums: Any) -> Any:
    if not nums:
        raise ValueError("max() needs at least one number")
    return max(_num(n) for n in nums)


def _min(*nums: Any) -> Any:
    if not nums:
        raise ValueError("min() needs at least one number")
    return min(_num(n) for n in nums)


def _log(number: Any, base: Any) -> float:
    return _whole(math.log(_num(number), _num(base)))


def _signum(number: Any) -> int:
    n = _num(number)
    return (n > 0) - (n < 0)


# -- encoding ----------------------------------------------------------------------------

def _base64decode(text: Any) -> str:
    try:
        return base64.b64decode(_str(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the string is not valid base64 of UTF-8 text") from None


def _jsondecode(text: Any) -> Any:
    try:
        return json.loads(_str(text))
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg}") from None


def _csvdecode(text: Any) -> list:
    rows = list(csv.reader(io.StringIO(_str(text))))
    if not rows:
        raise ValueError("missing header line")
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:] if row]


def _yamldecode(text: Any) -> Any:
    import yaml
    try:
        return yaml.safe_load(_str(text))
    except yaml.YAMLError as err:
        raise ValueError(f"invalid YAML: {err}") from None


def _yamlencode(value: Any) -> str:
    import yaml
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True)


def _digest(name: str) -> Func:
    return lambda text: hashlib.new(name, _str(text).encode()).hexdigest()


# -- networks ----------------------------------------------------------------------------

def _cidrhost(prefix: Any, num: Any) -> str:
    net = ipaddress.ip_network(_str(prefix), strict=False)
    n = _int(num)
    if n < 0:
        n += net.num_addresses
    if not 0 <= n < net.num_addresses:
        raise ValueError(f"host number {num} is out of range for {prefix}")
    return str(net.network_address + n)


def _cidrnetmask(prefix: Any) -> str:
    net = ipaddress.ip_network(_str(prefix), strict=False)
    if net.version != 4:
        raise ValueError("only IPv4 prefixes have a netmask")
    return str(net.netmask)


def _cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    net = ipaddress.ip_network(_str(prefix), strict=False)
    new_prefix = net.prefixlen + _int(newbits)
    if new_prefix > net.max_prefixlen:
        raise ValueError("not enough bits for the new prefix")
    size = 2 ** (net.max_prefixlen - new_prefix)
    n = _int(netnum)
    if not 0 <= n < 2 ** _int(newbits):
        raise ValueError(f"network number {n} does not fit in {newbits} bits")
    return str(ipaddress.ip_network((int(net.network_address) + n * size, new_prefix)))


def _cidrsubnets(prefix: Any, *newbits: Any) -> list:
    net = ipaddress.ip_network(_str(prefix), strict=False)
    out: list = []
    current = int(net.network_address)
    for bits in newbits:
        length = net.prefixlen + _int(bits)
        size = 2 ** (net.max_prefixlen - length)
        current = (current + size - 1) // size * size
        sub = ipaddress.ip_network((current, length))
        if not sub.subnet_of(net):  # type: ignore[arg-type]
            raise ValueError("not enough room in the prefix for all subnets")
        out.append(str(sub))
        current += size
    return out


# -- dates -------------------------------------------------------------------------------

def _timestamp(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(_str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f'"{text}" is not an RFC 3339 timestamp, e.g. '
                         '"2024-01-02T15:04:05Z"') from None


_DATE_TOKENS = re.compile(r"'[^']*'|YYYY|YY|MMMM|MMM|MM|M|DD|D|EEEE|EEE|hh|h|HH|H|mm|m|ss|s|"
                          r"AA|aa|ZZZZZ|ZZZZ|ZZZ|Z")


def _formatdate(fmt: Any, timestamp: Any) -> str:
    t = _timestamp(timestamp)
    offset = t.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hh, mm = divmod(abs(minutes), 60)

    def token(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.startswith("'"):
            return tok[1:-1] or "'"
        table = {
            "YYYY": f"{t.year:04d}", "YY": f"{t.year % 100:02d}", "MMMM": t.strftime("%B"),
            "MMM": t.strftime("%b"), "MM": f"{t.month:02d}", "M": str(t.month),
            "DD": f"{t.day:02d}", "D": str(t.day), "EEEE": t.strftime("%A"),
            "EEE": t.strftime("%a"), "hh": f"{t.hour:02d}", "h": str(t.hour),
            "HH": f"{(t.hour % 12) or 12:02d}", "H": str((t.hour % 12) or 12),
            "mm": f"{t.minute:02d}", "m": str(t.minute), "ss": f"{t.second:02d}",
            "s": str(t.second), "AA": "AM" if t.hour < 12 else "PM",
            "aa": "am" if t.hour < 12 else "pm",
            "ZZZZZ": f"{sign}{hh:02d}:{mm:02d}", "ZZZZ": f"{sign}{hh:02d}{mm:02d}",
            "ZZZ": "UTC" if minutes == 0 else f"{sign}{hh:02d}{mm:02d}",
            "Z": "Z" if minutes == 0 else f"{sign}{hh:02d}:{mm:02d}",
        }
        return table[tok]

    return _DATE_TOKENS.sub(token, _str(fmt, "format"))


def _timeadd(timestamp: Any, duration: Any) -> str:
    t = _timestamp(timestamp)
    try:
        nanos = parse_duration(_str(duration, "duration"))
    except ValueError as err:
        raise ValueError(str(err)) from None
    result = t + timedelta(microseconds=nanos / 1000)
    text = result.isoformat()
    return text.replace("+00:00", "Z")


# -- files -------------------------------------------------------------------------------

class _Files:
    """``file()`` and friends, confined to ``base_dir`` and the directories below it."""

    def __init__(self, base_dir: Optional[str], allowed: bool) -> None:
        self.base = Path(base_dir or ".").resolve()
        self.allowed = allowed

    def path(self, name: Any) -> Path:
        if not self.allowed:
            raise ValueError("filesystem functions are disabled here: Nomad allows them only "
                             "when the job spec is read from a file by the CLI")
        path = (self.base / os.path.expanduser(_str(name, "path"))).resolve()
        if path != self.base and self.base not in path.parents:
            raise ValueError(f'"{name}" is outside the job spec\'s directory ({self.base}); '
                             "nomadlab reads files only from there and below")
        return path

    def file(self, name: Any) -> str:
        path = self.path(name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f'no file "{name}" in {self.base}') from None
        except UnicodeDecodeError:
            raise ValueError(f'"{name}" is not UTF-8 text; use filebase64()') from None

    def filebase64(self, name: Any) -> str:
        try:
            return base64.b64encode(self.path(name).read_bytes()).decode()
        except FileNotFoundError:
            raise ValueError(f'no file "{name}" in {self.base}') from None

    def fileexists(self, name: Any) -> bool:
        return self.path(name).is_file()

    def fileset(self, root: Any, pattern: Any) -> list:
        base = self.path(root)
        return sorted(str(p.relative_to(base)) for p in base.glob(_str(pattern)) if p.is_file())

    def abspath(self, name: Any) -> str:
        self.path(".")
        return str((self.base / _str(name)).resolve())

    def basename(self, name: Any) -> str:
        self.path(".")
        return os.path.basename(_str(name))

    def dirname(self, name: Any) -> str:
        self.path(".")
        return os.path.dirname(_str(name)) or "."

    def pathexpand(self, name: Any) -> str:
        self.path(".")
        return os.path.expanduser(_str(name))


# -- try / can / convert -----------------------------------------------------------------

def _try(args: list, scope: Scope) -> Any:
    last: Optional[EvalError] = None
    for arg in args:
        try:
            return evaluate(arg, scope)
        except EvalError as err:
            last = err
    if last is None:
        raise ValueError("try() needs at least one argument")
    raise EvalError(f"try(): no argument could be evaluated; the last said: {last.message}",
                    last.line, last.column)


def _can(args: list, scope: Scope) -> bool:
    if len(args) != 1:
        raise ValueError("can() takes exactly one argument")
    try:
        evaluate(args[0], scope)
    except EvalError:
        return False
    return True


def _uuidv5(namespace: Any, name: Any) -> str:
    spaces = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID,
              "x500": uuid.NAMESPACE_X500}
    ns = spaces.get(_str(namespace)) or uuid.UUID(_str(namespace))
    return str(uuid.uuid5(ns, _str(name)))


def _unavailable(name: str, why: str) -> Func:
    def refuse(*_: Any) -> Any:
        raise ValueError(f"{name}() is not available in nomadlab: {why}")
    return refuse


def functions(base_dir: Optional[str] = None, allow_fs: bool = False) -> dict[str, Func]:
    """The functions a job spec may call, as Nomad's ``jobspec2.Functions`` lists them."""
    files = _Files(base_dir, allow_fs)
    return {
        "abs": lambda n: abs(_num(n)),
        "base64decode": _base64decode,
        "base64encode": lambda s: base64.b64encode(_str(s).encode()).decode(),
        "bcrypt": _unavailable("bcrypt", "its output is salted at random, so a job spec using "
                                         "it changes on every parse"),
        "can": _can,
        "ceil": lambda n: math.ceil(_num(n)),
        "chomp": _chomp,
        "chunklist": _chunklist,
        "cidrhost": _cidrhost,
        "cidrnetmask": _cidrnetmask,
        "cidrsubnet": _cidrsubnet,
        "cidrsubnets": _cidrsubnets,
        "coalesce": _coalesce,
        "coalescelist": _coalescelist,
        "compact": _compact,
        "concat": _concat,
        "contains": _contains,
        "convert": convert_function,
        "csvdecode": _csvdecode,
        "distinct": _distinct,
        "element": _element,
        "flatten": _flatten,
        "floor": lambda n: math.floor(_num(n)),
        "format": _format,
        "formatdate": _formatdate,
        "formatlist": _formatlist,
        "indent": _indent,
        "index": _index_of,
        "join": _join,
        "jsondecode": _jsondecode,
        "jsonencode": _json_text,
        "keys": _keys,
        "length": _length,
        "log": _log,
        "lookup": _lookup,
        "lower": lambda s: _str(s).lower(),
        "max": _max,
        "md5": _digest("md5"),
        "merge": _merge,
        "min": _min,
        "parseint": _parseint,
        "pow": lambda a, b: _whole(math.pow(_num(a), _num(b))),
        "range": _range,
        "reverse": _reverse,
        "replace": _replace,
        "regex_replace": _regex_replace,
        "rsadecrypt": _unavailable("rsadecrypt", "nomadlab ships no RSA implementation"),
        "setintersection": _setintersection,
        "setproduct": _setproduct,
        "setunion": _setunion,
        "sha1": _digest("sha1"),
        "sha256": _digest("sha256"),
        "sha512": _digest("sha512"),
        "signum": _signum,
        "slice": _slice,
        "sort": _sort,
        "split": _split,
        "strlen": lambda s: len(_str(s)),
        "strrev": lambda s: _str(s)[::-1],
        "substr": _substr,
        "timeadd": _timeadd,
        "title": _title,
        "trim": _trim,
        "trimprefix": lambda s, p: _str(s)[len(_str(p)):] if _str(s).startswith(_str(p))
        else _str(s),
        "trimspace": lambda s: _str(s).strip(),
        "trimsuffix": lambda s, p: _str(s)[:-len(_str(p))] if _str(p) and
        _str(s).endswith(_str(p)) else _str(s),
        "try": _try,
        "upper": lambda s: _str(s).upper(),
        "urlencode": lambda s: urllib.parse.quote(_str(s), safe=""),
        "uuidv4": lambda: str(uuid.uuid4()),
        "uuidv5": _uuidv5,
        "values": _values,
        "yamldecode": _yamldecode,
        "yamlencode": _yamlencode,
        "zipmap": _zipmap,
        "abspath": files.abspath,
        "basename": files.basename,
        "dirname": files.dirname,
        "file": files.file,
        "filebase64": files.filebase64,
        "fileexists": files.fileexists,
        "fileset": files.fileset,
        "pathexpand": files.pathexpand,
    }
