"""The API client sends what the ``nomad`` CLI sends: X-Nomad-Token, ?namespace=,
?region= from NOMAD_TOKEN, NOMAD_NAMESPACE and NOMAD_REGION (or the arguments), checked
by a plain HTTP server that records each request as it arrives."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

import nomadlab as nl
from nomadlab.api.client import APIError, Client

SEEN: list[dict] = []


class Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        SEEN.append({"path": url.path, "query": parse_qs(url.query),
                     "token": self.headers.get("X-Nomad-Token")})
        if url.path == "/v1/job/missing":
            body, status = b"job not found", 404
        else:
            body, status = json.dumps([]).encode(), 200
        self.send_response(status)
        self.send_header("X-Nomad-Index", "42")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_environment_becomes_header_and_query(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_ADDR", server)
    monkeypatch.setenv("NOMAD_TOKEN", "s3cret")
    monkeypatch.setenv("NOMAD_NAMESPACE", "team-a")
    monkeypatch.setenv("NOMAD_REGION", "eu")
    remote = nl.connect()
    assert remote.jobs() == []
    assert remote.index == 42
    assert SEEN[0] == {"path": "/v1/jobs", "query": {"namespace": ["team-a"], "region": ["eu"]},
                       "token": "s3cret"}


def test_arguments_win_over_the_environment(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_TOKEN", "from-env")
    monkeypatch.delenv("NOMAD_NAMESPACE", raising=False)
    monkeypatch.delenv("NOMAD_REGION", raising=False)
    nl.connect(server, token="given", namespace="ops").evals()
    assert SEEN[-1] == {"path": "/v1/evaluations", "query": {"namespace": ["ops"]}, "token": "given"}
    with pytest.raises(APIError) as err:
        Client(server, token="").get("/v1/job/missing")
    assert str(err.value) == "Unexpected response code: 404 (job not found)"
    assert SEEN[-1]["token"] is None
