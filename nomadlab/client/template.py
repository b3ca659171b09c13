"""Render a task's ``template`` blocks: the part of consul-template that needs no Consul.

nomadlab has no Consul, Vault or Nomad variables, so the renderer understands only what
makes sense without them, with Go ``text/template``'s own lexing rules:

* ``{{ env "NAME" }}`` looks the name up in the task's environment and, as Nomad allows,
  among the node's values (``env "node.unique.name"``, ``env "attr.kernel.name"``,
  ``env "meta.rack"``); an unknown name renders as the empty string, like consul-template;
* ``{{ "literal" }}`` prints the literal;
* comments ``{{/* ... */}}`` and trim markers ``{{- `` / `` -}}``, with custom delimiters;
* anything else is a :class:`TemplateError` naming the template and line: Consul, Vault and
  Nomad lookups say which service is missing, control structures say they are unsupported.

Paths follow Nomad's ``TaskEnv.ClientPath``: ``${...}`` is interpolated, a relative path
is relative to the task directory, an absolute destination outside the sandbox is joined
under the task directory, and a result outside both the task directory and the shared
alloc directory (``NOMAD_ALLOC_DIR``) is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ..structs import Node, Task, Template
from .interpolate import node_attributes, replace_env

__all__ = ["TemplateError", "render_template", "write_templates", "render_text", "parse_env",
           "template_env"]

_SPACE = " \t\r\n"
_CONTROL = {"if", "else", "end", "range", "with", "define", "template", "block", "break",
            "continue"}
_CONSUL = {"key", "keyExists", "keyOrDefault", "ls", "safeLs", "tree", "safeTree", "service",
           "services", "connect", "caLeaf", "caRoots", "node", "nodes", "datacenters",
           "partitions", "peerings"}
_VAULT = {"secret", "secrets", "pkiCert"}
_NOMAD = {"nomadService", "nomadServices", "nomadVar", "nomadVarList", "nomadVarListSafe",
          "nomadVarExists"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


class TemplateError(Exception):
    """A template could not be rendered or placed; the message names template and line."""


@dataclass
class _Token:
    kind: str  # "string" or "word"
    text: str


class _Renderer:
    """One pass over a template's text, Go ``text/template`` lexing, our small evaluator."""

    def __init__(self, text: str, lookup: Mapping[str, str], name: str, left: str,
                 right: str) -> None:
        self.text, self.lookup, self.name = text, lookup, name
        self.left, self.right = left, right

    def fail(self, pos: int, message: str) -> TemplateError:
        line = self.text.count("\n", 0, pos) + 1
        return TemplateError(f"template {self.name!r} line {line}: {message}")

    def at_right(self, pos: int) -> tuple[bool, int, bool]:
        """``(at a right delimiter, position after it, trims following space)``."""
        t = self.text
        if (pos + 1 < len(t) and t[pos] in _SPACE and t[pos + 1] == "-"
                and t.startswith(self.right, pos + 2)):
            return True, pos + 2 + len(self.right), True
        if t.startswith(self.right, pos):
            return True, pos + len(self.right), False
        return False, pos, False

    def render(self) -> str:
        t, out, pos, trim_next = self.text, [], 0, False
        while True:
            start = t.find(self.left, pos)
            chunk = t[pos:] if start < 0 else t[pos:start]
            if trim_next:
                chunk = chunk.lstrip(_SPACE)
            if start < 0:
                out.append(chunk)
                return "".join(out)
            inner = start + len(self.left)
            if t[inner:inner + 1] == "-" and t[inner + 1:inner + 2] in tuple(_SPACE):
                chunk = chunk.rstrip(_SPACE)
                inner += 2
            out.append(chunk)
            if t.startswith("/*", inner):
                pos, trim_next = self.comment(start, inner)
            else:
                value, pos, trim_next = self.action(start, inner)
                out.append(value)

    def comment(self, start: int, inner: int) -> tuple[int, bool]:
        close = self.text.find("*/", inner + 2)
        if close < 0:
            raise self.fail(start, "unclosed comment")
        found, after, trim = self.at_right(close + 2)
        if not found:
            raise self.fail(start, "comment ends before closing delimiter")
        return after, trim

    def action(self, start: int, pos: int) -> tuple[str, int, bool]:
        t, tokens = self.text, []
        while True:
            found, after, trim = self.at_right(pos)
            if found:
                return self.evaluate(start, tokens), after, trim
            if pos >= len(t):
                raise self.fail(start, "unclosed action")
            c = t[pos]
            if c in _SPACE:
                pos += 1
            elif c == '"':
                value, pos = self.quoted(start, pos)
                tokens.append(_Token("string", value))
            elif c == "`":
                close = t.find("`", pos + 1)
                if close < 0:
                    raise self.fail(start, "unterminated raw quoted string")
                tokens.append(_Token("string", t[pos + 1:close]))
                pos = close + 1
            elif c in "|()":
                tokens.append(_Token("word", c))
                pos += 1
            else:
                end = pos
                while (end < len(t) and t[end] not in _SPACE + '"`|()'
                       and not t.startswith(self.right, end)):
                    end += 1
                tokens.append(_Token("word", t[pos:end]))
                pos = end

    def quoted(self, start: int, pos: int) -> tuple[str, int]:
        t, chars, pos = self.text, [], pos + 1
        while pos < len(t) and t[pos] not in '"\n':
            if t[pos] == "\\" and pos + 1 < len(t):
                if t[pos + 1] not in _ESCAPES:
                    raise self.fail(start, f"unknown escape sequence \\{t[pos + 1]}")
                chars.append(_ESCAPES[t[pos + 1]])
                pos += 2
            else:
                chars.append(t[pos])
                pos += 1
        if pos >= len(t) or t[pos] != '"':
            raise self.fail(start, "unterminated quoted string")
        return "".join(chars), pos + 1

    def evaluate(self, start: int, tokens: list[_Token]) -> str:
        if not tokens:
            raise self.fail(start, "missing value for command")
        head = tokens[0]
        if head.kind == "string" and len(tokens) == 1:
            return head.text
        word = head.text if head.kind == "word" else ""
        if word in _CONTROL:
            raise self.fail(start, f"{{{{ {word} }}}} is not supported by nomadlab's template "
                                   "renderer (it renders env lookups, literals and comments)")
        if word in _CONSUL:
            raise self.fail(start, f"{word!r} needs Consul, which is not available in nomadlab")
        if word in _VAULT:
            raise self.fail(start, f"{word!r} needs Vault, which is not available in nomadlab")
        if word in _NOMAD:
            raise self.fail(start, f"{word!r} reads Nomad services or variables, which "
                                   "nomadlab's template renderer does not support")
        if any(tok.kind == "word" and tok.text == "|" for tok in tokens):
            raise self.fail(start, "pipelines are not supported by nomadlab's template "
                                   "renderer")
        if word == "env":
            if len(tokens) != 2 or tokens[1].kind != "string":
                raise self.fail(start, 'env takes one quoted name: {{ env "NAME" }}')
            return self.lookup.get(tokens[1].text, "")
        raise self.fail(start, f"{' '.join(tok.text for tok in tokens)!r} is not supported "
                               "by nomadlab's template renderer (it renders env lookups, "
                               "literals and comments)")


