"""HCL items -> Nomad API JSON (a plain dict), with the position of every key kept.

The decoder walks the positional tree (pyhcl's for HCL1, :mod:`.hcl2_job`'s for HCL2)
against :mod:`.schema`, converts each value
to its kind (durations to nanoseconds, numbers to strings in maps, ...), and collects
every problem instead of stopping at the first.  Positions are recorded per API path
(``("TaskGroups", 0, "Tasks", 1, "Resources", "MemoryMB")``) so that problems found
later, by validation on the Job struct, still point at a line.
"""

from __future__ import annotations

import difflib
from typing import Any, Optional

from ..structs.duration import parse_duration
from .hcl import Body, Item, Key
from .schema import JOB_FILE, Attr, Block, Spec

__all__ = ["Decoder", "Path", "Position"]

Path = tuple[Any, ...]
Position = tuple[int, int]

# Parts of Nomad's job specification that nomadlab does not model, with why.
UNSUPPORTED = {
    "variable": "input variables are HCL2, and this spec is read as HCL1 (-hcl1); drop -hcl1",
    "locals": "locals are HCL2, and this spec is read as HCL1 (-hcl1); drop -hcl1",
    "dynamic": "dynamic blocks are HCL2, and this spec is read as HCL1 (-hcl1); drop -hcl1",
    "vault": "nomadlab runs no Vault; remove the vault block for the lab",
    "consul": "nomadlab runs no Consul; remove the consul block for the lab",
    "identity": "workload identities are not modelled by nomadlab",
    "scaling": "autoscaling policies are not modelled by nomadlab",
    "csi_plugin": "CSI plugins are not modelled by nomadlab",
    "multiregion": "multi-region jobs are not modelled by nomadlab",
    "vault_token": "nomadlab runs no Vault",
    "consul_token": "nomadlab runs no Consul",
    "connect": "Consul Connect is not modelled by nomadlab",
    "numa": "NUMA-aware scheduling is not modelled by nomadlab",
}

_CONSTRAINT_SHORTHANDS = ("version", "semver", "regexp", "set_contains", "set_contains_any",
                          "set_contains_all")


def _kind_word(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Body):
        return "a block"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Body):
        return "{ ... }"
    return repr(value)


