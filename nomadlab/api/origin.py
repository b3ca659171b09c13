"""Who may call the HTTP API from a browser: pages of the API's own origin, on names that
are this machine's.

Why: the API runs commands on this machine (an exec task is a shell) and has no ACLs yet,
so a web page the learner happens to have open must not be able to drive it.  A browser
lets any page send a "simple" request to another site without asking first (a form POST,
or ``fetch`` with ``Content-Type: text/plain``); the page cannot read the answer, but the
job is registered all the same.  Two checks close that door:

* **Origin.**  A browser names the page behind a request in ``Origin`` (and says
  ``Sec-Fetch-Site: cross-site`` where it sends no Origin).  Any origin other than the
  API's own is refused unless allowed.
* **Host (DNS rebinding).**  A page at ``http://evil.example:4646`` whose name the
  attacker re-points at 127.0.0.1 is same-origin with itself, so the Origin check passes;
  its requests still say ``Host: evil.example:4646``.  While the API listens on loopback,
  only loopback names and addresses (and the bound address) are accepted as Host.

Clients that are not browsers (curl, the ``nomad`` CLI, python-nomad, ``nl.connect``) send
no Origin and a loopback Host, so nothing changes for them.

A refusal is a 403 with a plain-text message saying how to allow the caller.  403 rather
than 421 (Misdirected Request) for a foreign Host: 421 tells a client to retry on another
connection, which would be refused the same way, and 403 is what Jupyter, running next to
this in a workshop, answers for the same check.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional
from urllib.parse import urlsplit

from ..errors import Invalid

__all__ = ["OriginPolicy", "is_loopback"]

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """``localhost`` (and names under it, which browsers resolve themselves) or a
    loopback address; an IP literal may come with IPv6 brackets."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(text: str) -> Optional[tuple[str, str, int]]:
    """``scheme://host[:port]`` as (scheme, host, port), or None if it is not one."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname.rstrip("."), port or _DEFAULT_PORTS[parts.scheme]


def _host(text: str) -> Optional[tuple[str, Optional[int]]]:
    """A ``Host`` header (``name[:port]``, ``[::1]:port``) as (name, port), or None."""
    try:
        parts = urlsplit("//" + text.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path or parts.query or parts.username is not None:
        return None
    return parts.hostname.rstrip("."), port


@dataclass(frozen=True)
class OriginPolicy:
    """The checks for one listening address; :meth:`refusal` says why a request may not
    pass (or None when it may)."""

    host: str
    port: int
    allowed_origins: frozenset[tuple[str, str, int]] = frozenset()
    any_origin: bool = False
    allowed_hosts: frozenset[tuple[str, Optional[int]]] = frozenset()

    @classmethod
    def build(cls, host: str, port: int, allowed_origins: Iterable[str] = (),
              allowed_hosts: Iterable[str] = ()) -> "OriginPolicy":
        """Check the allow lists once, at start: a typo there would otherwise show up
        as a refusal much later."""
        origins: set[tuple[str, str, int]] = set()
        any_origin = False
        for text in allowed_origins:
            if text.strip() == "*":
                any_origin = True
                continue
            parsed = _origin(text)
            if parsed is None:
                raise Invalid(f"allowed origin {text!r} is not an origin: write it as a "
                              'browser does, scheme://host[:port] ("http://localhost:8888")')
            origins.add(parsed)
        hosts: set[tuple[str, Optional[int]]] = set()
        for text in allowed_hosts:
            parsed_host = _host(text)
            if parsed_host is None:
                raise Invalid(f"allowed host {text!r} is not a host name: write it as "
                              'name or name:port ("nomad.lab.example")')
            hosts.add(parsed_host)
        return cls(host=host, port=port, allowed_origins=frozenset(origins),
                   any_origin=any_origin, allowed_hosts=frozenset(hosts))

    @property
    def address(self) -> str:
        """The API's own address, as a user would type it."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def own_origin(self, origin: tuple[str, str, int]) -> bool:
        scheme, host, port = origin
        return (scheme == "http" and port == self.port
                and (host in _LOOPBACK_NAMES or host == self.host.lower()))

    def refusal(self, headers: Mapping[str, str]) -> Optional[str]:
        """Why this request (its lower-cased headers) is refused, or None."""
        return self._host_refusal(headers.get("host")) or self._origin_refusal(headers)

    def _origin_refusal(self, headers: Mapping[str, str]) -> Optional[str]:
        origin = headers.get("origin")
        if origin is None:
            if headers.get("sec-fetch-site", "").lower() == "cross-site":
                return ("Cross-site request refused: the browser says it comes from "
                        "another site (Sec-Fetch-Site: cross-site), and anyone who can drive "
                        "this API can run commands on this machine. Open "
                        f"{self.address} directly, or allow the page's origin: "
                        "nomadlab agent -dev -http-allowed-origin=<origin>, or "
                        'nl.dev(http=..., http_allowed_origins=["<origin>"])')
            return None
        parsed = _origin(origin)
        if self.any_origin or (parsed is not None and (
                self.own_origin(parsed) or parsed in self.allowed_origins)):
            return None
        return (f'Cross-origin request refused: Origin "{origin}" is not this agent\'s own '
                f"({self.address}), and anyone who can drive this API can run commands on "
                "this machine. To allow it: nomadlab agent -dev "
                f"-http-allowed-origin={origin}, or nl.dev(http=..., "
                f'http_allowed_origins=["{origin}"])')

    def _host_refusal(self, host: Optional[str]) -> Optional[str]:
        if host is None or not is_loopback(self.host):
            return None
        parsed = _host(host)
        if parsed is not None:
            name, port = parsed
            if (is_loopback(name) or name == self.host.lower()
                    or (name, None) in self.allowed_hosts or parsed in self.allowed_hosts):
                return None
        name = parsed[0] if parsed else host
        return (f'Request refused: Host "{host}" is not a loopback name or this agent\'s '
                f"address ({self.address}); a web page on a name that resolves to this "
                "machine must not reach the API (DNS rebinding). Use "
                f"{self.address}, or allow the name: nomadlab agent -dev "
                f'-http-allowed-host={name}, or nl.dev(http=..., http_allowed_hosts=["{name}"])')
