"""A small client for Nomad's HTTP API, nomadlab's own or a real cluster's.

It reads the environment the ``nomad`` CLI reads (NOMAD_ADDR, NOMAD_TOKEN,
NOMAD_NAMESPACE, NOMAD_REGION) and translates failures once, here, into
:class:`APIError` (the server answered with an error) or :class:`ConnectionFailed`
(nobody answered); both print the way Nomad's CLI prints them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import httpx

__all__ = ["Client", "NomadError", "APIError", "ConnectionFailed", "DEFAULT_ADDRESS",
           "Response"]

DEFAULT_ADDRESS = "http://127.0.0.1:4646"


class NomadError(Exception):
    """Anything that went wrong talking to a Nomad API."""


class APIError(NomadError):
    """An error answer: the status code and the message the server sent.

    ``str()`` is what Nomad's Go API client returns, so a command prints
    ``Error querying job: Unexpected response code: 404 (job not found)``.
    """

    def __init__(self, status: int, message: str, path: str) -> None:
        super().__init__(status, message, path)
        self.status = status
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"Unexpected response code: {self.status} ({self.message})"


class ConnectionFailed(NomadError):
    """No answer at all (wrong address, agent not running)."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        super().__init__(method, url, reason)
        self.url = url
        self.reason = reason
        self.method = method

    def __str__(self) -> str:
        return f'{self.method.title()} "{self.url}": {self.reason}'


@dataclass
class Response:
    """A decoded answer and the index Nomad stamps on it (X-Nomad-Index)."""

    data: Any
    index: int


class Client:
    """``get``/``put``/``post``/``delete`` on ``/v1/...`` paths, returning decoded JSON."""

    def __init__(self, address: Optional[str] = None, token: Optional[str] = None,
                 namespace: Optional[str] = None, region: Optional[str] = None,
                 timeout: float = 30.0) -> None:
        self.address = (address or os.environ.get("NOMAD_ADDR") or DEFAULT_ADDRESS).rstrip("/")
        self.token = token if token is not None else os.environ.get("NOMAD_TOKEN") or None
        self.namespace = namespace or os.environ.get("NOMAD_NAMESPACE") or None
        self.region = region or os.environ.get("NOMAD_REGION") or None
        headers = {"X-Nomad-Token": self.token} if self.token else {}
        self._http = httpx.Client(base_url=self.address, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(self, params: Optional[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.region:
            out["region"] = self.region
        for key, value in (params or {}).items():
            if value is None:
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else value
        return out

    def request(self, method: str, path: str, params: Optional[dict[str, Any]] = None,
                body: Any = None, raw: bool = False) -> Response:
        try:
            response = self._http.request(method, path, params=self._params(params),
                                          json=body if body is not None else None)
        except httpx.HTTPError as err:
            raise ConnectionFailed(method, f"{self.address}{path}", _reason(err)) from None
        if response.status_code >= 400:
            raise APIError(response.status_code, response.text.strip(), path)
        index = int(response.headers.get("X-Nomad-Index", "0") or 0)
        if raw:
            return Response(response.text, index)
        if not response.content:
            return Response(None, index)
        try:
            return Response(response.json(), index)
        except ValueError:
            raise APIError(response.status_code, "response is not JSON: "
                           f"{response.text[:200]!r}", path) from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params).data

    def put(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("PUT", path, params, body).data

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, params, body).data

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params).data

    def stream_text(self, path: str, **params: Any) -> Iterator[str]:
        """A streaming plain-text endpoint (``/v1/client/fs/logs/...?follow=true``)."""
        try:
            with self._http.stream("GET", path, params=self._params(params),
                                   timeout=httpx.Timeout(10.0, read=None)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise APIError(response.status_code, response.text.strip(), path)
                yield from response.iter_text()
        except httpx.HTTPError as err:
            raise ConnectionFailed("GET", f"{self.address}{path}", _reason(err)) from None


def _reason(err: httpx.HTTPError) -> str:
    """Go's wording for the common case, so the message reads as ``nomad``'s does."""
    text = str(err) or type(err).__name__
    request = getattr(err, "_request", None)
    if isinstance(err, httpx.ConnectError) and "refused" in text.lower() and request is not None:
        url = request.url
        return f"dial tcp {url.host}:{url.port}: connect: connection refused"
    return text
