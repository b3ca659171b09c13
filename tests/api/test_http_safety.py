"""The HTTP API is safe by default: web pages on other sites (and DNS-rebound names) are
refused before anything happens, wrong methods and paths get Nomad's answers, bodies
and requests that are not what they claim get a 4xx with a message, and 20 clients at
once are all served."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
from typing import Any, Optional

import pytest
import requests

import nomadlab as nl
from nomadlab.api.http import MAX_DEPTH, decode_json
from nomadlab.api.routes import NOT_FOUND

from http_agent import eventually, job_api, serving

EVIL = "http://evil.example"

CRON = """
job "cron" {
  type = "batch"
  periodic {
    cron = "0 0 1 1 *"
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def cluster():
    with serving(clients=1, client_cpu=2000, client_memory=2048,
                 http_allowed_origins=["http://localhost:8888"],
                 http_allowed_hosts=["lab.example"]) as (agent, api):
        yield agent, api


def _job_body(job_id: str) -> str:
    return json.dumps({"Job": job_api(job_id)})


def _raw(agent: nl.Agent, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read one answer (the connection is closed after it)."""
    with socket.create_connection((agent.http.host, agent.http.port), timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


# -- cross-origin and DNS rebinding ---------------------------------------------------------

def test_a_cross_origin_post_is_refused_and_registers_nothing(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs", data=_job_body("from-evil"),
                 headers={"Origin": EVIL, "Content-Type": "text/plain"})
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "text/plain"
    assert f'Origin "{EVIL}"' in r.text and f"-http-allowed-origin={EVIL}" in r.text
    assert api.get("/v1/job/from-evil").status_code == 404
    assert "from-evil" not in [j.id for j in agent.jobs()]


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1:1", "https://127.0.0.1:{port}",
                                    "http://localhost:8889", "not an origin"])
def test_near_misses_of_the_own_origin_are_refused(cluster, origin: str) -> None:
    agent, api = cluster
    r = api.get("/v1/jobs", headers={"Origin": origin.format(port=agent.http.port)})
    assert r.status_code == 403, origin


def test_a_cross_site_request_without_origin_is_refused(cluster) -> None:
    agent, api = cluster
    r = api.get("/v1/jobs", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "Sec-Fetch-Site: cross-site" in r.text
    for site in ("same-origin", "none"):
        assert api.get("/v1/jobs", headers={"Sec-Fetch-Site": site}).status_code == 200


def test_same_origin_and_no_origin_are_accepted(cluster) -> None:
    agent, api = cluster
    port = agent.http.port
    for i, origin in enumerate([None, f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                                f"http://[::1]:{port}"]):
        headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"} if origin else {}
        r = api.post("/v1/jobs", data=_job_body(f"same-{i}"), headers=headers)
        assert r.status_code == 200, (origin, r.text)
        assert api.get(f"/v1/job/same-{i}").status_code == 200


def test_an_allowed_origin_is_accepted(cluster) -> None:
    agent, api = cluster
    r = api.post("/v1/jobs", data=_job_body("from-notebook"),
                 headers={"Origin": "http://localhost:8888", "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert "from-notebook" in [j.id for j in agent.jobs()]


def test_a_dns_rebinding_host_is_refused(cluster) -> None:
    agent, api = cluster
    port = agent.http.port
    for host in (f"evil.example:{port}", "evil.example", "127.0.0.1.evil.example"):
        r = api.post("/v1/jobs", data=_job_body("rebound"), headers={"Host": host})
        assert r.status_code == 403, host
        assert "DNS rebinding" in r.text and "-http-allowed-host=" in r.text
    assert "rebound" not in [j.id for j in agent.jobs()]
    for host in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", f"[::1]:{port}",
                 "localhost", "lab.example", f"lab.example:{port}"):
        assert api.get("/v1/jobs", headers={"Host": host}).status_code == 200, host


def test_allow_lists_are_checked_when_the_agent_starts() -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        nl.dev(clients=0, http=0, http_allowed_origins=["localhost:8888"])
    with pytest.raises(ValueError, match="is not a host name"):
        nl.dev(clients=0, http=0, http_allowed_hosts=["http://lab.example/x"])


def test_any_origin_when_asked(cluster) -> None:
    with serving(clients=0, http_allowed_origins=["*"]) as (agent, api):
        assert api.get("/v1/jobs", headers={"Origin": EVIL}).status_code == 200
        assert api.get("/v1/jobs", headers={"Host": "evil.example"}).status_code == 403


def test_binding_beyond_loopback_warns(capsys) -> None:
    agent = nl.dev(clients=0, http="0.0.0.0:0")
    try:
        err = capsys.readouterr().err
        assert f"listens on http://0.0.0.0:{agent.http.port}, not on loopback" in err
        assert "anyone who can reach this address can run commands on this machine" in err
        # the Host check is for loopback only; the Origin check stays
        api = requests.Session()
        url = f"http://127.0.0.1:{agent.http.port}/v1/jobs"
        assert api.get(url, headers={"Host": "lab.example"}, timeout=10).status_code == 200
        assert api.get(url, headers={"Origin": EVIL}, timeout=10).status_code == 403
    finally:
        agent.shutdown()
    with serving(clients=0) as _:
        assert "not on loopback" not in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_agent_command_takes_allowed_origins() -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nomadlab", "agent", "-dev", "-clients", "0",
                             "-http-port", str(port),
                             "-http-allowed-origin", "http://localhost:8888",
                             "-http-allowed-origin=http://lab.example"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1/jobs"

    def answer(origin: Optional[str] = None) -> Optional[int]:
        try:
            return requests.get(url, headers={"Origin": origin} if origin else {},
                                timeout=5).status_code
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            return None

    try:
        eventually(answer, timeout=30, what="the agent's HTTP API")
        assert answer("http://localhost:8888") == 200
        assert answer("http://lab.example") == 200
        assert answer(EVIL) == 403
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    bad = subprocess.run([sys.executable, "-m", "nomadlab", "agent", "-dev", "-clients", "0",
                          "-http-port", "0", "-http-allowed-origin", "lab.example"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "Error starting agent: allowed origin 'lab.example' is not an origin" in bad.stderr


# -- methods and paths ----------------------------------------------------------------------

@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/v1/jobs", "GET, HEAD, POST, PUT"),
    ("PATCH", "/v1/job/x", "DELETE, GET, HEAD, POST, PUT"),
    ("GET", "/v1/job/x/plan", "POST, PUT"),
    ("POST", "/v1/nodes", "GET, HEAD"),
    ("DELETE", "/v1/status/leader", "GET, HEAD"),
])
def test_405_says_which_methods_the_path_has(cluster, method: str, path: str,
                                             allow: str) -> None:
    agent, api = cluster
    r = api.call(method, path)
    assert (r.status_code, r.text, r.headers.get("Allow")) == (405, "Invalid method", allow)


@pytest.mark.parametrize("path", ["/v1/job/x/nonsense", "/v1/job/x/allocations/more",
                                  "/v1/nodes/zzz", "/v1/node/x/y/z", "/v1/nothing-here", "/"])
def test_unknown_paths_are_unknown_routes(cluster, path: str) -> None:
    agent, api = cluster
    for method in ("GET", "POST"):
        r = api.call(method, path, data="{}")
        assert (r.status_code, r.text) == (404, NOT_FOUND), (method, path)


def test_a_launched_child_keeps_its_slash(cluster) -> None:
    """Only IDs of launched children hold a slash; those still resolve unescaped."""
    agent, api = cluster
    assert api.post("/v1/jobs", json={"Job": job_api(text=CRON)}).status_code == 200
    child = api.post("/v1/job/cron/periodic/force").json()
    child_id = agent.eval(child["EvalID"]).job_id
    assert child_id.startswith("cron/periodic-")
    for path in (f"/v1/job/{child_id}", f"/v1/job/{child_id.replace('/', '%2F')}"):
        assert api.get(path).json()["ID"] == child_id
    assert api.get(f"/v1/job/{child_id}/summary").status_code == 200
    assert api.get(f"/v1/job/{child_id}/nonsense").status_code == 404


# -- bodies and requests that are not what they claim ----------------------------------------

@pytest.mark.parametrize("body, message", [
    (b"[" * 1000 + b"]" * 1000, f"nested deeper than {MAX_DEPTH} levels"),
    (b'{"Job": ' * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
    (b'{"Job": {"ID": "caf\xe9"}}', "not UTF-8 (byte 0xe9 at offset 19)"),
    ('{"Job": {"ID": "x"}}'.encode("utf-16"), "not UTF-8"),
    (b'{"Job": {"Priority": NaN}}', "NaN is not a JSON value"),
    (b'{"Job": {"Priority": ' + b"9" * 5000 + b"}}", "(5000 digits) is out of range"),
    (b'{"Job": ', "Expecting value"),
])
def test_bad_bodies_get_400_with_a_message(cluster, body: bytes, message: str) -> None:
    agent, api = cluster
    for path in ("/v1/jobs", "/v1/job/x/plan", "/v1/node/x/drain", "/v1/job/x/scale"):
        r = api.post(path, data=body)
        assert r.status_code == 400 and message in r.text, (path, r.status_code, r.text)


def test_big_numbers_decode(cluster) -> None:
    """A number Python can hold is the handlers' to judge, field by field."""
    assert decode_json(b'{"Count": 1000000000000000000000000000000, "F": 1e300}') == \
        {"Count": 10**30, "F": 1e300}
    assert decode_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize("request_bytes, status, message", [
    (b"GARBAGE\r\n\r\n", 400, "Bad request syntax"),
    (b"POST /v1/jobs HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{", 413,
     "Request body of 99999999999 bytes is larger than"),
    (b"POST /v1/jobs HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "is not one number"),
    (b"POST /v1/jobs HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400,
     "is not one number"),
    (b"POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
     "malformed chunked request body"),
    (b"POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx0\r\n\r\n", 400,
     "malformed chunked request body"),
    (b"POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", 400,
     "both Content-Length and Transfer-Encoding"),
    (b"POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "not supported"),
    (b"POST /v1/jobs HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 400, "ended after 3 of"),
])
def test_garbage_requests_get_a_4xx_with_a_message(cluster, request_bytes: bytes, status: int,
                                                   message: str) -> None:
    agent, api = cluster
    if request_bytes.endswith(b"abc"):   # a body cut short: the client stops sending
        with socket.create_connection((agent.http.host, agent.http.port), timeout=10) as sock:
            sock.sendall(request_bytes)
            sock.shutdown(socket.SHUT_WR)
            response = http.client.HTTPResponse(sock)
            response.begin()
            got = (response.status, response.headers, response.read())
    else:
        got = _raw(agent, request_bytes)
    code, headers, body = got
    assert code == status and message in body.decode(), (code, body)
    assert headers["Content-Type"] == "text/plain" and headers["Connection"] == "close"
    assert api.get("/v1/jobs").status_code == 200


def test_a_chunked_body_is_read(cluster) -> None:
    """Go's HTTP client sends a body of unknown length chunked."""
    agent, api = cluster
    data = _job_body("chunked").encode()

    def chunks() -> Any:
        yield data[:100]
        yield data[100:]

    r = api.post("/v1/jobs", data=chunks())
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 200, r.text
    assert api.get("/v1/job/chunked").json()["ID"] == "chunked"
    assert api.get("/v1/jobs").status_code == 200   # the same connection goes on


# -- many clients at once ---------------------------------------------------------------------

CLIENTS = 20
ROUNDS = 25
LISTS = ("/v1/jobs", "/v1/allocations", "/v1/nodes", "/v1/evaluations")


def test_20_keep_alive_clients_at_once_are_all_served(cluster) -> None:
    agent, api = cluster
    api.post("/v1/jobs", data=_job_body("listed"))
    eventually(lambda: api.get("/v1/job/listed/allocations").json(),
               what="an allocation to list")
    start = threading.Barrier(CLIENTS)
    statuses: list[list[int]] = [[] for _ in range(CLIENTS)]
    sockets: list[set[int]] = [set() for _ in range(CLIENTS)]
    failures: list[BaseException] = []

    def client(i: int) -> None:
        try:
            conn = http.client.HTTPConnection(agent.http.host, agent.http.port, timeout=60)
            start.wait(timeout=60)        # all 20 connect at the same moment
            conn.connect()
            for n in range(ROUNDS):
                conn.request("GET", LISTS[(i + n) % len(LISTS)])
                response = conn.getresponse()
                response.read()
                statuses[i].append(response.status)
                sockets[i].add(conn.sock.getsockname()[1])
            conn.close()
        except BaseException as exc:  # a reset, a timeout: reported below
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert all(s == [200] * ROUNDS for s in statuses), statuses
    assert all(len(s) == 1 for s in sockets), "every client kept its one connection"
