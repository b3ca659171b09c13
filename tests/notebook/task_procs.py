"""Finding the processes a kernel's agent started (shared by the notebook tests)."""

from __future__ import annotations

import os


def task_processes(marker: str) -> list[int]:
    """PIDs whose command line contains ``marker`` (read from /proc, nothing killed)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read().replace(b"\0", b" "):
                        found.append(int(entry))
            except OSError:
                continue
    return found
