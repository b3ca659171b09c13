"""Shared by the HTTP API tests: a live agent on a free loopback port, a session that
checks every answer against Nomad's OpenAPI document, and small job specs."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import requests
import yaml
from jsonschema import Draft4Validator

import nomadlab as nl

DOCUMENT = yaml.safe_load((Path(__file__).parents[1] / "data" / "nomad-openapi.yaml")
                          .read_text(encoding="utf-8"))
PATHS: dict[str, Any] = DOCUMENT["paths"]

SLEEPER = """
job "%(id)s" {
  datacenters = ["dc1"]
  group "g" {
    count = %(count)d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo started $NOMAD_ALLOC_INDEX; echo oops >&2; sleep 300"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def job_api(job_id: str = "web", count: int = 1, text: Optional[str] = None) -> dict[str, Any]:
    """A canonical job as API JSON (what `nomad job run` sends as {"Job": ...})."""
    return nl.parse_job(text or SLEEPER % {"id": job_id, "count": count}).to_api()


def _without_nulls(value: Any) -> Any:
    """Go encodes nil slices, maps and pointers as null, which Nomad's generated schemas
    do not model (no "nullable"); real Nomad answers carry the same nulls."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


def _template(path: str) -> Optional[str]:
    """The OpenAPI path template ("/job/{jobName}/plan") that a request path matches."""
    bare = path[len("/v1"):] if path.startswith("/v1") else path
    best = None
    for template in PATHS:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, bare) and (best is None or template.count("{") < best.count("{")):
            best = template
    return best


def response_schema(path: str, method: str, status: int = 200) -> Optional[dict[str, Any]]:
    template = _template(path)
    if template is None:
        return None
    operation = PATHS[template].get(method.lower())
    if operation is None:
        return None
    response = operation["responses"].get(str(status))
    if response is None:
        return None
    ref = response.get("$ref", "")
    if ref:
        response = DOCUMENT["components"]["responses"][ref.rsplit("/", 1)[1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return schema


def schema_errors(path: str, method: str, body: Any, status: int = 200) -> list[str]:
    schema = response_schema(path, method, status)
    if schema is None:
        return []
    validator = Draft4Validator({**DOCUMENT, **schema},
                                format_checker=Draft4Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(_without_nulls(body))]


class API:
    """requests against the agent; every JSON answer is validated against the OpenAPI
    schema of its path (when the document has one) and the results are kept."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.session = requests.Session()
        self.validated: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        response = self.session.request(method, self.address + path, **kwargs)
        if response.ok and response.headers.get("Content-Type") == "application/json" \
                and not kwargs.get("stream"):
            problems = schema_errors(path, method, response.json())
            assert not problems, f"{method} {path} does not match Nomad's schema: {problems}"
            if response_schema(path, method) is not None:
                self.validated.append(f"{method} {_template(path)}")
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


@contextmanager
def serving(**kwargs: Any) -> Iterator[tuple[nl.Agent, API]]:
    """An agent with its HTTP API on a free loopback port."""
    kwargs.setdefault("http", 0)
    agent = nl.dev(**kwargs)
    try:
        assert agent.http_addr is not None
        yield agent, API(agent.http_addr)
    finally:
        agent.shutdown()


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
