"""A nomadlab agent in a subprocess, as a user runs it, for tests that kill it (SIGKILL)
and start it again on the same data dir."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

__all__ = ["AgentProcess", "api", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AgentProcess:
    """``python -m nomadlab agent -dev -data-dir D`` in a subprocess, read line by line
    (``data_dir`` None: no ``-data-dir``)."""

    def __init__(self, data_dir: Optional[Path], port: int, clients: int = 0) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nomadlab", "agent", "-dev", "-clients", str(clients),
             *(["-data-dir", str(data_dir)] if data_dir is not None else []),
             "-http-port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Nomad agent started!" in line:
                self._started.set()
        self._started.set()

    def wait_started(self) -> None:
        assert self._started.wait(60), "".join(self.lines)
        assert self.proc.poll() is None, "".join(self.lines)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
        self._reader.join(10)


def api(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