def render_text(text: str, lookup: Mapping[str, str], *, name: str = "template",
                left_delim: Optional[str] = None, right_delim: Optional[str] = None) -> str:
    """Render template ``text`` with ``env`` reading from ``lookup``."""
    return _Renderer(text, lookup, name, left_delim or "{{", right_delim or "}}").render()


def _escapes(path: str, roots: list[str]) -> bool:
    """Nomad's ``checkEscape``: outside every one of the (lexical) sandbox roots."""
    return not any(os.path.relpath(path, root).split(os.sep)[0] != ".." for root in roots)


def _client_path(raw: str, lookup: Mapping[str, str], task_dir: str, roots: list[str],
                 join_escape: bool) -> tuple[str, bool]:
    """Nomad's ``TaskEnv.ClientPath``: ``(absolute path, escapes the sandbox)``.

    Like Go's ``filepath.Join``, joining an absolute path puts it under ``task_dir``.
    """
    path = replace_env(raw, lookup)
    if not os.path.isabs(path) or (join_escape and _escapes(path, roots)):
        path = os.path.join(task_dir, path.lstrip(os.sep))
    path = os.path.normpath(path)
    return path, _escapes(path, roots)


def render_template(template: Template, env: Mapping[str, str], node: Node,
                    task_dir: str) -> tuple[str, str]:
    """``(absolute destination, rendered text)`` for one template of a task.

    ``task_dir`` is the task's root (``<alloc>/<task>``, holding ``local/`` and
    ``secrets/``); ``source`` and ``destination`` are relative to it.
    """
    name = template.dest_path or template.source_path or "template"
    task_dir = os.path.abspath(task_dir)
    roots = [task_dir]
    alloc_dir = env.get("NOMAD_ALLOC_DIR", "")
    if os.path.isabs(alloc_dir):
        roots.append(os.path.normpath(alloc_dir))
    lookup = {**env, **node_attributes(node, env.get("NOMAD_REGION") or None)}
    if not template.dest_path:
        raise TemplateError(f"template {name!r}: a destination is required")
    dest, escapes = _client_path(template.dest_path, lookup, task_dir, roots, join_escape=True)
    if escapes:
        raise TemplateError(f"template {name!r}: destination {dest!r} escapes the task "
                            "and alloc directories")
    if template.source_path and template.embedded_tmpl:
        raise TemplateError(f"template {name!r}: give either source or data, not both")
    if template.source_path:
        src, escapes = _client_path(template.source_path, lookup, task_dir, roots,
                                    join_escape=False)
        if escapes:
            raise TemplateError(f"template {name!r}: source {src!r} escapes the task and "
                                "alloc directories")
        try:
            with open(src, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise TemplateError(f"template {name!r}: cannot read source {src!r}: "
                                f"{e.strerror}") from e
    elif template.embedded_tmpl is not None:
        text = template.embedded_tmpl
    else:
        raise TemplateError(f"template {name!r}: needs a source or data")
    return dest, render_text(text, lookup, name=name, left_delim=template.left_delim,
                             right_delim=template.right_delim)


def _mode(template: Template) -> int:
    perms = template.perms or "0644"
    try:
        mode = int(perms, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise TemplateError(f"template {template.dest_path!r}: perms {perms!r} is not an "
                            "octal file mode")
    return mode


def write_templates(task: Task, env: Mapping[str, str], node: Node, task_dir: str) -> list[str]:
    """Render and write every template of ``task``; the absolute paths written, in order.

    Every template is rendered before any file is written, so one bad template leaves no
    half-written set behind.
    """
    rendered = [(render_template(t, env, node, task_dir), _mode(t)) for t in task.templates]
    written = []
    for (dest, text), mode in rendered:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(dest, mode)
        written.append(dest)
    return written


def _env_value(raw: str) -> str:
    """One value of go-envparse: quotes, escapes in double quotes, trailing ``#`` comments."""
    out: list[str] = []
    last = 0  # length of ``out`` up to its last significant character
    mode = "normal"
    for c in raw:
        if ord(c) < 32:
            raise ValueError(f"0x{ord(c):02x} is an invalid value character")
        if mode == "normal":
            if c == '"':
                mode = "double"
            elif c == "'":
                mode = "single"
            elif c == "#":
                return "".join(out[:last])
            else:
                out.append(c)
                if c not in " \t":
                    last = len(out)
        elif mode == "double":
            if c == '"':
                mode = "normal"
            elif c == "\\":
                mode = "escape"
            else:
                out.append(c)
                last = len(out)
        elif mode == "escape":
            escaped = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}.get(c)
            if escaped is None:
                raise ValueError(f"invalid escape sequence: {c}")
            out.append(escaped)
            last = len(out)
            mode = "double"
        else:  # single quotes: everything is literal
            if c == "'":
                mode = "normal"
            else:
                out.append(c)
                last = len(out)
    if mode == "double":
        raise ValueError('unmatched "')
    if mode == "single":
        raise ValueError("unmatched '")
    if mode == "escape":
        raise ValueError("incomplete escape sequence")
    return "".join(out)


def parse_env(text: str) -> dict[str, str]:
    """``KEY=value`` lines as Nomad reads an ``env = true`` template (go-envparse).

    Empty lines are skipped; key and value are trimmed, ``export `` is dropped from the
    key; a value may be single-quoted (literal) or double-quoted (``\\n \\t \\" \\\\``);
    an unquoted ``#`` starts a comment. Anything else is a ValueError naming the line.
    """
    env: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        try:
            if "=" not in line:
                raise ValueError('missing "="')
            key, value = (part.strip() for part in line.split("=", 1))
            key = key.removeprefix("export ")
            if not key:
                raise ValueError("empty key")
            if not (key[0].isascii() and (key[0].isalpha() or key[0] == "_")):
                raise ValueError(f"key must start with [A-Za-z_] but found {key[0]!r}")
            env[key] = _env_value(value)
        except ValueError as err:
            raise ValueError(f"error on line {number}: {err}") from None
    return env


def template_env(task: Task, env: Mapping[str, str], task_dir: str) -> dict[str, str]:
    """The variables the task's ``env = true`` templates add to its environment.

    Read from the rendered files at every start of the task, as Nomad's template hook
    does, so a restart after a template re-rendered (``change_mode = "restart"``) sees
    the new values; later templates win over earlier ones.
    """
    out: dict[str, str] = {}
    task_dir = os.path.abspath(task_dir)
    roots = [task_dir]
    if os.path.isabs(env.get("NOMAD_ALLOC_DIR", "")):
        roots.append(os.path.normpath(env["NOMAD_ALLOC_DIR"]))
    for template in task.templates:
        if not template.envvars or not template.dest_path:
            continue
        dest, _ = _client_path(template.dest_path, env, task_dir, roots, join_escape=True)
        try:
            with open(dest, encoding="utf-8") as f:
                out.update(parse_env(f.read()))
        except (OSError, ValueError) as err:
            raise TemplateError(f"error parsing env template {template.dest_path!r}: {err}") \
                from None
    return out
