"""pyhcl kept positional: keys know their line and column, nothing is merged or lost."""

from __future__ import annotations

import threading

import pytest

from nomadlab.jobspec.hcl import Body, HCLSyntaxError, parse_hcl

SPEC = '''job "web" {
  group "a" { count = 1 }
  group "a" { count = 2 }
  constraint { attribute = "x" }
  constraint { attribute = "y" }
  meta { "dotted.key" = 1 }
}
'''


def test_keys_carry_line_and_column() -> None:
    (job,) = parse_hcl(SPEC)
    assert (job.key, job.labels, job.line, job.column) == ("job", ["web"], 1, 1)
    assert (job.labels[0].line, job.labels[0].column) == (1, 5)
    group = job.value[0]
    assert (group.key, group.line, group.column) == ("group", 2, 3)
    count = group.value[0]
    assert (count.key, count.value, count.line, count.column) == ("count", 1, 2, 15)


def test_repeated_blocks_are_all_kept_in_order() -> None:
    """pyhcl's own loads() merges the two group "a" blocks and folds constraints into a list."""
    (job,) = parse_hcl(SPEC)
    assert [(i.key, [str(x) for x in i.labels]) for i in job.value[:4]] == [
        ("group", ["a"]), ("group", ["a"]), ("constraint", []), ("constraint", [])]
    assert [i.value[0].value for i in job.value[:2]] == [1, 2]
    assert all(isinstance(i.value, Body) for i in job.value[:5])


def test_blocks_and_attributes_are_told_apart() -> None:
    (job,) = parse_hcl('job "x" {\n  env { A = "1" }\n  meta = { B = "2" }\n}\n')
    env, meta = job.value
    assert env.is_block and not meta.is_block
    assert isinstance(meta.value, Body)


@pytest.mark.parametrize("text, line, column, words", [
    ('job "x" {\n  count = 1\n', 1, 1, 'job "x" { is never closed'),
    ('job "x" {\n  group "a" {\n    count = 1\n}\n', 1, 1, 'job "x" { is never closed'),
    ('job "x" {\n  count = \n}\n', 2, 3, "count = has no value"),
    ('job "x" {\n  group "g" {\n    count =\n    task "t" {}\n  }\n}\n', 3, 5,
     "count = has no value"),
    ('job "x" {\n  a = "open\n  b = "x"\n}\n', 2, 7, "not closed on its line"),
    ('job "x" {\n  name = "abc\n}\n', 2, 10, "never closed"),
    ('job "x" {\n  data = <<EOF\nline\n}\n', 2, 10, "heredoc is never closed"),
    ('job "x" {\n  count = 1 ~\n}\n', 2, 13, "unexpected character '~'"),
    ('job "x" {\n  a = 1\n}\n}\n', 4, 1, "unexpected '}'"),
])
def test_syntax_errors_have_true_line_and_column(text: str, line: int, column: int,
                                                 words: str) -> None:
    with pytest.raises(HCLSyntaxError) as info:
        parse_hcl(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert words in info.value.message


def test_a_failed_parse_leaves_the_parser_clean() -> None:
    """The lexer is reused; a parse that died inside a string must not poison the next."""
    with pytest.raises(HCLSyntaxError):
        parse_hcl('job "x" {\n  name = "abc\n')
    (job,) = parse_hcl('job "y" {\n  count = 2\n}\n')
    assert job.value[0].line == 2


def test_parsing_from_many_threads_gives_the_same_result() -> None:
    expected = repr(parse_hcl(SPEC))
    results: list[str] = []

    def work() -> None:
        for _ in range(20):
            results.append(repr(parse_hcl(SPEC)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 80


def test_arithmetic_keys_keep_a_position_and_never_report_line_0() -> None:
    """pyhcl reads `type / 0 = ...` as a key; a missing value there must not say line 0."""
    with pytest.raises(HCLSyntaxError) as info:
        parse_hcl('job "x" {\n  type / 0 =\n}\n')
    assert info.value.line >= 1
