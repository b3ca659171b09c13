"""Task logs rotate by size and keep at most max_files files, as Nomad's logmon does."""

from __future__ import annotations

import os
from pathlib import Path

from nomadlab.drivers.logs import RotatingLog, log_files


def test_rotates_at_the_size_limit_and_drops_the_oldest(tmp_path: Path) -> None:
    first = str(tmp_path / "web.stdout.0")
    log = RotatingLog(first, max_files=2, max_file_size_mb=1)
    mb = 1024 * 1024
    log.write(b"a" * mb)          # fills .0 exactly
    log.write(b"b" * (mb + 10))   # .1 full, 10 bytes in .2
    log.close()
    files = [os.path.basename(p) for p in log_files(first)]
    assert files == ["web.stdout.1", "web.stdout.2"], "only max_files are kept"
    assert os.path.getsize(tmp_path / "web.stdout.1") == mb
    assert (tmp_path / "web.stdout.2").read_bytes() == b"b" * 10


def test_a_new_writer_continues_at_the_highest_index(tmp_path: Path) -> None:
    first = str(tmp_path / "web.stderr.0")
    (tmp_path / "web.stderr.3").write_bytes(b"old\n")
    log = RotatingLog(first)
    log.write(b"new\n")
    log.close()
    assert (tmp_path / "web.stderr.3").read_bytes() == b"old\nnew\n"
    assert log_files(first) == [str(tmp_path / "web.stderr.3")]
