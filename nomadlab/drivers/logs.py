"""Task logs as Nomad's logmon keeps them: ``<task>.<stream>.<n>``, rotated by size.

A new file starts when the current one reaches ``max_file_size_mb``; beyond
``max_files`` files the oldest are deleted.  The index only grows, so the newest output is
always in the highest-numbered file (``nomad alloc logs`` reads them in order).
"""

from __future__ import annotations

import os
import re
import threading

__all__ = ["RotatingLog", "log_files"]


def log_files(first_path: str) -> list[str]:
    """The files of one stream, oldest first, given the path of its ``.0`` file."""
    directory, name = os.path.split(first_path)
    prefix = name[:-2] if name.endswith(".0") else name
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)$")
    found = []
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return []
    for entry in entries:
        match = pattern.match(entry)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, entry)))
    return [path for _, path in sorted(found)]


class RotatingLog:
    """Appends a stream's bytes to ``<prefix>.<n>``, moving to ``n + 1`` at the size limit."""

    def __init__(self, first_path: str, max_files: int = 10, max_file_size_mb: int = 10) -> None:
        self._prefix = first_path[:-2] if first_path.endswith(".0") else first_path
        self.max_files = max(max_files, 1)
        self.max_bytes = max(max_file_size_mb, 1) * 1024 * 1024
        existing = log_files(first_path)
        self.index = int(existing[-1].rsplit(".", 1)[1]) if existing else 0
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(self._prefix) or ".", exist_ok=True)
        self._file = open(f"{self._prefix}.{self.index}", "ab")

    def write(self, data: bytes) -> None:
        with self._lock:
            while data:
                room = self.max_bytes - self._file.tell()
                if room <= 0:
                    self._rotate()
                    continue
                self._file.write(data[:room])
                data = data[room:]
            self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        self.index += 1
        self._file = open(f"{self._prefix}.{self.index}", "ab")
        for old in range(self.index - self.max_files, -1, -1):
            path = f"{self._prefix}.{old}"
            if not os.path.exists(path):
                break
            os.remove(path)

    def close(self) -> None:
        with self._lock:
            self._file.close()
