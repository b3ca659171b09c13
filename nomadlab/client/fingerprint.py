"""What a client tells the servers about its host, under Nomad's attribute names."""

from __future__ import annotations

import os
import platform
import socket
from typing import Optional

__all__ = ["host_attributes", "host_cpu_mhz", "host_memory_mb"]

NOMAD_VERSION = "1.9.0"


def host_cpu_mhz() -> int:
    """Total compute in MHz: cores x clock speed, as Nomad's cpu fingerprint computes it."""
    mhz: Optional[float] = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("cpu mhz"):
                    mhz = float(line.split(":", 1)[1])
                    break
    except OSError:
        pass
    return int((mhz or 1000.0) * (os.cpu_count() or 1))


def host_memory_mb() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 1024


def host_attributes(name: str, cpu_mhz: int, memory_mb: int) -> dict[str, str]:
    """The host's attributes; ``unique.*`` ones identify this node alone."""
    uname = platform.uname()
    cores = os.cpu_count() or 1
    return {
        "kernel.name": uname.system.lower(),
        "kernel.version": uname.release,
        "os.name": _os_name(),
        "cpu.arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine),
        "cpu.numcores": str(cores),
        "cpu.totalcompute": str(cpu_mhz),
        "cpu.frequency": str(cpu_mhz // cores),
        "memory.totalbytes": str(memory_mb * 1024 * 1024),
        "nomad.version": NOMAD_VERSION,
        "unique.hostname": f"{socket.gethostname()}-{name}",
        "unique.network.ip-address": "127.0.0.1",
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("ID="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system().lower()
