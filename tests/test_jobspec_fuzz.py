"""Broken job specs fail politely: ``parse_job`` returns a Job or raises ``JobSpecError``.

Realistic, valid specs are mutated the ways a learner's editing goes wrong (a lost brace,
a stray quote, a value of the wrong type, a misspelt key, a block in the wrong place, a
pasted line twice, a file cut short), and random JSON is fed in as well.  Whatever comes
in, the only exception is ``JobSpecError``, its problems say something and point at a
line that exists, and printing it never fails.  ``parse_job`` turns an exception of its
own into a JobSpecError asking the learner to "please report it"; that counts as a
failure here, since it is a nomadlab bug the learner cannot fix.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nomadlab as nl

WEB = r'''
job "web" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 60

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel     = 2
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  group "frontend" {
    count = 3

    network {
      port "http" {
        to = 8080
      }
      port "metrics" {}
    }

    spread {
      attribute = "${node.datacenter}"
      weight    = 80
    }

    affinity {
      attribute = "${meta.rack}"
      value     = "r1"
      weight    = 40
    }

    service {
      name = "frontend"
      port = "http"
      tags = ["web", "v1"]

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      delay    = "10s"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nomadlab/busybox:latest"
        args  = ["httpd", "-f", "-p", "${NOMAD_PORT_http}"]
        ports = ["http"]
      }

      env {
        GREETING = "hello"
        REGION   = "${node.region}"
      }

      template {
        data        = "upstream = {{ env \"NOMAD_ADDR_http\" }}\n"
        destination = "local/app.conf"
      }

      resources {
        cpu    = 250
        memory = 128
      }
    }
  }
}
'''

BATCH = r'''
# Nightly reports, twice on weekdays.
job "reports" {
  type        = "batch"
  datacenters = ["dc1"]

  periodic {
    crons            = ["0 3 * * *", "30 15 * * 1-5"]
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
  }

  reschedule {
    attempts  = 2
    interval  = "1h"
    delay     = "30s"
    unlimited = false
  }

  group "build" {
    count = 1

    ephemeral_disk {
      size = 500
    }

    task "fetch" {
      driver = "exec"

      lifecycle {
        hook = "prestart"
      }

      artifact {
        source      = "https://example.com/render.py"
        destination = "local/"
        mode        = "file"
      }

      config {
        command = "/bin/true"
      }
    }

    task "render" {
      driver       = "exec"
      kill_timeout = "30s"

      config {
        command = "/usr/bin/python3"
        args    = ["local/render.py", "--out", "${NOMAD_ALLOC_DIR}/report.pdf"]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
'''

DISPATCH = r'''
job "thumbnail" {
  type = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["image"]
    meta_optional = ["size"]
  }

  meta {
    size = "128x128"
  }

  group "work" {
    task "resize" {
      driver = "exec"

      dispatch_payload {
        file = "input.png"
      }

      config {
        command = "convert"
        args    = ["local/input.png", "-resize", "${NOMAD_META_size}", "local/out.png"]
      }

      logs {
        max_files     = 2
        max_file_size = 10
      }
    }
  }
}
'''

SYSTEM = r'''
# Runs one log collector on every Linux client.
job "node-agent" {
  type        = "system"
  datacenters = ["dc1", "dc2"]
  priority    = 80

  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "="
    value     = "linux"
  }

  group "agent" {
    volume "logs" {
      type      = "host"
      source    = "var-log"
      read_only = true
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "collector" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/collector"
        args    = ["--path", "/var/log", "--interval", "30"]
      }

      volume_mount {
        volume      = "logs"
        destination = "/var/log"
        read_only   = true
      }

      template {
        data = <<EOT
endpoint = "{{ env "NOMAD_ADDR" }}"
node     = "{{ env "node.unique.name" }}"
EOT
        destination = "local/collector.conf"
        change_mode = "restart"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
'''

SPECS = {"web": WEB, "batch": BATCH, "dispatch": DISPATCH, "system": SYSTEM}
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- the property -----------------------------------------------------------------------


def check(text: str) -> None:
    """``text`` parses to a Job or fails with a JobSpecError that helps."""
    try:
        job = nl.parse_job(text)
    except nl.JobSpecError as err:
        lines = len(text.splitlines())
        assert err.problems, "a JobSpecError without problems"
        for problem in err.problems:
            assert isinstance(problem.message, str) and problem.message.strip(), problem
            assert "please report it" not in problem.message, problem.message  # our own bug
            if problem.line is not None:
                assert 1 <= problem.line <= lines + 1, (problem, lines)
            if problem.column is not None:
                assert problem.column >= 1, problem
            problem.location("job.nomad")
        assert str(err) and repr(err)
        assert str(err).startswith(f"{len(err.problems)} problem")
    else:
        assert isinstance(job, nl.Job)
        json.dumps(job.to_api())


@pytest.mark.parametrize("name", SPECS)
def test_the_specs_are_valid(name: str) -> None:
    assert isinstance(nl.parse_job(SPECS[name]), nl.Job)


# -- text mutations ---------------------------------------------------------------------

TOKENS = ["{", "}", "=", '"', "[", "]", ",", "<<EOF", "<<EOF\n", "${", "}}", "\n", "#", "//",
          "/*", "*/", ":", "?", "\\", "\t", "-", "0x", "1e999", "job", 'group "g" {',
          'task "t" {}', "null", "true", "=>", "'", "\x00", "\u00e9", "\u200b", "\r"]
VALUES = ["42", "-1", "0", "3.5", "1e3", "99999999999999999999999", '"text"', '""',
          '"1h30m"', '"-5s"', '"${oops"', '"${NOMAD_PORT_http}"', "true", "false", "[]",
          '["a", 1]', '[["nested"]]', "{ x = 1 }", "{}", "null", "x.y", "<<EOT\nheredoc\nEOT"]
NAMES = ["job", "group", "task", "config", "network", "port", "meta", "env", "resources",
         "constraint", "count", "driver", "vault", "consul", "variable", "locals", "dynamic",
         "connect", "check", "service", "template", "update", "periodic", "Job", "ID", "type"]
IDENTIFIERS = st.from_regex(r"\A[a-z_][a-z0-9_]{0,12}\Z") | st.sampled_from(NAMES)
ATTRIBUTE = re.compile(r'^([ \t]*)([A-Za-z_][\w-]*)([ \t]*=[ \t]*)(.*)$', re.M)
BLOCK_KEY = re.compile(r'^([ \t]*)([A-Za-z_][\w-]*)((?:[ \t]+"[^"\n]*")*)[ \t]*\{', re.M)

Mutation = Callable[[str, st.DataObject], str]


def _skip_string(text: str, i: int) -> int:
    """The index just past the string starting at ``text[i] == '"'``."""
    i += 1
    while i < len(text) and text[i] not in '"\n':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def blocks(text: str) -> list[tuple[int, int, int]]:
    """(start of the block's first line, its '{', its matching '}') for every block.

    A rough scan that skips strings, heredocs and comments; on mutated text it may pair
    braces oddly, which only makes for other broken specs.
    """
    found: list[tuple[int, int, int]] = []
    stack: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        heredoc = re.match(r"<<-?([A-Za-z_]\w*)\n", text[i:i + 40])
        if char == '"':
            i = _skip_string(text, i)
            continue
        if heredoc:
            end = re.compile(rf"^[ \t]*{heredoc.group(1)}$", re.M).search(text, i + heredoc.end())
            i = end.end() if end else len(text)
            continue
        if char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            opening = stack.pop()
            found.append((text.rfind("\n", 0, opening) + 1, opening, i))
        i += 1
    return found


def delete_char(text: str, data: st.DataObject) -> str:
    if not text:
        return text
    i = data.draw(st.integers(0, len(text) - 1), label="delete at")
    return text[:i] + text[i + 1:]


def delete_brace(text: str, data: st.DataObject) -> str:
    braces = [i for i, c in enumerate(text) if c in "{}[]"]
    if not braces:
        return text
    i = data.draw(st.sampled_from(braces), label="delete brace at")
    return text[:i] + text[i + 1:]


def insert_token(text: str, data: st.DataObject) -> str:
    i = data.draw(st.integers(0, len(text)), label="insert at")
    token = data.draw(st.sampled_from(TOKENS) | st.text(min_size=1, max_size=3), label="token")
    return text[:i] + token + text[i:]


def swap_value(text: str, data: st.DataObject) -> str:
    """``key = 1`` -> ``key = "1"``/``[..]``/``{..}``, or a block into ``name = value``."""
    attributes = list(ATTRIBUTE.finditer(text))
    block_list = blocks(text)
    if data.draw(st.booleans(), label="attribute, not block") and attributes:
        m = data.draw(st.sampled_from(attributes), label="attribute")
        value = data.draw(st.sampled_from(VALUES), label="new value")
        if data.draw(st.booleans(), label="as a block"):
            return text[:m.start()] + f"{m.group(1)}{m.group(2)} {value if value.startswith('{') else '{ a = ' + value + ' }'}" + text[m.end():]
        return text[:m.start(4)] + value + text[m.end(4):]
    if not block_list:
        return text
    start, _, closing = data.draw(st.sampled_from(block_list), label="block")
    key = BLOCK_KEY.match(text, start)
    name = key.group(2) if key else "block"
    value = data.draw(st.sampled_from(VALUES), label="value for block")
    return text[:start] + f"{name} = {value}" + text[closing + 1:]


def rename_key(text: str, data: st.DataObject) -> str:
    keys = [(m.start(2), m.end(2)) for m in ATTRIBUTE.finditer(text)]
    keys += [(m.start(2), m.end(2)) for m in BLOCK_KEY.finditer(text)]
    if not keys:
        return text
    start, end = data.draw(st.sampled_from(sorted(keys)), label="key")
    return text[:start] + data.draw(IDENTIFIERS, label="new name") + text[end:]


def move_block(text: str, data: st.DataObject) -> str:
    """Cut a block and paste it inside another one (or at the top level)."""
    block_list = blocks(text)
    if not block_list:
        return text
    start, _, closing = data.draw(st.sampled_from(block_list), label="moved block")
    piece = text[start:closing + 1]
    rest = text[:start] + text[closing + 1:]
    targets = [opening + 1 for _, opening, _ in blocks(rest)] + [0, len(rest)]
    at = data.draw(st.sampled_from(targets), label="paste at")
    return rest[:at] + "\n" + piece + "\n" + rest[at:]


def duplicate_line(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    return "\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])


def truncate(text: str, data: st.DataObject) -> str:
    return text[:data.draw(st.integers(0, len(text)), label="truncate at")]


MUTATIONS: dict[str, Mutation] = {
    "delete_char": delete_char, "delete_brace": delete_brace, "insert_token": insert_token,
    "swap_value": swap_value, "rename_key": rename_key, "move_block": move_block,
    "duplicate_line": duplicate_line, "truncate": truncate,
}


def test_the_scanner_finds_every_block() -> None:
    found = blocks(SYSTEM)
    assert len(found) == SYSTEM.count("{\n")  # heredoc braces ({{ env }}) are not blocks
    start, _, closing = max(found, key=lambda b: b[2] - b[1])
    assert SYSTEM[start:].lstrip().startswith('job "node-agent"')
    assert SYSTEM[closing] == "}" and SYSTEM[closing + 1:].strip() == ""


@pytest.mark.parametrize("mutation", MUTATIONS)
@FUZZ
@given(data=st.data())
def test_one_mutation(mutation: str, data: st.DataObject) -> None:
    text = SPECS[data.draw(st.sampled_from(sorted(SPECS)), label="spec")]
    check(MUTATIONS[mutation](text, data))


@pytest.mark.parametrize("name", SPECS)
def test_every_attribute_with_every_kind_of_value(name: str) -> None:
    """Exhaustively, not by chance: each ``key = value`` of the spec given each VALUES entry."""
    text = SPECS[name]
    attributes = list(ATTRIBUTE.finditer(text))
    assert len(attributes) > 10
    for m in attributes:
        for value in VALUES:
            check(text[:m.start(4)] + value + text[m.end(4):])


@pytest.mark.parametrize("name", SPECS)
def test_every_lost_brace_quote_and_cut(name: str) -> None:
    """Each brace, bracket or quote deleted in turn; the file cut short after each line."""
    text = SPECS[name]
    for i, char in enumerate(text):
        if char in '{}[]"':
            check(text[:i] + text[i + 1:])
    for i, char in enumerate(text):
        if char == "\n":
            check(text[:i])
            check(text[:i + 1])


@pytest.mark.parametrize("name", SPECS)
def test_every_block_in_every_other_block(name: str) -> None:
    """Wrong nesting: each block cut out and pasted inside each other block and at the top."""
    text = SPECS[name]
    for start, _, closing in blocks(text):
        piece = text[start:closing + 1]
        rest = text[:start] + text[closing + 1:]
        for at in [opening + 1 for _, opening, _ in blocks(rest)] + [0, len(rest)]:
            check(rest[:at] + "\n" + piece + "\n" + rest[at:])


@FUZZ
@given(data=st.data())
def test_several_mutations(data: st.DataObject) -> None:
    text = SPECS[data.draw(st.sampled_from(sorted(SPECS)), label="spec")]
    for name in data.draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=2, max_size=4),
                          label="mutations"):
        text = MUTATIONS[name](text, data)
    check(text)


# -- JSON -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)
JOB_KEYS = ["ID", "Name", "Type", "Priority", "Datacenters", "TaskGroups", "Tasks", "Count",
            "Resources", "CPU", "MemoryMB", "Networks", "ReservedPorts", "DynamicPorts",
            "Constraints", "Affinities", "Spreads", "Update", "Periodic", "Meta", "Config",
            "Services", "Checks", "Templates", "RestartPolicy", "Job", "Value", "Label"]
# Random objects that look like jobs, so the decoder and validator are reached.
JOBLIKE = st.recursive(
    JSON_VALUES,
    lambda children: st.dictionaries(st.sampled_from(JOB_KEYS), children, max_size=5)
    | st.lists(children, max_size=3),
    max_leaves=30,
)


@FUZZ
@given(value=JSON_VALUES | JOBLIKE, wrap=st.booleans())
def test_random_json(value: Any, wrap: bool) -> None:
    check(json.dumps({"Job": value} if wrap else value))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, path + (i,))
    return found


CANONICAL = {name: nl.parse_job(spec).to_api() for name, spec in SPECS.items()}


@FUZZ
@given(data=st.data())
def test_mutated_job_json(data: st.DataObject) -> None:
    """A canonical job's JSON with values replaced, keys dropped or added."""
    doc = copy.deepcopy(CANONICAL[data.draw(st.sampled_from(sorted(CANONICAL)), label="job")])
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from(_paths(doc)[1:]), label="path")
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add key"]), label="action")
        if action == "replace":
            parent[path[-1]] = data.draw(JSON_VALUES, label="new value")
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(JOB_KEYS) | st.text(max_size=8), label="key")] = \
                data.draw(JSON_VALUES, label="value")
    check(json.dumps({"Job": doc} if data.draw(st.booleans(), label="wrap") else doc, indent=1))
