"""HCL2 native syntax -> a tree of bodies, blocks, attributes and expressions, with positions.

A hand-written scanner and recursive-descent parser for the grammar in HCL's
``hclsyntax/spec.md``: bodies (attributes and blocks, one per line), and expressions
(literals, templates with ``${}``, ``%{ if }`` and ``%{ for }``, heredocs, operators,
conditionals, ``for`` expressions, splats, index and attribute access, function calls).
Every node keeps the line and column it starts at, and every expression keeps its source
span, so errors point at the spot and an unknown variable can be kept as written
(``${attr.kernel.name}``), as Nomad keeps it.  Why not a library: see README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

__all__ = ["HCL2SyntaxError", "parse_hcl2", "parse_expression", "Body", "Attribute", "Block",
           "Expr", "Literal", "Interpolation", "Template", "TemplateIf", "TemplateFor",
           "Variable", "GetAttr", "Index", "Splat", "Call", "TupleCons", "ObjectCons",
           "ForExpr", "Conditional", "Binary", "Unary", "Parens"]


@dataclass
class HCL2SyntaxError(Exception):
    """The text is not HCL2: what was found or expected, and where (1-based)."""

    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


# -- the tree -----------------------------------------------------------------------------

@dataclass(eq=False)
class Expr:
    line: int
    column: int
    start: int = field(default=0, repr=False)
    end: int = field(default=0, repr=False)


@dataclass(eq=False)
class Literal(Expr):
    value: Any = None


@dataclass(eq=False)
class TemplateIf(Expr):
    cond: Expr = None  # type: ignore[assignment]
    then: list = field(default_factory=list)
    otherwise: list = field(default_factory=list)


@dataclass(eq=False)
class TemplateFor(Expr):
    key_var: Optional[str] = None
    value_var: str = ""
    collection: Expr = None  # type: ignore[assignment]
    body: list = field(default_factory=list)


@dataclass(eq=False)
class Interpolation(Expr):
    """``${ inner }`` in a template; start/end cover the whole ``${...}`` as written."""

    inner: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Template(Expr):
    """``"a ${b}"`` or a heredoc: parts are str, Expr, TemplateIf or TemplateFor."""

    parts: list = field(default_factory=list)


@dataclass(eq=False)
class Variable(Expr):
    name: str = ""


@dataclass(eq=False)
class GetAttr(Expr):
    obj: Expr = None  # type: ignore[assignment]
    name: str = ""


@dataclass(eq=False)
class Index(Expr):
    obj: Expr = None  # type: ignore[assignment]
    key: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Splat(Expr):
    """``obj[*].rest`` / ``obj.*.rest``: ``each`` is applied to every element (as ``item``)."""

    obj: Expr = None  # type: ignore[assignment]
    each: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Call(Expr):
    name: str = ""
    args: list = field(default_factory=list)
    expand_final: bool = False


@dataclass(eq=False)
class TupleCons(Expr):
    items: list = field(default_factory=list)


@dataclass(eq=False)
class ObjectCons(Expr):
    """Items are (key, value); a bare-name key is a Literal string, as HCL reads it."""

    items: list = field(default_factory=list)


@dataclass(eq=False)
class ForExpr(Expr):
    key_var: Optional[str] = None
    value_var: str = ""
    collection: Expr = None  # type: ignore[assignment]
    key: Optional[Expr] = None
    value: Expr = None  # type: ignore[assignment]
    cond: Optional[Expr] = None
    group: bool = False


@dataclass(eq=False)
class Conditional(Expr):
    cond: Expr = None  # type: ignore[assignment]
    then: Expr = None  # type: ignore[assignment]
    otherwise: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Binary(Expr):
    op: str = ""
    left: Expr = None  # type: ignore[assignment]
    right: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Unary(Expr):
    op: str = ""
    operand: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Parens(Expr):
    inner: Expr = None  # type: ignore[assignment]


@dataclass(eq=False)
class Attribute:
    name: str
    expr: Expr
    line: int
    column: int


@dataclass(eq=False)
class Block:
    type: str
    labels: list  # [(label, line, column)]
    body: "Body"
    line: int
    column: int


@dataclass(eq=False)
class Body:
    items: list  # Attribute | Block, in source order
    line: int = 1
    column: int = 1
    source: str = field(default="", repr=False)

    def text(self, expr: Expr) -> str:
        """The source text of an expression, as written."""
        return self.source[expr.start:expr.end]


Item = Union[Attribute, Block]


# -- scanning ----------------------------------------------------------------------------

_IDENT = re.compile(r"[^\W\d][\w-]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"(?:[ \t\r]+|#[^\n]*|//[^\n]*|/\*.*?\*/)+", re.S)
_HEREDOC = re.compile(r"<<(-?)([^\W\d][\w-]*)[ \t]*\r?\n")
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "=>", "...", "{", "}", "[", "]", "(", ")",
              "=", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",")
_TOKEN_WORDS = {"NEWLINE": "a new line", "EOF": "the end of the file", "IDENT": "a name",
                "NUMBER": "a number", "STRING": "a string", "HEREDOC": "a heredoc"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_PRECEDENCE = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"),
               ("*", "/", "%")]


@dataclass
class Token:
    kind: str  # an operator itself, or IDENT, NUMBER, STRING, HEREDOC, NEWLINE, EOF
    text: str
    start: int
    end: int


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0
        self.peeked: Optional[Token] = None
        self.last_end = 0  # where the last consumed token ended: a re-scan starts there
        self.skip_newlines = [False]  # inside ( and [ newlines mean nothing
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", src)]

    # positions
    def where(self, offset: int) -> tuple[int, int]:
        import bisect
        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def error(self, message: str, offset: int) -> HCL2SyntaxError:
        line, column = self.where(offset)
        return HCL2SyntaxError(message, line, column)

    # tokens
    def _scan(self) -> Token:
        src, pos = self.src, self.pos
        while True:
            m = _SPACE.match(src, pos)
            if m:
                pos = m.end()
            if src.startswith("/*", pos):
                raise self.error("this comment is never closed: a '*/' is missing", pos)
            if pos < len(src) and src[pos] == "\n" and self.skip_newlines[-1]:
                pos += 1
                continue
            break
        self.pos = pos
        if pos >= len(src):
            return Token("EOF", "", pos, pos)
        c = src[pos]
        if c == "\n":
            return Token("NEWLINE", "\n", pos, pos + 1)
        if c == '"':
            return Token("STRING", '"', pos, pos + 1)
        if c == "<" and src.startswith("<<", pos):
            m = _HEREDOC.match(src, pos)
            if m:
                return Token("HEREDOC", m.group(0), pos, m.end())
        m = _IDENT.match(src, pos)
        if m:
            return Token("IDENT", m.group(0), pos, m.end())
        m = _NUMBER.match(src, pos)
        if m:
            return Token("NUMBER", m.group(0), pos, m.end())
        for op in _OPERATORS:
            if src.startswith(op, pos):
                return Token(op, op, pos, pos + len(op))
        raise self.error(f"unexpected character {c!r}", pos)

    def peek(self) -> Token:
        if self.peeked is None:
            self.peeked = self._scan()
        return self.peeked

    def next(self) -> Token:
        tok = self.peek()
        self.peeked = None
        self.pos = self.last_end = tok.end
        return tok

    def accept(self, kind: str) -> Optional[Token]:
        if self.peek().kind == kind:
            return self.next()
        return None

    def expect(self, kind: str, what: str = "") -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise self.unexpected(tok, what or _describe_kind(kind))
        return self.next()

    def unexpected(self, tok: Token, wanted: str) -> HCL2SyntaxError:
        return self.error(f"expected {wanted}, found {_describe(tok)}", tok.start)

    def push_newlines(self, skip: bool) -> None:
        self.skip_newlines.append(skip)
        if self.peeked is not None:  # re-scan under the new rule
            self.pos = self.last_end
            self.peeked = None

    def pop_newlines(self) -> None:
        self.skip_newlines.pop()
        if self.peeked is not None:
            self.pos = self.last_end
            self.peeked = None

    # -- bodies ----------------------------------------------------------------------------

    def body(self, closing: Optional[Token], header: str = "") -> Body:
        items: list[Item] = []
        while True:
            tok = self.peek()
            if tok.kind == "NEWLINE":
                self.next()
                continue
            if tok.kind == "EOF":
                if closing is not None:
                    raise HCL2SyntaxError(f"{header} {{ is never closed: a '}}' is missing (at "
                                          "its end, or at the end of a block inside it)",
                                          *self.where(closing.start))
                return Body(items, source=self.src)
            if tok.kind == "}":
                if closing is None:
                    raise self.error("unexpected '}': there is no open block to close here",
                                     tok.start)
                return Body(items, source=self.src)
            if tok.kind != "IDENT":
                raise self.error(f"expected an attribute or a block, found {_describe(tok)}; "
                                 "each line is name = value, or a block: name \"label\" { ... }",
                                 tok.start)
            items.append(self.item())

    def item(self) -> Item:
        name = self.next()
        line, column = self.where(name.start)
        tok = self.peek()
        if tok.kind == "=":
            self.next()
            if self.peek().kind in ("NEWLINE", "EOF"):
                raise self.error(f"{name.text} = has no value: write {name.text} = <value> on "
                                 "one line", name.start)
            expr = self.expression()
            self.end_of_item(f"{name.text} = ...")
            return Attribute(name.text, expr, line, column)
        labels = []
        while tok.kind in ("STRING", "IDENT"):
            if tok.kind == "IDENT":
                self.next()
                labels.append((tok.text, *self.where(tok.start)))
            else:
                label = self.template_string()
                if any(not isinstance(p, str) for p in label.parts):
                    raise self.error("a block label is plain text: no ${...} in it", label.start)
                labels.append(("".join(label.parts), label.line, label.column))
            tok = self.peek()
        if tok.kind == ":" and not labels:
            raise self.error(f"expected '=' after {name.text}: HCL2 writes name = value",
                             tok.start)
        if tok.kind != "{":
            if tok.kind in ("NEWLINE", "EOF") and not labels:
                raise self.error(f"{name.text} has no value: write {name.text} = <value>, or "
                                 f"{name.text} {{ ... }} for a block", name.start)
            raise self.error(f"expected '=' or a block's '{{' after {name.text}, found "
                             f"{_describe(tok)}", tok.start)
        opening = self.next()
        if self.peek().kind in ("NEWLINE", "}"):
            header = " ".join([name.text] + [f'"{label[0]}"' for label in labels])
            body = self.body(opening, header)
        else:  # a single-line block holds at most one attribute: `a { b = 1 }`
            inner = self.peek()
            if inner.kind != "IDENT":
                raise self.error(f"expected an attribute or a new line after '{{', found "
                                 f"{_describe(inner)}", inner.start)
            self.next()
            after = self.peek()
            if after.kind != "=":
                raise self.error(
                    "a block inside a one-line block: put a new line after '{' "
                    f"({name.text} {{ then each attribute or block on its own line)", inner.start)
            self.next()
            expr = self.expression()
            attr = Attribute(inner.text, expr, *self.where(inner.start))
            if self.peek().kind != "}":
                raise self.error(
                    f"a one-line block holds one attribute and then '}}': put a new line "
                    f"after '{{' and each attribute of {name.text} on its own line (HCL2 reads "
                    f"`{name.text} {{ a = 1 b = 2 }}` as an error)", self.peek().start)
            body = Body([attr], source=self.src)
        self.expect("}")
        body.line, body.column = self.where(opening.start)
        self.end_of_item(f"the block {name.text}")
        return Block(name.text, labels, body, line, column)

    def end_of_item(self, what: str) -> None:
        tok = self.peek()
        if tok.kind in ("NEWLINE", "EOF"):
            if tok.kind == "NEWLINE":
                self.next()
            return
        if tok.kind == "}":
            return
        raise self.error(f"expected a new line after {what}, found {_describe(tok)}: "
                         "each attribute and block goes on its own line", tok.start)

    # -- expressions -----------------------------------------------------------------------

    def expression(self) -> Expr:
        start = self.peek().start
        cond = self.binary(0)
        if self.peek().kind == "?":
            self.next()
            self.push_newlines(True)
            try:
                then = self.expression()
                self.expect(":", "':' (a conditional is cond ? a : b)")
                otherwise = self.expression()
            finally:
                self.pop_newlines()
            return Conditional(*self.where(start), start, otherwise.end, cond=cond, then=then,
                               otherwise=otherwise)
        return cond

    def binary(self, level: int) -> Expr:
        if level == len(_PRECEDENCE):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek().kind in _PRECEDENCE[level]:
            op = self.next().kind
            right = self.binary(level + 1)
            left = Binary(left.line, left.column, left.start, right.end, op=op, left=left,
                          right=right)
        return left

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind in ("-", "!"):
            self.next()
            operand = self.unary()
            return Unary(*self.where(tok.start), tok.start, operand.end, op=tok.kind,
                         operand=operand)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        while True:
            tok = self.peek()
            if tok.kind == ".":
                self.next()
                nxt = self.peek()
                if nxt.kind == "*":
                    self.next()
                    return self.splat(expr, attr_only=True)
                if nxt.kind == "NUMBER" and re.fullmatch(r"\d+(\.\d+)?", nxt.text):
                    self.next()  # legacy index: list.0 (and list.0.1, read as one number)
                    for part in nxt.text.split("."):
                        key = Literal(*self.where(nxt.start), nxt.start, nxt.end, value=int(part))
                        expr = Index(expr.line, expr.column, expr.start, nxt.end, obj=expr,
                                     key=key)
                    continue
                name = self.expect("IDENT", "an attribute name after '.'")
                expr = GetAttr(expr.line, expr.column, expr.start, name.end, obj=expr,
                               name=name.text)
            elif tok.kind == "[":
                self.next()
                if self.peek().kind == "*":
                    self.next()
                    self.expect("]", "']' after [*")
                    return self.splat(expr, attr_only=False)
                self.push_newlines(True)
                try:
                    key = self.expression()
                    end = self.expect("]", "']' to close the index").end
                finally:
                    self.pop_newlines()
                expr = Index(expr.line, expr.column, expr.start, end, obj=expr, key=key)
            else:
                return expr

    def splat(self, obj: Expr, attr_only: bool) -> Expr:
        """The traversal after ``[*]``/``.*`` applies to each element, read as ``item``."""
        item: Expr = Variable(obj.line, obj.column, obj.start, self.pos, name="\0item")
        each = item
        while True:
            tok = self.peek()
            if tok.kind == ".":
                self.next()
                name = self.expect("IDENT", "an attribute name after '.'")
                each = GetAttr(each.line, each.column, each.start, name.end, obj=each,
                               name=name.text)
            elif tok.kind == "[" and not attr_only:
                self.next()
                self.push_newlines(True)
                try:
                    key = self.expression()
                    end = self.expect("]").end
                finally:
                    self.pop_newlines()
                each = Index(each.line, each.column, each.start, end, obj=each, key=key)
            else:
                break
        return Splat(obj.line, obj.column, obj.start, self.pos, obj=obj, each=each)

    def primary(self) -> Expr:
        tok = self.peek()
        line, column = self.where(tok.start)
        kind = tok.kind
        if kind == "NUMBER":
            self.next()
            text = tok.text
            value: Any = float(text) if any(c in text for c in ".eE") else int(text)
            return Literal(line, column, tok.start, tok.end, value=value)
        if kind == "STRING":
            return self.template_string()
        if kind == "HEREDOC":
            return self.heredoc()
        if kind == "IDENT":
            self.next()
            if tok.text in ("true", "false"):
                return Literal(line, column, tok.start, tok.end, value=tok.text == "true")
            if tok.text == "null":
                return Literal(line, column, tok.start, tok.end, value=None)
            if self.peek().kind == "(":
                return self.call(tok)
            return Variable(line, column, tok.start, tok.end, name=tok.text)
        if kind == "(":
            self.next()
            self.push_newlines(True)
            try:
                inner = self.expression()
                end = self.expect(")", "')' to close '('").end
            finally:
                self.pop_newlines()
            return Parens(line, column, tok.start, end, inner=inner)
        if kind == "[":
            return self.tuple_or_for()
        if kind == "{":
            return self.object_or_for()
        if kind in ("NEWLINE", "EOF"):
            raise self.error("expected a value, found the end of the line", tok.start)
        raise self.error(f"expected a value, found {_describe(tok)}", tok.start)

    def call(self, name: Token) -> Call:
        self.expect("(")
        self.push_newlines(True)
        args: list[Expr] = []
        expand = False
        try:
            while self.peek().kind != ")":
                args.append(self.expression())
                if self.accept("..."):
                    expand = True
                    break
                if not self.accept(","):
                    break
            end = self.expect(")", f"')' or ',' in the call of {name.text}()").end
        finally:
            self.pop_newlines()
        return Call(*self.where(name.start), name.start, end, name=name.text, args=args,
                    expand_final=expand)

    def tuple_or_for(self) -> Expr:
        opening = self.next()
        self.push_newlines(True)
        try:
            if self.peek().kind == "IDENT" and self.peek().text == "for":
                return self.for_expr(opening, "]")
            items = []
            while self.peek().kind != "]":
                items.append(self.expression())
                if not self.accept(","):
                    break
            end = self.expect("]", "']' or ',' in the list").end
        finally:
            self.pop_newlines()
        return TupleCons(*self.where(opening.start), opening.start, end, items=items)

    def object_or_for(self) -> Expr:
        opening = self.next()
        self.push_newlines(True)
        try:
            if self.peek().kind == "IDENT" and self.peek().text == "for":
                return self.for_expr(opening, "}")
        finally:
            self.pop_newlines()
        self.push_newlines(False)
        items = []
        try:
            while True:
                while self.accept("NEWLINE"):
                    pass
                if self.peek().kind == "}":
                    break
                key_tok = self.peek()
                key = self.expression()
                if isinstance(key, Variable):
                    key = Literal(key.line, key.column, key.start, key.end, value=key.name)
                sep = self.peek()
                if sep.kind not in ("=", ":"):
                    written = self.src[key_tok.start:key.end]
                    raise self.unexpected(sep, f"'=' after the key {written}")
                self.next()
                value = self.expression()
                items.append((key, value))
                tok = self.peek()
                if tok.kind in (",", "NEWLINE"):
                    self.next()
                elif tok.kind != "}":
                    raise self.unexpected(tok, "',' or a new line between the items of { ... }")
            end = self.expect("}").end
        finally:
            self.pop_newlines()
        return ObjectCons(*self.where(opening.start), opening.start, end, items=items)

    def for_expr(self, opening: Token, closing: str) -> ForExpr:
        self.next()  # for
        first = self.expect("IDENT", "a name after for").text
        key_var, value_var = None, first
        if self.accept(","):
            key_var, value_var = first, self.expect("IDENT", "a name after ','").text
        if self.expect("IDENT", "'in'").text != "in":
            raise self.error("expected 'in' in the for expression", self.pos)
        collection = self.expression()
        self.expect(":", "':' after the collection of the for expression")
        key = None
        value = self.expression()
        group = False
        if closing == "}":
            self.expect("=>", "'=>' in { for k, v in x : key => value }")
            key, value = value, self.expression()
            group = bool(self.accept("..."))
        cond = None
        if self.peek().kind == "IDENT" and self.peek().text == "if":
            self.next()
            cond = self.expression()
        end = self.expect(closing, f"'{closing}' to close the for expression").end
        return ForExpr(*self.where(opening.start), opening.start, end, key_var=key_var,
                       value_var=value_var, collection=collection, key=key, value=value,
                       cond=cond, group=group)

    # -- templates ---------------------------------------------------------------------------

    def template_string(self) -> Template:
        opening = self.next()
        parts, end = self.template(opening.end, quoted=True)
        return Template(*self.where(opening.start), opening.start, end, parts=parts)

    def heredoc(self) -> Template:
        tok = self.next()
        m = _HEREDOC.match(tok.text)
        assert m is not None
        strip, marker = m.group(1) == "-", m.group(2)
        close = re.compile(r"^[ \t]*" + re.escape(marker) + r"[ \t]*\r?$", re.M)
        found = close.search(self.src, tok.end)
        if not found:
            raise self.error(f"this heredoc is never closed: a line with just {marker} is "
                             "missing", tok.start)
        content_end = found.start()
        parts, _ = self.template(tok.end, quoted=False, stop=content_end)
        if strip:
            parts = _dedent(parts)
        self.pos = self.last_end = found.end()
        self.peeked = None
        return Template(*self.where(tok.start), tok.start, found.end(), parts=parts)

    def template(self, pos: int, quoted: bool, stop: Optional[int] = None) -> tuple[list, int]:
        """Parse template parts from ``pos``: to the closing quote, or to ``stop``."""
        src = self.src
        limit = len(src) if stop is None else stop
        stack: list[tuple[str, Any, list]] = []  # open %{ if } / %{ for } directives
        top: list = []
        literal: list[str] = []
        start = pos

        def current() -> list:
            return stack[-1][2] if stack else top

        def flush(strip: bool = False) -> None:
            text = "".join(literal)
            literal.clear()
            if strip:
                text = text.rstrip(" \t\r\n")
            if text:
                current().append(text)

        while True:
            if pos >= limit:
                if quoted:
                    raise self.error("this string is never closed: a '\"' is missing", start - 1)
                break
            c = src[pos]
            if quoted and c == '"':
                pos += 1
                break
            if quoted and c == "\n":
                raise self.error("this string is never closed: a '\"' is missing before the end "
                                 "of the line (a quoted string stays on one line; use a "
                                 "heredoc, <<EOT, for more)", start - 1)
            if quoted and c == "\\":
                nxt = src[pos + 1:pos + 2]
                if nxt in _ESCAPES:
                    literal.append(_ESCAPES[nxt])
                    pos += 2
                elif nxt in ("u", "U"):
                    width = 4 if nxt == "u" else 8
                    digits = src[pos + 2:pos + 2 + width]
                    if not re.fullmatch(r"[0-9a-fA-F]{%d}" % width, digits):
                        raise self.error(f"\\{nxt} needs {width} hex digits", pos)
                    literal.append(chr(int(digits, 16)))
                    pos += 2 + width
                else:
                    raise self.error(f"invalid escape \\{nxt} in a string: write \\\\ for a "
                                     "backslash", pos)
                continue
            if src.startswith("$${", pos) or src.startswith("%%{", pos):
                literal.append(src[pos + 1:pos + 3])
                pos += 3
                continue
            if src.startswith("${", pos) or src.startswith("%{", pos):
                directive = c == "%"
                pos += 2
                strip_before = src.startswith("~", pos)
                if strip_before:
                    pos += 1
                flush(strip_before)
                self.pos, self.last_end, self.peeked = pos, pos, None
                self.push_newlines(True)
                try:
                    if directive:
                        keyword = self.expect("IDENT", "if, else, endif, for or endfor after %{")
                        self.directive(keyword, stack, current())
                    else:
                        inner = self.expression()
                        current().append(Interpolation(inner.line, inner.column, pos - 2 -
                                                       strip_before, 0, inner=inner))
                    strip_after = bool(self.accept("~"))
                    close = self.expect("}", "'}' to close %{" if directive else
                                        "'}' to close ${")
                finally:
                    self.pop_newlines()
                pos = close.end
                if not directive:
                    current()[-1].end = pos
                if strip_after:
                    while pos < limit and src[pos] in " \t\r\n":
                        pos += 1
                continue
            literal.append(c)
            pos += 1
        flush()
        if stack:
            kind, node, _ = stack[-1]
            raise HCL2SyntaxError(f"%{{ {kind} }} is never closed: a %{{ end{kind} }} is missing",
                                  node.line, node.column)
        self.pos, self.last_end, self.peeked = pos, pos, None
        return top, pos

    def directive(self, keyword: Token, stack: list, outer: list) -> None:
        """``%{ if }``, ``%{ else }``, ``%{ endif }``, ``%{ for }``, ``%{ endfor }``.

        The stack holds (kind, node, parts being filled); the template goes on filling
        the top one's parts (or ``outer``'s owner when the stack is empty)."""
        word = keyword.text
        line, column = self.where(keyword.start)
        if word == "if":
            node = TemplateIf(line, column, keyword.start, keyword.end, cond=self.expression())
            outer.append(node)
            stack.append(("if", node, node.then))
        elif word == "for":
            first = self.expect("IDENT", "a name after for").text
            key_var, value_var = None, first
            if self.accept(","):
                key_var, value_var = first, self.expect("IDENT").text
            if self.expect("IDENT", "'in'").text != "in":
                raise self.error("expected 'in' in %{ for }", self.pos)
            node = TemplateFor(line, column, keyword.start, keyword.end, key_var=key_var,
                               value_var=value_var, collection=self.expression())
            outer.append(node)
            stack.append(("for", node, node.body))
        elif word == "else":
            if not stack or stack[-1][0] != "if":
                raise self.error("%{ else } without an open %{ if }", keyword.start)
            node = stack.pop()[1]
            stack.append(("if", node, node.otherwise))
        elif word in ("endif", "endfor"):
            kind = word[3:]
            if not stack or stack[-1][0] != kind:
                raise self.error(f"%{{ {word} }} without an open %{{ {kind} }}", keyword.start)
            stack.pop()
        else:
            raise self.error(f"unknown template directive %{{ {word} }}: use if, else, endif, "
                             "for or endfor", keyword.start)


def _dedent(parts: list) -> list:
    """``<<-``: remove the smallest indentation shared by all lines of the literal text."""
    text = "".join(p if isinstance(p, str) else "\0" for p in parts)
    lines = [ln for ln in text.split("\n") if ln.strip(" \t")]
    indent = min((len(ln) - len(ln.lstrip(" \t")) for ln in lines), default=0)
    if not indent:
        return parts
    out: list = []
    at_line_start = True
    for part in parts:
        if not isinstance(part, str):
            out.append(part)
            at_line_start = False
            continue
        pieces = part.split("\n")
        for i, piece in enumerate(pieces):
            if i > 0:
                at_line_start = True
            if at_line_start:
                piece = piece[min(indent, len(piece) - len(piece.lstrip(" \t"))):]
            pieces[i] = piece
            at_line_start = False if piece or i < len(pieces) - 1 else at_line_start
        out.append("\n".join(pieces))
        at_line_start = part.endswith("\n")
    return out


def _describe_kind(kind: str) -> str:
    return _TOKEN_WORDS.get(kind, f"'{kind}'")


def _describe(tok: Token) -> str:
    if tok.kind in ("IDENT", "NUMBER"):
        return f"{_TOKEN_WORDS[tok.kind]} {tok.text!r}"
    return _describe_kind(tok.kind)


def parse_hcl2(src: str) -> Body:
    """Parse a whole HCL2 file; raises :class:`HCL2SyntaxError` and nothing else."""
    parser = _Parser(src)
    try:
        body = parser.body(None)
    except RecursionError:
        raise HCL2SyntaxError("expressions or blocks are nested too deeply", 1, 1) from None
    body.source = src
    return body


def parse_expression(src: str) -> tuple[Expr, str]:
    """Parse one expression (a ``-var`` value, a ``NOMAD_VAR_`` value); returns it and its source."""
    parser = _Parser(src)
    parser.skip_newlines = [True]
    expr = parser.expression()
    tok = parser.peek()
    if tok.kind != "EOF":
        raise parser.unexpected(tok, "the end of the value")
    return expr, src