class Decoder:
    """Decodes one job file; read ``problems`` and ``positions`` after :meth:`decode`."""

    def __init__(self, hcl2: bool = False) -> None:
        #: HCL2 keeps ``distinct_hosts = <bool>`` as RTarget "true"/"false" (jobspec2);
        #: HCL1 drops ``distinct_hosts = false`` and leaves RTarget empty (jobspec).
        self.hcl2 = hcl2
        self.problems: list[tuple[Optional[Position], Path, str]] = []
        #: Paths whose validation problems would only repeat a decode problem (a value
        #: already reported, or the key a misspelling was probably meant to be).
        self.reported: list[Path] = []
        self.positions: dict[Path, Position] = {}

    # -- entry point -------------------------------------------------------------------

    def decode(self, body: Body) -> Optional[dict[str, Any]]:
        """The Job's API dict, or None when there is no usable job block."""
        jobs = [item for item in body if str(item.key) == "job"]
        for item in body:
            if str(item.key) != "job":
                self._unknown(item, JOB_FILE, "the file", ())
        if not jobs:
            self._problem(None, (), 'no job found: a job spec is one block, job "<name>" { ... }')
            return None
        for extra in jobs[1:]:
            self._problem(extra.key, (), f"only one job may be defined per file; the first is on "
                                         f"line {jobs[0].line}")
        item = jobs[0]
        block = JOB_FILE["job"]
        assert isinstance(block, Block)
        if not isinstance(item.value, Body):
            self._problem(item.key, (), 'job must be a block: job "<name>" { ... }')
            return None
        if len(item.labels) != 1:
            self._problem(item.key, (), f'job needs exactly one label, its ID: job "<name>" {{ ... }}'
                                        f" (found {len(item.labels)})")
            return None
        return self._object(item, block, ())

    # -- blocks ------------------------------------------------------------------------

    def _object(self, item: Item, block: Block, path: Path) -> Optional[dict[str, Any]]:
        assert block.spec is not None
        self.positions[path] = (item.line, item.column)
        out: dict[str, Any] = {}
        if block.label:
            out[block.label] = str(item.labels[0])
            self.positions[path + (block.label,)] = (item.labels[0].line, item.labels[0].column)
        where = f'{item.key} "{item.labels[0]}"' if item.labels else str(item.key)
        self._body(item.value, block.spec, path, where, out)
        return out if self._shorthands(block, out, path) else None

    def _body(self, body: Body, spec: Spec, path: Path, where: str, out: dict[str, Any]) -> None:
        seen: dict[str, Item] = {}
        for item in body:
            name = str(item.key)
            entry = spec.get(name)
            if entry is None:
                self._unknown(item, spec, where, path)
                continue
            if isinstance(entry, Block):
                self._block(item, entry, path, seen, out)
            elif self._attribute(item, entry, path, seen):
                value = self._convert(item.value, entry.kind, item.key, path + (entry.api,))
                if value is not None:
                    out[entry.api] = value

    def _attribute(self, item: Item, entry: Attr, path: Path, seen: dict[str, Item]) -> bool:
        """Record the attribute's position and misuse; True when it has a value to convert."""
        name = str(item.key)
        self.positions[path + (entry.api,)] = (item.line, item.column)
        if item.is_block:
            self._problem(item.key, path + (entry.api,),
                          f"{name} is an attribute, not a block: write {name} = ...")
        elif name in seen:
            self._problem(item.key, path + (entry.api,),
                          f"{name} is set twice; the first is on line {seen[name].line}")
        seen[name] = item
        return not item.is_block

    def _block(self, item: Item, entry: Block, path: Path, seen: dict[str, Item],
               out: dict[str, Any]) -> None:
        name = str(item.key)
        if not isinstance(item.value, Body):
            self._problem(item.key, path + (entry.api,),
                          f"{name} must be a block: {self._example(name, entry)},"
                          f" not {_kind_word(item.value)}")
            return
        wanted = 1 if entry.label else 0
        if len(item.labels) != wanted:
            if wanted:
                self._problem(item.key, path + (entry.api,),
                              f"{name} needs a label: {self._example(name, entry)}")
            else:
                self._problem(item.labels[0], path + (entry.api,),
                              f"{name} takes no label: write {name} {{ ... }}, "
                              f'not {name} "{item.labels[0]}" {{ ... }}')
            return
        if not entry.many:
            if name in seen:
                self._problem(item.key, path + (entry.api,),
                              f"only one {name} block is allowed here; the first"
                              f" is on line {seen[name].line}")
                return
            seen[name] = item
            here = path + (entry.api,)
            if entry.kind == "object":
                out[entry.api] = self._object(item, entry, here)
            else:
                self.positions[here] = (item.line, item.column)
                out[entry.api] = self._free_form(item.value, entry.kind, here, name)
            return
        if entry.keyed:
            label = str(item.labels[0])
            mapping = out.setdefault(entry.api, {})
            if label in mapping:
                first = self.positions.get(path + (entry.api, label), (0, 0))[0]
                self._problem(item.labels[0], path + (entry.api, label),
                              f'{name} "{label}" is defined twice; the first is on line {first}')
                return
            mapping[label] = self._object(item, entry, path + (entry.api, label))
            return
        items = out.setdefault(entry.api, [])
        decoded = self._object(item, entry, path + (entry.api, len(items)))
        if decoded is not None:
            items.append(decoded)

    @staticmethod
    def _example(name: str, entry: Block) -> str:
        if entry.label:
            return f'{name} "<{entry.label.lower()}>" {{ ... }}'
        return f"{name} {{ ... }}"

    def _shorthands(self, block: Block, out: dict[str, Any], path: Path) -> bool:
        """Nomad's short forms: ``distinct_hosts = true``, ``version = ">= 1.2"``, ``port``.

        Returns False when the block means nothing and is dropped, as Nomad drops it."""
        if block.api in ("Constraints", "Affinities"):
            for short in _CONSTRAINT_SHORTHANDS:
                if short in out:
                    out["Operand"] = short
                    out["RTarget"] = out.pop(short)
                    self._moved(path, short, "RTarget")
            distinct_hosts = out.pop("distinct_hosts", None)
            if distinct_hosts is not None and self.hcl2:
                out["Operand"] = "distinct_hosts"
                out["RTarget"] = "true" if distinct_hosts else "false"
            elif distinct_hosts:
                out["Operand"] = "distinct_hosts"
            elif distinct_hosts is False and "LTarget" not in out:
                return False  # Nomad drops `distinct_hosts = false`
            if "distinct_property" in out:
                out["Operand"] = "distinct_property"
                out["LTarget"] = out.pop("distinct_property")
                self._moved(path, "distinct_property", "LTarget")
        elif block.api == "Networks" and "Ports" in out:
            ports = out.pop("Ports")
            for number, port in enumerate(ports):
                kind = "ReservedPorts" if port.get("Value") else "DynamicPorts"
                index = len(out.setdefault(kind, []))
                old = path + ("Ports", number)
                for key, pos in list(self.positions.items()):
                    if key[:len(old)] == old:
                        self.positions[path + (kind, index) + key[len(old):]] = pos
                out[kind].append(port)
        return True

    def _moved(self, path: Path, old: str, new: str) -> None:
        if path + (old,) in self.positions:
            self.positions[path + (new,)] = self.positions[path + (old,)]
            self.positions.setdefault(path + ("Operand",), self.positions[path + (old,)])

    # -- values ------------------------------------------------------------------------

    def _free_form(self, body: Body, kind: str, path: Path, name: str) -> Any:
        if kind == "any":
            return self._any(body, path)
        out: dict[str, Any] = {}
        for item in body:
            key = str(item.key)
            self.positions[path + (key,)] = (item.line, item.column)
            if item.is_block or isinstance(item.value, Body):
                self._problem(item.key, path + (key,),
                              f'{name} holds only key = value pairs; "{key}" is a block')
                continue
            if kind == "headers":
                values = item.value if isinstance(item.value, list) else [item.value]
                converted = [self._convert(v, "string", item.key, path + (key,)) for v in values]
                out[key] = [v for v in converted if v is not None]
            else:
                value = self._convert(item.value, "string", item.key, path + (key,))
                if value is not None:
                    out[key] = value
        return out

    def _any(self, value: Any, path: Path) -> Any:
        """A driver's ``config``: every nested block becomes a list of maps (Nomad's
        ``block_list``), a labelled one ``{label: [map]}``; ``key = { ... }`` stays a map."""
        if isinstance(value, list) and not isinstance(value, Body):
            return [self._any(v, path) for v in value]
        if not isinstance(value, Body):
            return value
        out: dict[str, Any] = {}
        for item in value:
            key = str(item.key)
            self.positions.setdefault(path + (key,), (item.line, item.column))
            converted = self._any(item.value, path + (key,))
            if not item.is_block:
                if key in out:
                    self._problem(item.key, path + (key,), f'"{key}" is set twice in config')
                out[key] = converted
                continue
            for label in reversed(item.labels):
                converted = {str(label): [converted]}
            out.setdefault(key, [])
            if isinstance(out[key], list):
                out[key].append(converted)
            else:
                self._problem(item.key, path + (key,), f'"{key}" is set twice in config')
        return out

    def _convert(self, value: Any, kind: str, key: Key, path: Path) -> Any:
        name = str(key)
        if kind == "string":
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            if isinstance(value, (int, float)):
                return str(value)
            if isinstance(value, str):
                return value
            self._problem(key, path, f"{name} must be a string, not {_kind_word(value)}")
        elif kind == "int":
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                return value
            elif isinstance(value, float) and value.is_integer():
                return int(value)
            elif isinstance(value, str):
                try:
                    return int(value.strip())
                except ValueError:
                    pass
            self._problem(key, path, f"{name} must be a whole number, not {_kind_word(value)}"
                                          f" {_show(value)}")
        elif kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value in ("true", "false"):
                return value == "true"
            self._problem(key, path, f"{name} must be true or false, not {_kind_word(value)}"
                                          f" {_show(value)}")
        elif kind == "duration":
            if isinstance(value, str):
                try:
                    return parse_duration(value)
                except ValueError as err:
                    self._problem(key, path, f"{name}: {err}; durations look like \"30s\", "
                                                  f"\"5m\" or \"1h30m\"")
                    return None
            self._problem(key, path, f'{name} must be a duration string such as "30s" or "5m",'
                                          f" not {_kind_word(value)} {_show(value)}")
        elif kind == "strings":
            if isinstance(value, list) and not isinstance(value, Body):
                items = [self._convert(v, "string", key, path + (i,)) for i, v in enumerate(value)]
                return [v for v in items if v is not None]
            example = f'["{value}"]' if isinstance(value, str) else '["a", "b"]'
            self._problem(key, path, f"{name} must be a list of strings, e.g. {name} = {example}")
        else:  # pragma: no cover - the schema uses only the kinds above
            raise AssertionError(kind)
        return None

    # -- problems ----------------------------------------------------------------------

    def _problem(self, key: Optional[Key], path: Path, message: str) -> None:
        position = (key.line, key.column) if key is not None and key.line else None
        self.problems.append((position, path, message))
        if path:
            self.reported.append(path)

    def _unknown(self, item: Item, spec: Spec, where: str, path: Path) -> None:
        name = str(item.key)
        if name in UNSUPPORTED:
            self._problem(item.key, path + (name,), f"{name} is not supported here: {UNSUPPORTED[name]}")
            return
        allowed = sorted(spec)
        message = f'unknown {"block" if item.is_block else "key"} "{name}" in {where}'
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean `{close[0]}`?"
            self.reported.append(path + (spec[close[0]].api,))
        elif name in ("group", "task") and spec is JOB_FILE:
            message += f"; a {name} goes inside a job block: job \"<name>\" {{ {name} ... }}."
        else:
            message += "."
        message += f" Allowed here: {', '.join(allowed)}."
        self._problem(item.key, path + (name,), message)
