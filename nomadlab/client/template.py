"""Render a task's ``template`` blocks: the part of consul-template that needs no Consul.

nomadlab has no Consul, Vault or Nomad variables, so the renderer understands only what
makes sense without them, with Go ``text/template``'s own lexing rules:

* ``{{ env "NAME" }}`` looks the name up in the task's environment and, as Nomad allows,
  among the node's values (``env "node.unique.name"``, ``env "attr.kernel.name"``,
  ``env "meta.rack"``); an unknown name renders as the empty string, like consul-template;
* ``{{ "literal" }}`` prints the literal;
* ``{{ range nomadService "name" }}{{ .Address }}:{{ .Port }}{{ end }}`` ranges over the
  instances of a Nomad service (``"tag.name"`` keeps those with the tag), and
  ``{{ range nomadServices }}{{ .Name }} {{ .Tags }}{{ end }}`` over the services of the
  job's namespace, with ``{{ else }}`` for none and ``{{ range .Tags }}`` inside; the
  template is rendered once, when the task starts (a later change of the service does
  not render it again: nomadlab's client does not watch templates);
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
from typing import Any, Mapping, Optional, Protocol

from ..structs import Node, ServiceRegistration, Task, Template
from .interpolate import node_attributes, replace_env

__all__ = ["TemplateError", "render_template", "write_templates", "render_text", "parse_env",
           "template_env", "ServiceCatalog"]

_SPACE = " \t\r\n"
_CONTROL = {"if", "else", "end", "range", "with", "define", "template", "block", "break",
            "continue"}
_CONSUL = {"key", "keyExists", "keyOrDefault", "ls", "safeLs", "tree", "safeTree", "service",
           "services", "connect", "caLeaf", "caRoots", "node", "nodes", "datacenters",
           "partitions", "peerings"}
_VAULT = {"secret", "secrets", "pkiCert"}
_NOMAD_VARIABLES = {"nomadVar", "nomadVarList", "nomadVarListSafe", "nomadVarExists"}
_NOMAD_SERVICES = {"nomadService", "nomadServices"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


class TemplateError(Exception):
    """A template could not be rendered or placed; the message names template and line."""


class ServiceCatalog(Protocol):
    """The Nomad services a template may read (those of the task's namespace)."""

    def service_registrations(self, namespace: Optional[str] = None
                              ) -> list[ServiceRegistration]: ...


def _service_fields(reg: ServiceRegistration) -> dict[str, Any]:
    """A registration as consul-template's NomadService shows it to a template."""
    return {"ID": reg.id, "Name": reg.service_name, "Namespace": reg.namespace,
            "NodeID": reg.node_id, "Datacenter": reg.datacenter, "JobID": reg.job_id,
            "AllocID": reg.alloc_id, "Tags": list(reg.tags), "Address": reg.address,
            "Port": reg.port}


def _go_format(value: Any) -> str:
    """How Go's text/template prints a value: a list as ``[a b]``."""
    if isinstance(value, list):
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    return str(value)


@dataclass
class _Token:
    kind: str  # "string" or "word"
    text: str


class _Renderer:
    """One pass over a template's text, Go ``text/template`` lexing, our small evaluator."""

    def __init__(self, text: str, lookup: Mapping[str, str], name: str, left: str,
                 right: str, catalog: Optional[ServiceCatalog] = None,
                 namespace: str = "default") -> None:
        self.text, self.lookup, self.name = text, lookup, name
        self.left, self.right = left, right
        self.catalog, self.namespace = catalog, namespace

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
        nodes, _, _ = self.parse(self.scan(), 0, None)
        return self.run(nodes, None)

    def scan(self) -> list[tuple[Any, ...]]:
        """The text as ``("text", chunk)`` and ``("action", position, tokens)`` items."""
        t, items, pos, trim_next = self.text, [], 0, False
        while True:
            start = t.find(self.left, pos)
            chunk = t[pos:] if start < 0 else t[pos:start]
            if trim_next:
                chunk = chunk.lstrip(_SPACE)
            if start < 0:
                items.append(("text", chunk))
                return items
            inner = start + len(self.left)
            if t[inner:inner + 1] == "-" and t[inner + 1:inner + 2] in tuple(_SPACE):
                chunk = chunk.rstrip(_SPACE)
                inner += 2
            items.append(("text", chunk))
            if t.startswith("/*", inner):
                pos, trim_next = self.comment(start, inner)
            else:
                tokens, pos, trim_next = self.action(start, inner)
                items.append(("action", start, tokens))

    def parse(self, items: list[tuple[Any, ...]], i: int, inside: Optional[int]
              ) -> tuple[list[tuple[Any, ...]], int, str]:
        """Nest ``range ... [else ...] end``; returns (nodes, index reached, the word
        that ended them: "else", "end" or "" at the end of the text)."""
        nodes: list[tuple[Any, ...]] = []
        while i < len(items):
            item = items[i]
            head = _head(item[2]) if item[0] == "action" else ""
            if head in _CONTROL - {"range", "else", "end"}:
                raise self.fail(item[1], f"{{{{ {head} }}}} is not supported by nomadlab's "
                                         "template renderer (it renders env lookups, literals, "
                                         "comments and ranges over Nomad services)")
            if head in ("else", "end"):
                if inside is None:
                    raise self.fail(item[1], f"{{{{ {head} }}}} is not supported outside a "
                                             "range by nomadlab's template renderer")
                return nodes, i, head
            if head == "range":
                self.range_form(item[1], item[2][1:])
                body, i, word = self.parse(items, i + 1, item[1])
                other: list[tuple[Any, ...]] = []
                if word == "else":
                    other, i, word = self.parse(items, i + 1, item[1])
                    if word != "end":
                        raise self.fail(item[1], "range has more than one {{ else }}")
                nodes.append(("range", item[1], item[2][1:], body, other))
            else:
                nodes.append(item)
            i += 1
        if inside is not None:
            raise self.fail(inside, "unexpected end of template: the range has no {{ end }}")
        return nodes, i, ""

    def range_form(self, start: int, tokens: list[_Token]) -> None:
        if not tokens:
            raise self.fail(start, "missing value for range")
        if any(tok.kind == "word" and (tok.text.startswith("$") or tok.text == ":=")
               for tok in tokens):
            raise self.fail(start, "{{ range }} is not supported with variables by "
                                   "nomadlab's template renderer")

    def run(self, nodes: list[tuple[Any, ...]], dot: Any) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "action":
                out.append(self.evaluate(node[1], node[2], dot))
            else:
                _, start, tokens, body, other = node
                elements = self.sequence(start, tokens, dot)
                if elements:
                    out.extend(self.run(body, element) for element in elements)
                else:
                    out.append(self.run(other, dot))
        return "".join(out)

    def sequence(self, start: int, tokens: list[_Token], dot: Any) -> list[Any]:
        """What a ``range`` ranges over."""
        words = " ".join(tok.text for tok in tokens)
        head = _head(tokens)
        if head in _NOMAD_SERVICES:
            return self.services(start, head, tokens[1:])
        if head.startswith(".") and len(tokens) == 1:
            value = self.field(start, head, dot)
            if not isinstance(value, list):
                raise self.fail(start, f"range can't iterate over {head}")
            return value
        reason = ""
        if head in _CONSUL:
            reason = f": {head!r} needs Consul, which is not available in nomadlab"
        raise self.fail(start, f"{{{{ range {words} }}}} is not supported{reason} "
                               "(nomadlab ranges over nomadService, nomadServices and fields)")

    def services(self, start: int, word: str, args: list[_Token]) -> list[dict[str, Any]]:
        """``nomadService "[tag.]name"`` or ``nomadServices``, from the service catalog."""
        if self.catalog is None:
            raise self.fail(start, f"{word!r} needs the cluster's services, which this "
                                   "rendering was not given")
        regs = self.catalog.service_registrations(self.namespace)
        if word == "nomadServices":
            if args:
                raise self.fail(start, "nomadServices takes no arguments here")
            tags: dict[str, set[str]] = {}
            for reg in regs:
                tags.setdefault(reg.service_name, set()).update(reg.tags)
            return [{"Name": name, "Tags": sorted(t)} for name, t in sorted(tags.items())]
        if len(args) != 1 or args[0].kind != "string":
            raise self.fail(start, 'nomadService takes one quoted name: nomadService "name" '
                                   '(the choose-by-key form is not supported by nomadlab)')
        query, _, region = args[0].text.partition("@")
        if region and region != "global":
            raise self.fail(start, f'nomadService "{args[0].text}": region "{region}" is '
                                   'not this cluster\'s ("global")')
        tag, _, name = query.rpartition(".")
        return [_service_fields(r) for r in regs
                if r.service_name == name and (not tag or tag in r.tags)]

    def field(self, start: int, word: str, dot: Any) -> Any:
        if dot is None:
            raise self.fail(start, f"{{{{ {word} }}}} is not supported outside a range by "
                                   "nomadlab's template renderer")
        if word == ".":
            return dot
        if not isinstance(dot, dict) or word[1:] not in dot:
            raise self.fail(start, f"can't evaluate field {word[1:]}")
        return dot[word[1:]]

    def comment(self, start: int, inner: int) -> tuple[int, bool]:
        close = self.text.find("*/", inner + 2)
        if close < 0:
            raise self.fail(start, "unclosed comment")
        found, after, trim = self.at_right(close + 2)
        if not found:
            raise self.fail(start, "comment ends before closing delimiter")
        return after, trim

    def action(self, start: int, pos: int) -> tuple[list[_Token], int, bool]:
        t, tokens = self.text, []
        while True:
            found, after, trim = self.at_right(pos)
            if found:
                return tokens, after, trim
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

    def evaluate(self, start: int, tokens: list[_Token], dot: Any = None) -> str:
        if not tokens:
            raise self.fail(start, "missing value for command")
        head = tokens[0]
        if head.kind == "string" and len(tokens) == 1:
            return head.text
        word = head.text if head.kind == "word" else ""
        if word.startswith(".") and len(tokens) == 1:
            return _go_format(self.field(start, word, dot))
        if word in _NOMAD_SERVICES:
            raise self.fail(start, f"{word!r} gives a list: range over it, as in "
                                   f'{{{{ range {word}{"" if word.endswith("s") else " ..."} }}}}'
                                   "...{{ end }}")
        if word in _CONTROL:
            raise self.fail(start, f"{{{{ {word} }}}} is not supported by nomadlab's template "
                                   "renderer (it renders env lookups, literals and comments)")
        if word in _CONSUL:
            raise self.fail(start, f"{word!r} needs Consul, which is not available in nomadlab")
        if word in _VAULT:
            raise self.fail(start, f"{word!r} needs Vault, which is not available in nomadlab")
        if word in _NOMAD_VARIABLES:
            raise self.fail(start, f"{word!r} reads Nomad variables, which nomadlab's "
                                   "template renderer does not support")
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
                left_delim: Optional[str] = None, right_delim: Optional[str] = None,
                catalog: Optional[ServiceCatalog] = None, namespace: str = "default") -> str:
    """Render template ``text`` with ``env`` reading from ``lookup`` and ``nomadService``
    from ``catalog`` (the services of ``namespace``)."""
    return _Renderer(text, lookup, name, left_delim or "{{", right_delim or "}}", catalog,
                     namespace).render()


