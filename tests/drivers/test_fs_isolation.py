"""What an exec task may see: the directory hidden from it, and the chown that hands a task
its own files without ever following a link it left behind."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from nomadlab.drivers import TaskConfig
from nomadlab.drivers.fs_isolation import own_task_dirs, private_root


@pytest.fixture
def open_dir():
    """A directory every user can walk to (pytest's own tmp dirs lie under a private one)."""
    parent = tempfile.gettempdir()
    if any(not os.stat(p).st_mode & stat.S_IXOTH for p in (parent, *Path(parent).parents)):
        pytest.skip(f"{parent} is not open to every user")
    path = Path(tempfile.mkdtemp(prefix="nomadlab-fs-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_the_highest_private_directory_is_hidden(open_dir) -> None:
    data = open_dir / "open" / "data"
    (data / "alloc" / "a1").mkdir(parents=True)
    for path in (open_dir / "open", data / "alloc"):
        path.chmod(0o755)
    data.chmod(0o700)
    assert private_root(str(data / "alloc" / "a1")) == str(data)
    (open_dir / "open").chmod(0o700)
    assert private_root(str(data / "alloc" / "a1")) == str(open_dir / "open")


def test_without_a_private_directory_the_allocations_root_is_hidden(open_dir) -> None:
    alloc = open_dir / "alloc" / "a1"
    alloc.mkdir(parents=True)
    (open_dir / "alloc").chmod(0o755)
    assert private_root(str(alloc)) == str(open_dir / "alloc")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_chown_never_follows_a_link_the_task_left(tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("host file")
    task_dir = tmp_path / "alloc" / "t"
    (task_dir / "secrets").mkdir(parents=True)
    (task_dir / "tmp").mkdir()
    (task_dir / "local").symlink_to(outside)                  # local -> a host directory
    (task_dir / "secrets" / "link").symlink_to(outside / "f")
    (task_dir / "secrets" / "mine").write_text("rendered by the client")
    task = TaskConfig(id="a/t", alloc_id="a", task_name="t", job_id="j", config={}, env={},
                      task_dir=str(task_dir), alloc_dir=str(tmp_path / "alloc" / "alloc"),
                      stdout_path=os.devnull, stderr_path=os.devnull)
    nobody = pwd.getpwnam("nobody")
    own_task_dirs(task, nobody)
    assert os.stat(outside).st_uid == 0 and os.stat(outside / "f").st_uid == 0
    assert os.stat(task_dir / "secrets" / "mine").st_uid == nobody.pw_uid
    assert os.stat(task_dir / "secrets").st_mode & 0o777 == 0o700
    assert os.stat(task_dir).st_uid == os.stat(task_dir / "tmp").st_uid == nobody.pw_uid
