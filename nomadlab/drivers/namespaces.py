"""The system calls that give an exec task its own mount and PID namespace.

Why they are here and not in :mod:`.fs_isolation` (which says what a task may see, and
why): the task's executor (:mod:`.executor`) runs them in a fresh Python process per task,
so this module loads only ``ctypes``, ``os`` and ``stat`` and starts in milliseconds.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Callable

__all__ = ["CLONE_NEWNS", "CLONE_NEWPID", "libc", "check", "private_root",
           "enter_mount_namespace", "mount_proc", "unshare_pid"]

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_MS_BIND, _MS_REC, _MS_PRIVATE = 0x1000, 0x4000, 0x40000
libc = ctypes.CDLL(None, use_errno=True)  # the C library Python itself is linked with


def check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: bytes | None, target: bytes, fstype: bytes | None, flags: int,
           data: bytes | None = None) -> None:
    check(libc.mount(source, target, fstype, flags, data), f"mount {target.decode()}")


def private_root(alloc_root: str) -> str:
    """The directory to hide: the highest one above ``alloc_root`` that others cannot enter.

    Everything above it is open to every user, so the task can still walk down to its own
    allocation once that is bind-mounted back.  Without a private directory above it (a
    data dir left world-readable), the allocations' root is hidden.
    """
    alloc_root = os.path.realpath(alloc_root)
    hidden = os.path.dirname(alloc_root)
    path = hidden
    while path != os.path.dirname(path):
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                hidden = path
        except OSError:
            pass
        path = os.path.dirname(path)
    return hidden


def enter_mount_namespace(task_dir: str, alloc_dir: str) -> Callable[[], None]:
    """A step for the task's process before exec: a private mount namespace in which only
    this task's allocation is left under the hidden directory (see the module docstring);
    runs as root."""
    task_dir = os.path.realpath(task_dir)
    alloc_root = os.path.realpath(os.path.commonpath([task_dir, os.path.realpath(alloc_dir)]))
    hidden = private_root(alloc_root)
    parts = os.path.relpath(alloc_root, hidden).split(os.sep)
    steps = [os.path.join(hidden, *parts[:i]) for i in range(1, len(parts) + 1)]
    hidden_b, alloc_root_b = hidden.encode(), alloc_root.encode()

    def enter() -> None:
        check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        _mount(None, b"/", None, _MS_REC | _MS_PRIVATE)  # nothing propagates to the host
        # A handle on the allocation in the new namespace, still reachable once hidden.
        fd = os.open(alloc_root, os.O_PATH | os.O_DIRECTORY)
        try:
            _mount(b"tmpfs", hidden_b, b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=0711")
            for step in steps:
                os.mkdir(step, 0o711)
            _mount(b"/proc/self/fd/%d" % fd, alloc_root_b, None, _MS_BIND | _MS_REC)
        finally:
            os.close(fd)
        os.chdir(task_dir)  # the working directory, seen through the bind mount

    return enter


def mount_proc() -> None:
    """Mount a fresh ``/proc`` over the host's: in a new PID namespace it lists only that
    namespace's processes.  Only in a private mount namespace (the host keeps its own)."""
    _mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def unshare_pid() -> None:
    """The next child of this process is PID 1 of a new PID namespace (this one stays)."""
    check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
