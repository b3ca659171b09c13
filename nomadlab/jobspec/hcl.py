"""pyhcl, kept positional: HCL text -> a tree of items that remember their line and column.

pyhcl's ``hcl.loads`` returns plain dicts: positions are lost, repeated blocks become a
dict *or* a list depending on how many there are, and two blocks with the same label
(``group "a"`` twice) are silently merged.  Nomad reports all three situations, so we
reuse pyhcl's lexer and grammar but override the few grammar actions that build
values: keys carry their position, and every object body is an ordered list of
:class:`Item` with nothing merged.  The parse tables are built once per thread, which
is also what makes parsing fast (``hcl.loads`` rebuilds them on every call).
"""

from __future__ import annotations

import re
import textwrap
import threading
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from hcl.lexer import Lexer
from hcl.parser import HclParser

__all__ = ["Key", "Item", "Body", "HCLSyntaxError", "parse_hcl"]


class Key(str):
    """An object key (or block label) with the 1-based line and column it was written at."""

    line: int
    column: int

    def __new__(cls, value: str, line: int = 0, column: int = 0) -> "Key":
        key = super().__new__(cls, value)
        key.line = line
        key.column = column
        return key


@dataclass
class Item:
    """``key = value`` or ``key "label" ... { body }``: one entry of an object body."""

    key: Key
    value: Any
    labels: list[Key] = field(default_factory=list)
    is_block: bool = False

    @property
    def line(self) -> int:
        return self.key.line

    @property
    def column(self) -> int:
        return self.key.column


class Body(list):
    """The items of one ``{ ... }`` (or of the whole file), in source order."""

    line: int = 0
    column: int = 0


Value = Union[str, int, float, bool, list, Body]


@dataclass
class HCLSyntaxError(Exception):
    """pyhcl could not read the text: where, and what it found or expected."""

    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


# What pyhcl's token names mean to a person reading an error.
_TOKEN_WORDS = {
    "LEFTBRACE": "'{'", "RIGHTBRACE": "'}'", "LEFTBRACKET": "'['", "RIGHTBRACKET": "']'",
    "LEFTPAREN": "'('", "RIGHTPAREN": "')'", "EQUAL": "'='", "COMMA": "','",
    "PERIOD": "'.'", "COLON": "':'", "QMARK": "'?'", "STRING": "a string",
    "IDENTIFIER": "a name", "NUMBER": "a number", "FLOAT": "a number", "BOOL": "true/false",
    "ADD": "'+'", "MINUS": "'-'", "MULTIPLY": "'*'", "DIVIDE": "'/'", "GT": "'>'",
    "LT": "'<'", "EQ": "'=='", "NE": "'!='", "LE": "'<='", "GE": "'>='",
    "EPLUS": "an exponent", "EMINUS": "an exponent", "ASTERISK_PERIOD": "'*.'",
    "$end": "the end of the file",
}


def _column(text: str, pos: int) -> int:
    return pos - text.rfind("\n", 0, pos)


