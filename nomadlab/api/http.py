"""The HTTP transport: a threaded server on loopback that hands requests to the routes.

Why the standard library's ``ThreadingHTTPServer``: every request gets its own thread, so
a blocking query (``?index=N&wait=5m``) or an event stream simply waits on the state
store's condition variable without holding anyone else up, and nothing here touches the
notebook's event loop.  Keep-alive (HTTP/1.1) lets clients such as python-nomad's
``requests.Session`` reuse one connection.

Why a thread per connection and no bounded pool: a connection holds its thread for as
long as a blocking query (up to 10 minutes) or an event stream lasts, so a pool of N would
let N watchers starve every other caller (Nomad, on goroutines, has no such limit either).
The listen backlog is the system's (``SOMAXCONN``, as Go's listener uses) rather than the
standard library's 5, so a burst of clients connecting at once waits in the queue instead
of having its connections dropped or reset.

Nothing a client sends may take the agent down: every handler error is translated into
Nomad's status code and message (:mod:`.errors`); a body that is too big, too deep, not
UTF-8 or not HTTP at all gets a 4xx with a plain-text message; and a client that hangs up
mid-stream only ends its own thread.  Requests from other web sites are refused before
they reach a route (:mod:`.origin`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Union
from urllib.parse import parse_qs, urlsplit

from ..structs.identity import Identity
from .errors import HTTPError, to_http_error
from .origin import OriginPolicy, is_loopback

if TYPE_CHECKING:
    from ..cluster import LocalCluster

__all__ = ["APIServer", "Request", "Reply", "Stream", "EncodedJSON", "MAX_BODY", "MAX_DEPTH",
           "decode_json", "encode_json"]

log = logging.getLogger(__name__)

#: Bodies larger than this are refused (Nomad's job register limit is in the same range).
MAX_BODY = 16 * 1024 * 1024

#: JSON nested deeper than this is refused.  A job is about a dozen levels deep, and the
#: handlers walk bodies recursively on a stack of about 1,000 Python frames.
MAX_DEPTH = 128

#: A number needing more digits than this is outside a 64-bit float (Go refuses it
#: whatever field it is for); Python would spend time parsing it or refuse it with a hint
#: about sys.set_int_max_str_digits.
_MAX_DIGITS = 309

#: A chunk-size line of a chunked body (hex size, maybe extensions) is never longer.
_MAX_CHUNK_LINE = 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")

TEXT = "text/plain"


def _body_error(detail: str) -> HTTPError:
    return HTTPError(400, f"Failed to decode request body: {detail}")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise _body_error(f"number {text[:12]}... ({len(text)} digits) is out of range")
    return int(text)


def _parse_constant(name: str) -> Any:
    raise _body_error(f"{name} is not a JSON value")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels (walked without recursion)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def decode_json(body: bytes) -> Any:
    """A request body as JSON the way Go's decoder takes it: UTF-8 only, no NaN or
    Infinity, numbers within a 64-bit float; and no deeper than :data:`MAX_DEPTH`.
    Anything else is a 400 that says what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _body_error(f"not UTF-8 (byte 0x{body[exc.start]:02x} at offset "
                          f"{exc.start})") from None
    try:
        value = json.loads(text, parse_int=_parse_int,
                           parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise _body_error(str(exc)) from None
    except RecursionError:
        raise _body_error(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if _deeper_than(value, MAX_DEPTH):
        raise _body_error(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def encode_json(value: Any) -> bytes:
    """A value as every JSON answer is sent: compact, no spaces."""
    return json.dumps(value, separators=(",", ":")).encode()


class EncodedJSON(bytes):
    """A JSON body already encoded, sent as is (a list joined from cached stubs)."""

    @classmethod
    def array(cls, items: Iterable[bytes]) -> "EncodedJSON":
        """A JSON array of already-encoded items: the bytes :func:`encode_json` gives
        for the list of their values."""
        return cls(b"[" + b",".join(items) + b"]")


@dataclass
class Request:
    """One request, as the route handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    #: Set by the router: the server's shutdown signal (streams end on it) and where it
    #: listens (``/v1/agent/self`` says so).
    closing: threading.Event = field(default_factory=threading.Event)
    bind: tuple[str, int] = ("127.0.0.1", 4646)

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

    @property
    def identity(self) -> Identity:
        """Who asks: the token as Nomad looks it up (``X-Nomad-Token``, else
        ``Authorization: Bearer``), the namespace and the region."""
        token = self.headers.get("x-nomad-token", "")
        if not token:
            scheme, _, value = self.headers.get("authorization", "").partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else ""
        return Identity(token=token, namespace=self.namespace,
                        region=self.arg("region") or "global")

    def json(self, required: bool = True) -> Any:
        """The decoded body (:func:`decode_json`); 400 when it is missing or bad."""
        if not self.body.strip():
            if required:
                raise HTTPError(400, "Request body is empty")
            return None
        return decode_json(self.body)


@dataclass
class Reply:
    """A complete response.  ``index`` becomes Nomad's X-Nomad-* query-meta headers."""

    body: Any = None
    status: int = 200
    index: Optional[int] = None
    content_type: str = "application/json"
    raw: Optional[bytes] = None     # already-encoded body (a cached list, plain text logs)
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if isinstance(self.body, EncodedJSON):
            return bytes(self.body)
        return encode_json(self.body)


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
    # A request line the standard library cannot parse is answered with a status line too
    # (with its default, HTTP/0.9, the client would get a bare body).
    default_request_version = "HTTP/1.0"
    server_version = "nomadlab"
    # Headers and body leave in separate writes; with Nagle's algorithm on, the body
    # would wait for the client's delayed ACK (40 ms per request on Linux).
    disable_nagle_algorithm = True
    # A client that connects and then sends nothing gives its thread back after this long
    # (an idle keep-alive connection is closed; clients simply reconnect).
    timeout = 120
    server: "_Server"

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except HTTPError as err:  # where the next request starts is unknown: hang up after
            self.close_connection = True
            self._send_reply(Reply(raw=err.message.encode(), status=err.status,
                                   content_type=TEXT))
            return
        split = urlsplit(self.path)
        request = Request(method=self.command, path=split.path,
                          query=parse_qs(split.query, keep_blank_values=True),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        reply = self.server.api.handle(request)
        if isinstance(reply, Stream):
            self._send_stream(reply)
        else:
            self._send_reply(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        """The whole body, by Content-Length or chunked (Go's HTTP client may send
        either), at most :data:`MAX_BODY` bytes."""
        encoding = self.headers.get("Transfer-Encoding")
        lengths = set(self.headers.get_all("Content-Length") or ())
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise HTTPError(400, f"Transfer-Encoding {encoding!r} is not supported: "
                                     "send the body with Content-Length or chunked")
            if lengths:
                raise HTTPError(400, "a request may not carry both Content-Length and "
                                     "Transfer-Encoding")
            return self._read_chunked()
        if not lengths:
            return b""
        text = lengths.pop().strip()
        if lengths or not text.isdigit():
            raise HTTPError(400, f"Content-Length {self.headers.get('Content-Length')!r} is "
                                 "not one number of bytes")
        length = int(text)
        if length > MAX_BODY:
            raise self._too_large(length)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise HTTPError(400, f"request body ended after {len(body)} of its {length} bytes")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
                raise HTTPError(400, f"malformed chunked request body: chunk size line "
                                     f"{line[:40]!r} is not a hexadecimal size")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                raise self._too_large(len(body) + size)
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.read(2) != b"\r\n":
                raise HTTPError(400, "malformed chunked request body: a chunk is shorter "
                                     "than its size or not followed by CRLF")
            body += chunk
        for _ in range(64):  # trailer fields, then the blank line
            if self.rfile.readline(_MAX_CHUNK_LINE + 1) in (b"\r\n", b"\n", b""):
                return bytes(body)
        raise HTTPError(400, "malformed chunked request body: too many trailer lines")

    @staticmethod
    def _too_large(length: int) -> HTTPError:
        return HTTPError(413, f"Request body of {length} bytes is larger than the "
                              f"{MAX_BODY} bytes this agent accepts")

    def send_error(self, code: int, message: Optional[str] = None,
                   explain: Optional[str] = None) -> None:
        """What the standard library refuses itself (a request line or headers it cannot
        parse): plain text like every other error, and the connection closed."""
        self.close_connection = True
        text = message or self.responses.get(code, ("Bad request",))[0]
        self._send_reply(Reply(raw=text.encode("utf-8", "replace"), status=code,
                               content_type=TEXT))

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
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
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
    request_queue_size = socket.SOMAXCONN
    api: "APIServer"
    closing: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is no error of ours (the standard library would print
        a traceback to stderr); anything else is a bug, logged with its trace."""
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            log.debug("client %s hung up", client_address)
            return
        log.exception("request from %s failed", client_address)


class APIServer:
    """Nomad's HTTP API for one agent, served from a background thread.

    ``port=0`` picks a free port; :attr:`address` says which (``http://127.0.0.1:PORT``).
    Browsers may call it only from its own origin, on a loopback name; ``allowed_origins``
    (``"http://localhost:8888"``, or ``"*"`` for any) and ``allowed_hosts``
    (``"lab.example"``) let others in (:mod:`.origin`).
    """

    def __init__(self, agent: "LocalCluster", host: str = "127.0.0.1", port: int = 4646, *,
                 allowed_origins: Iterable[str] = (), allowed_hosts: Iterable[str] = ()) -> None:
        from .routes import Router
        policy = OriginPolicy.build(host, port, allowed_origins, allowed_hosts)
        self.agent = agent
        self.router = Router(agent)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.api = self
        self._httpd.closing = threading.Event()
        self.policy = dataclasses.replace(policy, host=self.host, port=self.port)
        if not is_loopback(self.host):
            _warn_exposed(self.address)
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
        refusal = self.policy.refusal(request.headers)
        if refusal is not None:
            log.warning("%s %s refused: %s", request.method, request.path, refusal)
            return Reply(raw=refusal.encode(), status=403, content_type=TEXT)
        try:
            return self.router.dispatch(request, self)
        except Exception as exc:  # the boundary: nothing a client sends may escape
            err = to_http_error(exc)
            if err.status == 500 and not isinstance(exc, HTTPError):  # a bug: keep its trace
                log.exception("%s %s failed", request.method, request.path)
            return Reply(raw=err.message.encode(), status=err.status, content_type=TEXT,
                         headers=err.headers)

    def shutdown(self) -> None:
        self._httpd.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _warn_exposed(address: str) -> None:
    """Said on stderr (a user starting the agent sees it) and logged (a notebook or a
    service keeps it), when the API is reachable from other machines."""
    message = (f"WARNING: the HTTP API listens on {address}, not on loopback: anyone who can "
               "reach this address can run commands on this machine (nomadlab has no ACLs "
               "yet). Bind 127.0.0.1 unless every network that reaches it is trusted.")
    print(message, file=sys.stderr, flush=True)
    if log.hasHandlers():  # without a handler, logging's last resort would print it twice
        log.warning(message)
