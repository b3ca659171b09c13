"""The HTTP transport: a threaded server on loopback that hands requests to the routes.

Why the standard library's ``ThreadingHTTPServer``: every request gets its own thread, so
a blocking query (``?index=N&wait=5m``) or an event stream simply waits on the state
store's condition variable without holding anyone else up, and nothing here touches the
notebook's event loop.  Keep-alive (HTTP/1.1) lets clients such as python-nomad's
``requests.Session`` reuse one connection.

Nothing a client sends may take the agent down: every handler error is translated into
Nomad's status code and message (:mod:`.errors`), and a client that hangs up mid-stream
only ends its own thread.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Union
from urllib.parse import parse_qs, urlsplit

from .errors import HTTPError, to_http_error

if TYPE_CHECKING:
    from ..agent import Agent

__all__ = ["APIServer", "Request", "Reply", "Stream", "MAX_BODY"]

log = logging.getLogger(__name__)

#: Bodies larger than this are refused (Nomad's job register limit is in the same range).
MAX_BODY = 16 * 1024 * 1024


@dataclass
class Request:
    """One request, as the route handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter the way Go's strconv.ParseBool reads it."""
        raw = self.arg(name)
        if raw == "":
            return default if name not in self.query else True
        lowered = raw.lower()
        if lowered in ("1", "t", "true"):
            return True
        if lowered in ("0", "f", "false"):
            return False
        raise HTTPError(400, f'Failed to parse value of "{name}" ({raw!r}) as a bool')

    def int_arg(self, name: str, default: int = 0) -> int:
        raw = self.arg(name)
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise HTTPError(400, f'Failed to parse value of "{name}" ({raw!r}) as an '
                                 "integer") from None

    @property
    def namespace(self) -> str:
        return self.arg("namespace") or self.headers.get("x-nomad-namespace", "") or "default"

    def json(self, required: bool = True) -> Any:
        """The decoded body; 400 with Go's decoder wording when it is missing or bad."""
        if not self.body.strip():
            if required:
                raise HTTPError(400, "Request body is empty")
            return None
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPError(400, f"Failed to decode request body: {exc}") from None


@dataclass
class Reply:
    """A complete response.  ``index`` becomes Nomad's X-Nomad-* query-meta headers."""

    body: Any = None
    status: int = 200
    index: Optional[int] = None
    content_type: str = "application/json"
    raw: Optional[bytes] = None     # already-encoded body (a cached list, plain text logs)

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass
class Stream:
    """A streamed response (event stream, followed logs), sent with chunked encoding."""

    chunks: Iterator[bytes]
    content_type: str = "application/json"
    index: Optional[int] = None
    on_close: Callable[[], None] = lambda: None


Handler = Callable[[Request], Union[Reply, Stream]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nomadlab"
    # Headers and body leave in separate writes; with Nagle's algorithm on, the body
    # would wait for the client's delayed ACK (40 ms per request on Linux).
    disable_nagle_algorithm = True
    # A client that connects and then sends nothing gives its thread back after this long
    # (an idle keep-alive connection is closed; clients simply reconnect).
    timeout = 120
    server: "_Server"

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send_reply(Reply(raw=b"Request body too large or malformed", status=413,
                                   content_type="text/plain"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = Request(method=self.command, path=split.path,
                          query=parse_qs(split.query, keep_blank_values=True),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        reply = self.server.api.handle(request)
        if isinstance(reply, Stream):
            self._send_stream(reply)
        else:
            self._send_reply(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _meta_headers(self, index: Optional[int]) -> None:
        if index is not None:
            self.send_header("X-Nomad-Index", str(index))
            self.send_header("X-Nomad-LastContact", "0")
            self.send_header("X-Nomad-KnownLeader", "true")

    def _send_reply(self, reply: Reply) -> None:
        data = reply.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        self._meta_headers(reply.index)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_stream(self, stream: Stream) -> None:
        self.send_response(200)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self._meta_headers(stream.index)
        self.end_headers()
        try:
            for chunk in stream.chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                if self.server.closing.is_set():
                    break
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        finally:
            stream.on_close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: "APIServer"
    closing: threading.Event


class APIServer:
    """Nomad's HTTP API for one agent, served from a background thread.

    ``port=0`` picks a free port; :attr:`address` says which (``http://127.0.0.1:PORT``).
    """

    def __init__(self, agent: "Agent", host: str = "127.0.0.1", port: int = 4646) -> None:
        from .routes import Router
        self.agent = agent
        self.router = Router(agent)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.api = self
        self._httpd.closing = threading.Event()
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"nomadlab-http-{self.port}", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def closing(self) -> threading.Event:
        """Set at shutdown: blocking queries and streams end early."""
        return self._httpd.closing

    def handle(self, request: Request) -> Union[Reply, Stream]:
        """Route one request; every error becomes Nomad's status code and message."""
        try:
            return self.router.dispatch(request, self)
        except Exception as exc:  # the boundary: nothing a client sends may escape
            err = to_http_error(exc)
            if err.status == 500 and not isinstance(exc, HTTPError):  # a bug: keep its trace
                log.exception("%s %s failed", request.method, request.path)
            return Reply(raw=err.message.encode(), status=err.status, content_type="text/plain")

    def shutdown(self) -> None:
        self._httpd.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