class _PositionalParser(HclParser):
    """pyhcl's grammar with value-building actions that keep positions and duplicates.

    ply finds grammar rules by their docstrings, so each override repeats the rule it
    replaces word for word.
    """

    def __init__(self) -> None:  # noqa: D107 - builds tables once, unlike HclParser()
        from hcl.ply import yacc

        self.yacc = yacc.yacc(module=self, debug=False, optimize=1,
                              errorlog=yacc.NullLogger())
        self._lexer = Lexer()
        self.text = ""

    def parse_text(self, text: str) -> Body:
        self.text = text
        lexer = self.lexer = self._lexer.lex.clone()
        lexer.lineno = 1
        lexer.begin("INITIAL")
        return self.yacc.parse(text, lexer=self)

    def input(self, text: str) -> None:
        """ply's lexer protocol: the parser hands the text to its lexer, here ply's own."""
        self.lexer.input(text)

    def token(self) -> Any:
        """The next token, with strings read as HCL reads them.

        A string's position moves from its closing to its opening quote; its value is
        re-read from the source, because pyhcl keeps escapes other than ``\\"`` and
        ``\\\\`` as typed and drops a heredoc's final newline and indentation rule.
        """
        tok = self.lexer.token()
        if tok is not None and tok.type == "STRING":
            if self.text.startswith('"', tok.lexpos):
                start = self.lexer.abs_start - 1
                raw = self.text[start + 1:tok.lexpos]
                if "\n" in _INTERPOLATION.sub("", raw):
                    raise HCLSyntaxError(
                        "this string is not closed on its line: a '\"' is missing (quoted "
                        "strings may not be split over lines; use a heredoc, <<EOT)",
                        tok.lineno, _column(self.text, start))
                tok.value = _unescape(raw)
            else:  # a heredoc ends where its marker line starts
                start = max(self.text.rfind("<<", 0, self.lexer.here_start), 0)
                body = self.text[self.lexer.here_start:tok.lexpos]
                if self.text.startswith("<<-", start):
                    body = textwrap.dedent(body)
                tok.value = body.replace("$${", "${")
                tok.lineno = self.text.count("\n", 0, start) + 1
            tok.lexpos = start  # ply already gives a quoted string its opening line
        return tok

    def objectlist_flat(self, lt: list, replace: bool) -> Body:  # type: ignore[override]
        return Body(lt)

    def p_objectkey_0(self, p):
        '''
        objectkey : IDENTIFIER
                  | STRING
        '''
        pos = p.lexpos(1)
        p[0] = Key(p[1], p.lineno(1), _column(self.text, pos))

    def p_objectitem_0(self, p):
        '''
        objectitem : objectkey EQUAL number
                   | objectkey EQUAL BOOL
                   | objectkey EQUAL STRING
                   | objectkey EQUAL IDENTIFIER
                   | objectkey EQUAL object
                   | objectkey EQUAL objectkey
                   | objectkey EQUAL list
                   | objectkey EQUAL objectbrackets
                   | objectkey EQUAL function
                   | objectkey EQUAL booleanexp
                   | objectkey COLON number
                   | objectkey COLON BOOL
                   | objectkey COLON STRING
                   | objectkey COLON IDENTIFIER
                   | objectkey COLON object
                   | objectkey COLON objectkey
                   | objectkey COLON list
                   | objectkey COLON objectbrackets
                   | objectkey COLON booleanexp
        '''
        key, value = _as_key(p[1]), p[3]
        value_line = value.line if isinstance(value, Key) else \
            p.lineno(3) if p.slice[3].type == "IDENTIFIER" else key.line
        if value_line > key.line > 0:
            # `count =` then `task "x" {` on the next line reads as `count = task`.
            raise HCLSyntaxError(f"{key} = has no value: the value must follow on the same line",
                                 key.line, key.column)
        if isinstance(value, Key):
            value = str(value)
        p[0] = Item(key, value)

    def p_objectitem_2(self, p):
        '''
        objectitem : objectkey EQUAL objectkey QMARK objectkey COLON objectkey
                   | objectkey EQUAL objectkey QMARK objectkey COLON number
                   | objectkey EQUAL objectkey QMARK objectkey COLON BOOL
                   | objectkey EQUAL objectkey QMARK objectkey COLON function
                   | objectkey EQUAL objectkey QMARK number COLON objectkey
                   | objectkey EQUAL objectkey QMARK BOOL COLON objectkey
                   | objectkey EQUAL objectkey QMARK function COLON objectkey
                   | objectkey EQUAL objectkey QMARK number COLON number
                   | objectkey EQUAL objectkey QMARK number COLON BOOL
                   | objectkey EQUAL objectkey QMARK number COLON function
                   | objectkey EQUAL objectkey QMARK BOOL COLON number
                   | objectkey EQUAL objectkey QMARK BOOL COLON function
                   | objectkey EQUAL objectkey QMARK BOOL COLON BOOL
                   | objectkey EQUAL booleanexp QMARK objectkey COLON objectkey
                   | objectkey EQUAL booleanexp QMARK objectkey COLON number
                   | objectkey EQUAL booleanexp QMARK objectkey COLON BOOL
                   | objectkey EQUAL booleanexp QMARK objectkey COLON function
                   | objectkey EQUAL booleanexp QMARK number COLON objectkey
                   | objectkey EQUAL booleanexp QMARK BOOL COLON objectkey
                   | objectkey EQUAL booleanexp QMARK function COLON objectkey
                   | objectkey EQUAL booleanexp QMARK number COLON number
                   | objectkey EQUAL booleanexp QMARK number COLON BOOL
                   | objectkey EQUAL booleanexp QMARK number COLON function
                   | objectkey EQUAL booleanexp QMARK BOOL COLON number
                   | objectkey EQUAL booleanexp QMARK BOOL COLON function
                   | objectkey EQUAL booleanexp QMARK BOOL COLON BOOL
        '''
        text = "".join(str(p[i]) for i in range(3, 8))
        p[0] = Item(_as_key(p[1]), text)

    def p_object_0(self, p):
        "object : LEFTBRACE objectlist RIGHTBRACE"
        p[0] = self._body(p[2], p)

    def p_object_1(self, p):
        "object : LEFTBRACE objectlist COMMA RIGHTBRACE"
        p[0] = self._body(p[2], p)

    def p_object_2(self, p):
        "object : LEFTBRACE RIGHTBRACE"
        p[0] = self._body([], p)

    def _body(self, items: list, p: Any) -> Body:
        body = Body(items)
        body.line = p.lineno(1)
        body.column = _column(self.text, p.lexpos(1))
        return body

    def p_block_0(self, p):
        "block : objectkey object"
        p[0] = Item(_as_key(p[1]), p[2], is_block=True)

    def p_block_1(self, p):
        "block : objectkey block"
        inner: Item = p[2]
        p[0] = Item(_as_key(p[1]), inner.value, [inner.key, *inner.labels], is_block=True)

    def p_booleanexp_0(self, p):
        '''
        booleanexp : objectkey operator objectkey
                   | objectkey operator number
                   | number operator objectkey
        '''
        p[0] = f"{p[1]} {p[2]} {p[3]}"

    def p_error(self, p):
        stack = self.yacc.symstack
        if stack and stack[-1].type in ("EQUAL", "COLON") and len(stack) > 1 \
                and isinstance(stack[-2].value, Key) and stack[-2].value.line > 0:
            key = stack[-2].value
            raise HCLSyntaxError(f"{key} = has no value: write {key} = <value>",
                                 key.line, key.column)
        if p is None:
            block = _innermost_open_block(stack)
            if block is not None:
                raise HCLSyntaxError(f"{block} {{ is never closed: a '}}' is missing (at its end, or"
                                     " at the end of a block inside it)",
                                     block.line, block.column)
            line = self.text.count("\n") + 1
            column = len(self.text) - self.text.rfind("\n")
            raise HCLSyntaxError("unexpected end of file", line, column)
        found = _TOKEN_WORDS.get(p.type, p.type)
        if p.type in ("STRING", "IDENTIFIER", "NUMBER", "FLOAT", "BOOL"):
            found = f"{found} {p.value!r}"
        raise HCLSyntaxError(f"unexpected {found}", p.lineno, _column(self.text, p.lexpos))


