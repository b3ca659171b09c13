"""Whose rights an exec task has, and which of the host's files it can see.

Nomad's exec driver runs a task as ``nobody`` unless the task's ``user`` says otherwise,
and chroots it into its task directory.  nomadlab has no image to build a chroot from, so
the task keeps the host's filesystem, and two mechanisms keep it out of what is not its own:

* **Ownership**, as Nomad sets it: the task's directory, ``local/``, ``tmp/`` and
  ``secrets/`` (0700) are chowned to the task's user, so what the client wrote there for
  it (templates, artifacts, env files) stays readable and writable by the task, and
  ``/etc/shadow`` and the like stay out of reach of ``nobody``.  The client's data dir is
  private (0700), so no other user can walk into any allocation through the host's tree.
* **A private mount namespace per task**, because permissions cannot keep apart two tasks
  running as the same user (both ``nobody``): in the forked child, still root, the task
  gets its own mount namespace, an empty tmpfs is mounted over the highest private
  directory above its allocation (the client's data dir, or a private directory above
  it), and the task's own allocation directory is bind-mounted back at the same path.  Paths
  are unchanged (``NOMAD_TASK_DIR`` needs no translation), while other allocations, the
  client's state and other agents' data are simply not there.  Only then does the child
  drop to the task's user.

* **A PID namespace per task**, as Nomad's exec driver has (see :mod:`.executor`): a
  fresh ``/proc`` is mounted in the task's mount namespace, so ``ps`` and ``ls /proc``
  show only the task's own processes, and a task can neither see nor signal the agent,
  another task, or their ``/proc/<pid>/`` (``cwd``, ``environ``).

Not covered: the network is shared.

Where the client is root but may not mount (a container without ``CAP_SYS_ADMIN``), only
ownership applies and there is no PID namespace; the private data dir then also keeps the task from reaching its own
directory by absolute path (its working directory still works).  Where the client is not
root it can neither switch users nor mount: tasks run as the client's user and see what it
sees.  The node's ``driver.exec.isolation.description`` and each task's ``Driver`` event
say which case is in force.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
import threading
from typing import Optional

from .base import TaskConfig
from .namespaces import enter_mount_namespace, mount_proc, private_root, unshare_pid

__all__ = ["DEFAULT_USER", "mount_namespace_available", "private_root", "own_task_dirs",
           "enter_mount_namespace", "mount_proc"]

#: The user an exec task runs as when the client is root and the task names none (Nomad's).
DEFAULT_USER = "nobody"

_TASK_SUBDIRS = ("local", "secrets", "tmp")

_available: Optional[bool] = None
_available_lock = threading.Lock()


def own_task_dirs(task: TaskConfig, user: pwd.struct_passwd) -> None:
    """Chown the task's directory and everything in local/, secrets/ and tmp/ to ``user``.

    Called before each start as root; what the client rendered since (a template, an
    artifact) is handed over with the rest.  ``secrets/`` is made 0700.  The walk never
    follows a symlink (by file descriptor, so swapping a directory for a link midway does
    not help either): a task that left ``local -> /etc`` behind must not get ``/etc``.
    """
    uid, gid = user.pw_uid, user.pw_gid
    os.chown(task.task_dir, uid, gid, follow_symlinks=False)
    for sub in _TASK_SUBDIRS:
        top = os.path.join(task.task_dir, sub)
        if not os.path.lexists(top):
            continue
        for root, dirs, files, fd in os.fwalk(top, follow_symlinks=False):
            os.chown(fd, uid, gid)
            if root == top and sub == "secrets":
                os.chmod(fd, 0o700)
            for name in (*dirs, *files):
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)


def mount_namespace_available(refresh: bool = False) -> bool:
    """Whether this client can give a task a private mount namespace and a PID namespace
    (root, and the kernel or the container this runs in allows ``unshare`` and ``mount``).
    Probed once, by running ``true`` in both with a fresh ``/proc``, and cached."""
    global _available
    with _available_lock:
        if _available is None or refresh:
            _available = os.geteuid() == 0 and _probe()
        return _available


def _probe() -> bool:
    with tempfile.TemporaryDirectory(prefix="nomadlab-probe-") as root:
        task_dir = os.path.join(root, "alloc-x", "t")
        os.makedirs(os.path.join(root, "alloc-x", "alloc"))
        os.mkdir(task_dir)
        enter = enter_mount_namespace(task_dir, os.path.join(root, "alloc-x", "alloc"))

        def namespaces() -> None:
            enter()
            mount_proc()
            unshare_pid()

        try:
            return subprocess.run(["true"], preexec_fn=namespaces,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False
