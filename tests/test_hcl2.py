"""HCL2 job specs: syntax, expressions, functions, variables, locals and dynamic blocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import nomadlab as nl
from nomadlab.jobspec.hcl2_eval import Scope, evaluate
from nomadlab.jobspec.hcl2_functions import functions
from nomadlab.jobspec.hcl2_syntax import HCL2SyntaxError, parse_expression, parse_hcl2


def value(text: str, **names: Any) -> Any:
    expr, source = parse_expression(text)
    return evaluate(expr, Scope(names, functions(), source))


def job(body: str, **kwargs: Any) -> nl.Job:
    return nl.parse_job(body + '\njob "j" {\n group "g" {\n task "t" {\n driver = "exec"\n'
                        '  config {\n   command = local.command\n  }\n }\n }\n}\n', **kwargs)


def problems(text: str, **kwargs: Any) -> list[tuple[Any, str]]:
    with pytest.raises(nl.JobSpecError) as info:
        nl.parse_job(text, **kwargs)
    return [(p.line, p.message) for p in info.value.problems]


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7), ("7 / 2", 3.5), ("7 % 3", 1), ("-(2 - 5)", 3),
    ('"a" == "a" && !false', True), ('1 == "1"', False), ("3 > 2 ? \"yes\" : \"no\"", "yes"),
    ("[1, 2, 3][1]", 2), ('{ a = 1, "b" = 2 }.b', 2), ("[for x in [1, 2, 3] : x * 2 if x > 1]",
                                                      [4, 6]),
    ('{ for k, v in { a = 1, b = 2 } : upper(k) => v }', {"A": 1, "B": 2}),
    ('{ for s in ["a", "ab", "b"] : substr(s, 0, 1) => s... }',
     {"a": ["a", "ab"], "b": ["b"]}),
    ('[{ n = 1 }, { n = 2 }][*].n', [1, 2]),
    ('"${1 + 1}x"', "2x"), ('"%{ for v in [1, 2] }<${v}>%{ endfor }"', "<1><2>"),
    ('"%{ if true }yes%{ else }no%{ endif }"', "yes"), ('"a $${b} %%{c}"', "a ${b} %{c}"),
    ('"tab\\tquote\\"\\u00e9"', 'tab\tquote"é'),
    ('"${attr.kernel.name}/${NOMAD_ALLOC_DIR}"', "${attr.kernel.name}/${NOMAD_ALLOC_DIR}"),
    ('"${env["HOME"]}"', '${env["HOME"]}'), ("1e3", 1000.0),
])
def test_expressions(text: str, expected: Any) -> None:
    assert value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('format("%s-%03d %.1f %q %t", "a", 7, 2.25, "x", true)', 'a-007 2.2 "x" true'),
    ('join(",", split(" ", "a b c"))', "a,b,c"), ('upper(trimspace("  hi "))', "HI"),
    ('replace("a-b-c", "-", "_")', "a_b_c"), ('regex_replace("v1.2", "[0-9]", "N")', "vN.N"),
    ("length([1, 2])", 2), ('lookup({ a = 1 }, "b", 9)', 9), ("max(1, 5, 3)", 5),
    ('merge({ a = 1 }, { b = 2 })', {"a": 1, "b": 2}), ("range(3)", [0, 1, 2]),
    ('contains(["a"], "a")', True), ("flatten([[1], [2, [3]]])", [1, 2, 3]),
    ('keys({ b = 1, a = 2 })', ["a", "b"]), ('jsonencode({ a = [1, "x"] })', '{"a":[1,"x"]}'),
    ('jsondecode("{\\"a\\": true}")', {"a": True}), ('base64encode("hi")', "aGk="),
    ('base64decode("aGk=")', "hi"), ('cidrhost("10.0.0.0/24", 5)', "10.0.0.5"),
    ('cidrsubnet("10.0.0.0/16", 8, 2)', "10.0.2.0/24"), ('try(var_missing.x, "fallback")', None),
    ('formatdate("YYYY-MM-DD hh:mm", "2024-03-05T07:08:09Z")', "2024-03-05 07:08"),
    ('timeadd("2024-01-01T00:00:00Z", "90m")', "2024-01-01T01:30:00Z"),
    ('convert("5", number)', 5), ('coalesce("", "b")', "b"), ('title("hello world")', "Hello World"),
    ('sha256("a")', "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
    ('element(["a", "b"], 3)', "b"), ('zipmap(["a"], [1])', {"a": 1}),
    ('setunion(["a"], ["a", "b"])', ["a", "b"]), ('chomp("x\\n\\n")', "x"),
])
def test_nomads_functions(text: str, expected: Any) -> None:
    if expected is None:  # try(): an unknown root stays text, so the first argument wins
        assert value(text) == "${var_missing.x}"
        return
    assert value(text) == expected


def test_heredocs_keep_their_newline_and_the_indented_form_strips_indentation() -> None:
    body = parse_hcl2('a = <<EOT\n  x\nEOT\nb = <<-EOT\n    one\n      two ${1}\n    EOT\n')
    scope = Scope({}, functions(), body.source)
    a, b = (evaluate(attr.expr, scope) for attr in body.items)
    assert a == "  x\n"
    assert b == "one\n  two 1\n"


@pytest.mark.parametrize("text, line, column, words", [
    ('job "x" {\n resources { cpu = 50 memory = 32 }\n}\n', 2, 23, "one-line block holds one"),
    ('job "x" {\n count = \n}\n', 2, 2, "count = has no value"),
    ('job "x" {\n a = "b\n}\n', 2, 6, "never closed"),
    ('job "x" {\n group "g" {\n}\n', 1, 9, 'job "x" { is never closed'),
    ('job "x" {\n a = (1 + \n}\n', 3, 1, "expected a value"),
    ('job "x" {\n a = 1 b = 2\n}\n', 2, 8, "expected a new line"),
])
def test_syntax_errors_point_at_the_spot(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(HCL2SyntaxError) as info:
        parse_hcl2(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert words in info.value.message


SPEC = '''
variable "image" {
  type        = string
  description = "the image to run"
  default     = "web:1"
}

variable "replicas" {
  type = number
  validation {
    condition     = var.replicas > 0 && var.replicas < 10
    error_message = "replicas must be between 1 and 9"
  }
}

variable "ports" {
  type    = list(string)
  default = ["http"]
}

locals {
  name = "${local.prefix}-web"
  prefix = "lab"
}

job "web" {
  datacenters = ["dc1"]
  meta = {
    name = local.name
  }
  group "web" {
    count = var.replicas
    network {
      dynamic "port" {
        for_each = var.ports
        iterator = p
        labels   = [p.value]
        content {
          to = 8000 + p.key
        }
      }
    }
    task "server" {
      driver = "docker"
      config {
        image = var.image
        ports = var.ports
      }
      resources {
        cpu    = var.replicas > 2 ? 200 : 100
        memory = 64
      }
    }
  }
}
'''


def test_variables_locals_and_dynamic_blocks() -> None:
    parsed = nl.parse_job(SPEC, variables={"replicas": "3"})
    group = parsed.task_groups[0]
    assert group.count == 3
    assert parsed.meta == {"name": "lab-web"}
    assert group.tasks[0].config == {"image": "web:1", "ports": ["http"]}
    assert group.tasks[0].resources.cpu == 200
    ports = group.networks[0].dynamic_ports
    assert [(p.label, p.to) for p in ports] == [("http", 8000)]


def test_values_override_each_other_in_nomads_order(tmp_path: Path) -> None:
    hcl = tmp_path / "prod.hcl"
    hcl.write_text('replicas = 4\nports = ["http", "admin"]\n')
    js = tmp_path / "img.json"
    js.write_text(json.dumps({"image": "web:2"}))
    env = {"NOMAD_VAR_replicas": "2", "NOMAD_VAR_image": "web:env"}
    assert nl.parse_job(SPEC, env=env).task_groups[0].count == 2
    parsed = nl.parse_job(SPEC, env=env, var_files=[hcl, js])
    group = parsed.task_groups[0]
    assert group.count == 4 and group.tasks[0].config["image"] == "web:2"
    assert [p.label for p in group.networks[0].dynamic_ports] == ["http", "admin"]
    flagged = nl.parse_job(SPEC, env=env, var_files=[hcl], variables={"replicas": "5"})
    assert flagged.task_groups[0].count == 5


def test_variable_problems_say_what_and_where() -> None:
    found = problems(SPEC)
    assert found == [(8, 'variable "replicas" has no value: give it a default, or set it with '
                         "-var replicas=..., a -var-file, or NOMAD_VAR_replicas")]
    found = problems(SPEC, variables={"replicas": "12"})
    assert found == [(10, "invalid value for var.replicas (from -var replicas): replicas must "
                          "be between 1 and 9")]
    found = problems(SPEC, variables={"replicas": "many"})
    assert "is not a valid number value" in found[0][1] or "must be a number" in found[0][1]
    found = problems(SPEC, variables={"replicas": "1", "replica": "2"})
    assert found == [(None, '-var replica=... sets the variable "replica", which the job spec '
                            'does not declare. Did you mean "replicas"?')]
    found = problems(SPEC.replace("var.image", "var.imag"), variables={"replicas": "1"})
    assert found == [(46, 'var.imag is not declared: add variable "imag" { ... } to the job '
                          'spec; did you mean "image"? (var.image is defined on line 2)')]
    found = problems(SPEC.replace("upper", "x").replace('"${local.prefix}-web"',
                                                         'uper("web")'), variables={"replicas": 1})
    assert found == [(22, "there is no function named uper(); did you mean upper()?")]


def test_the_error_shows_the_line_and_a_caret_under_the_mistake() -> None:
    with pytest.raises(nl.JobSpecError) as info:
        nl.parse_job(SPEC.replace("var.image", "var.imag"), "web.nomad.hcl",
                     variables={"replicas": "1"})
    text = str(info.value)
    assert "web.nomad.hcl:46:17: var.imag is not declared" in text
    assert 'in job "web" > group "web" > task "server" > config' in text
    assert "            image = var.imag\n                    ^" in text


def test_locals_that_need_each_other_are_reported() -> None:
    found = problems('locals {\n a = local.b\n b = local.a\n}\njob "j" {\n}\n')
    assert [m for _, m in found][0].startswith("local.a and local.b depend on each other")


def test_file_reads_below_the_spec_directory_only_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("echo hi\n")
    spec = tmp_path / "job.nomad.hcl"
    text = 'locals {\n command = file("run.sh")\n}\n'
    parsed = job(text, filename=str(spec), allow_fs=True)
    assert parsed.task_groups[0].tasks[0].config["command"] == "echo hi\n"
    denied = problems(text + 'job "j" {\n}\n', filename=str(spec))
    assert "filesystem functions are disabled here" in denied[0][1]
    outside = problems('locals {\n command = file("../../etc/passwd")\n}\njob "j" {\n}\n',
                       filename=str(spec), allow_fs=True)
    assert "is outside the job spec's directory" in outside[0][1]


def test_runtime_interpolation_is_left_for_the_client() -> None:
    parsed = job('locals {\n command = "${NOMAD_TASK_DIR}/run ${node.unique.name}"\n}\n')
    assert parsed.task_groups[0].tasks[0].config["command"] == \
        "${NOMAD_TASK_DIR}/run ${node.unique.name}"


def test_hcl1_is_still_read_when_asked_for() -> None:
    text = 'job "x" {\n group "g" {\n task "t" {\n driver = "exec"\n' \
           ' resources { cpu = 50 memory = 32 }\n }\n }\n}\n'
    assert problems(text)[0][0] == 5
    assert nl.parse_job(text, hcl1=True).task_groups[0].tasks[0].resources.memory_mb == 32