def _head(tokens: list[_Token]) -> str:
    return tokens[0].text if tokens and tokens[0].kind == "word" else ""


def _escapes(path: str, roots: list[str]) -> bool:
    """Nomad's ``checkEscape``: outside every one of the (lexical) sandbox roots."""
    return not any(os.path.relpath(path, root).split(os.sep)[0] != ".." for root in roots)


def _escapes_resolved(path: str, roots: list[str]) -> bool:
    """Outside every root once symlinks are followed: a task can plant a link in its own
    directory, and the client (often root) must not read or write through it (Nomad's
    template sandbox resolves links for the same reason)."""
    return _escapes(os.path.realpath(path), [os.path.realpath(r) for r in roots])


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
                    task_dir: str, catalog: Optional[ServiceCatalog] = None,
                    namespace: str = "default") -> tuple[str, str]:
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
    if escapes or _escapes_resolved(dest, roots):
        raise TemplateError(f"template {name!r}: destination {dest!r} escapes the task "
                            "and alloc directories")
    if template.source_path and template.embedded_tmpl:
        raise TemplateError(f"template {name!r}: give either source or data, not both")
    if template.source_path:
        src, escapes = _client_path(template.source_path, lookup, task_dir, roots,
                                    join_escape=False)
        if escapes or _escapes_resolved(src, roots):
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
                             right_delim=template.right_delim, catalog=catalog,
                             namespace=namespace)


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


def write_templates(task: Task, env: Mapping[str, str], node: Node, task_dir: str,
                    catalog: Optional[ServiceCatalog] = None,
                    namespace: str = "default") -> list[str]:
    """Render and write every template of ``task``; the absolute paths written, in order.

    Every template is rendered before any file is written, so one bad template leaves no
    half-written set behind.
    """
    rendered = [(render_template(t, env, node, task_dir, catalog, namespace), _mode(t))
                for t in task.templates]
    roots = [os.path.abspath(task_dir)]
    alloc_dir = env.get("NOMAD_ALLOC_DIR", "")
    if os.path.isabs(alloc_dir):
        roots.append(os.path.normpath(alloc_dir))
    written = []
    for (dest, text), mode in rendered:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if _escapes_resolved(os.path.dirname(dest), roots):  # a link planted since rendering
            raise TemplateError(f"destination {dest!r} escapes the task and alloc directories")
        # O_NOFOLLOW: never write through a link the task put at the destination
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            os.fchmod(f.fileno(), mode)
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