def _innermost_open_block(stack: list) -> Optional[Key]:
    """The block header (``group "api"``) of the last ``{`` still open on ply's stack."""
    for i in range(len(stack) - 1, -1, -1):
        if stack[i].type == "LEFTBRACE":
            keys = []
            j = i - 1
            while j >= 0 and stack[j].type == "objectkey" and isinstance(stack[j].value, Key):
                keys.insert(0, stack[j].value)
                j -= 1
            if keys:
                header = Key(" ".join([keys[0]] + [f'"{k}"' for k in keys[1:]]),
                             keys[0].line, keys[0].column)
                return header
    return None


# ply orders grammar rules by the line they are defined on, and that order settles
# pyhcl's parse conflicts and its start symbol; give each override its original's line.
for _name, _func in list(vars(_PositionalParser).items()):
    if _name.startswith("p_") and _name != "p_error":
        _func.co_firstlineno = getattr(HclParser, _name).__code__.co_firstlineno


_INTERPOLATION = re.compile(r"\$\{[^}]*\}")
_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))', re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(raw: str) -> str:
    """HCL's string escapes (\\n, \\t, \\", \\\\, \\uXXXX) and ``$${`` for a literal ``${``."""
    def replace(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        if code:
            return chr(int(code, 16))
        return _SIMPLE_ESCAPES.get(match.group(3), match.group(0))

    return _ESCAPE.sub(replace, raw).replace("$${", "${")


def _as_key(key: Any) -> Key:
    if isinstance(key, Key):
        return key
    if isinstance(key, tuple):  # pyhcl's `name + 1` style keys: keep the first part's place
        first = next((k for k in key if isinstance(k, Key)), None)
        return Key(" ".join(str(k) for k in key), first.line if first else 0,
                   first.column if first else 0)
    return Key(str(key))


_LEX_ERROR = re.compile(r"Line (\d+), column (\d+), index (\d+): (.*)", re.S)
_local = threading.local()


def _parser() -> _PositionalParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _PositionalParser()
    return parser


def parse_hcl(text: str) -> Body:
    """Parse HCL text into a :class:`Body`; raises :class:`HCLSyntaxError` and nothing else."""
    parser = _parser()
    try:
        result = parser.parse_text(text)
    except HCLSyntaxError:
        raise
    except ValueError as err:  # pyhcl's lexer: "Line L, column C, index I: message"
        match = _LEX_ERROR.match(str(err))
        if match is None:
            raise HCLSyntaxError(str(err), 1, 1) from None
        message, index = match.group(4), int(match.group(3))
        if message.startswith("EOF before closing string"):
            message, index = 'this string is never closed: a \'"\' is missing', parser.lexer.abs_start - 1
        elif message.startswith("EOF before closing '${}'"):
            message, index = "this string has a '${' that is never closed by '}'", parser.lexer.abs_start - 1
        elif message.startswith("EOF before closing heredoc"):
            marker = getattr(parser.lexer, "here_identifier", "")
            message = f"this heredoc is never closed: a line with just {marker} is missing"
            index = text.rfind("<<", 0, parser.lexer.here_start)
        elif message.startswith("Illegal character"):
            message = message.replace("Illegal character", "unexpected character")
        line = text.count("\n", 0, index) + 1
        raise HCLSyntaxError(message, line, _column(text, index)) from None
    except RecursionError:
        raise HCLSyntaxError("blocks are nested too deeply", 1, 1) from None
    except Exception as err:  # a pyhcl action tripping over odd input (e.g. a function)
        raise HCLSyntaxError(f"pyhcl could not read this: {err}", 1, 1) from None
    return result if isinstance(result, Body) else Body(result or [])

