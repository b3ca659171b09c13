"""Fetch a task's ``artifact`` blocks into its directory: the part of go-getter nomadlab has.

Nomad's client downloads artifacts with hashicorp/go-getter before the task starts
(``client/allocrunner/taskrunner/artifact_hook.go``). nomadlab implements the getters a
lab can use without cloud credentials, with go-getter's rules:

* sources: ``http://`` and ``https://`` (with ``headers``), ``file://`` URLs and local
  paths (a relative path is relative to the task directory). A local source must lie in
  the allocation directory (``${NOMAD_ALLOC_DIR}``, what a prestart task wrote there),
  the only place Nomad's artifact sandbox (landlock) lets go-getter read files; anything
  else is refused, never copied.
* ``mode``: ``any`` (a file lands in ``destination/<basename>``, an archive is unpacked
  into ``destination``), ``file`` (``destination`` is the file) or ``dir``.
* archives by extension (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``,
  ``.zip``; ``.gz``, ``.bz2``, ``.xz`` in ``file`` mode), or named by ``options { archive = "zip" }``; ``archive = false`` keeps the file
  as downloaded. ``filename`` names the file in ``any`` mode; other options become the
  http(s) URL's query, as go-getter passes them on.
* ``options { checksum = "sha256:<hex>" }`` (md5, sha1, sha256, sha512) checks the file as
  downloaded, before unpacking.
* ``destination`` is interpolated and must stay inside the allocation directory, as in
  Nomad; archive members that would land outside the destination are refused.

Getters nomadlab does not have (git, hg, s3, gcs) are refused when the job is validated
(:mod:`nomadlab.jobspec.getter`).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile
from typing import Mapping, Optional

import httpx

from ..jobspec.getter import unsupported_source
from ..structs import TaskArtifact
from .interpolate import replace_env

__all__ = ["ArtifactError", "fetch_artifact"]

#: go-getter's archive extensions, longest first so ``.tar.gz`` wins over ``.gz``.
_ARCHIVES = ((".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar.bz2", "tar.bz2"),
             (".tbz2", "tar.bz2"), (".tar.xz", "tar.xz"), (".txz", "tar.xz"), (".tar", "tar"),
             (".zip", "zip"), (".gz", "gz"), (".bz2", "bz2"), (".xz", "xz"))
#: Single-file compressions: decompressed to the destination file (``file`` mode only).
_SINGLE = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_DOWNLOAD_TIMEOUT = 30.0


class ArtifactError(Exception):
    """A download or unpack failed; the message is what "Failed Artifact Download" shows."""


def _archive_kind(path: str, option: Optional[str]) -> Optional[str]:
    if option is not None:
        if option.lower() in ("false", ""):
            return None
        kind = option.lower().lstrip(".")
        return {"tgz": "tar.gz", "tbz2": "tar.bz2", "txz": "tar.xz"}.get(kind, kind)
    for suffix, kind in _ARCHIVES:
        if path.lower().endswith(suffix):
            return kind
    return None


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(root)]) == \
        os.path.abspath(root)


def _confined(path: str, alloc_root: str) -> str:
    """``path`` if it stays in the allocation directory once symlinks are followed (what
    Nomad's sandbox lets go-getter write to), else ArtifactError."""
    if not _inside(os.path.realpath(path), os.path.realpath(alloc_root)):
        raise ArtifactError("artifact destination path escapes the alloc directory")
    return path


def _local_source(source: str, task_dir: str, alloc_root: str) -> str:
    """The real path of a local source the sandbox may read, else ArtifactError."""
    if source.startswith("file://"):
        path = urllib.parse.unquote(urllib.parse.urlsplit(source).path)
    else:
        path = source
    if not os.path.isabs(path):
        path = os.path.join(task_dir, path)
    real = os.path.realpath(path)
    if not _inside(real, os.path.realpath(alloc_root)):
        raise ArtifactError(f"error downloading '{source}': open {path}: permission denied "
                            "(the artifact sandbox reads local files only in the allocation "
                            "directory, as Nomad's does)")
    if not os.path.exists(real):
        raise ArtifactError(f"error downloading '{source}': source path error: stat {path}: "
                            "no such file or directory")
    return real


def _download(url: str, headers: Mapping[str, str], to: str) -> None:
    try:
        with httpx.stream("GET", url, headers=dict(headers), follow_redirects=True,
                          timeout=_DOWNLOAD_TIMEOUT) as response:
            if response.status_code != 200:
                raise ArtifactError(f"error downloading '{url}': bad response code: "
                                    f"{response.status_code}")
            with open(to, "wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
    except httpx.HTTPError as err:
        raise ArtifactError(f"error downloading '{url}': {err}") from None


def _verify(path: str, checksum: str, source: str) -> None:
    kind, _, want = checksum.partition(":")
    digest = hashlib.new(kind)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    if digest.hexdigest() != want.lower():
        raise ArtifactError(f"error downloading '{source}': Checksums did not match for "
                            f"{os.path.basename(path)}.\nExpected: {want}\n"
                            f"Got: {digest.hexdigest()}")


def _unpack(archive: str, kind: str, dest: str, source: str) -> None:
    """Unpack into ``dest`` (the file itself for ``gz``); members that would leave it are
    refused, as go-getter does."""
    try:
        if kind in _SINGLE:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with _SINGLE[kind](archive, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            return
        os.makedirs(dest, exist_ok=True)
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if not _inside(os.path.join(dest, name), dest):
                        raise ArtifactError(f"error downloading '{source}': entry contains "
                                            f'"..": {name}')
                zf.extractall(dest)
            return
        if kind not in ("tar", "tar.gz", "tar.bz2", "tar.xz"):
            raise ArtifactError(f"error downloading '{source}': unsupported archive type "
                                f'"{kind}" (nomadlab unpacks tar, tar.gz, tar.bz2, tar.xz, zip, '
                                "gz, bz2 and xz)")
        with tarfile.open(archive, "r:*") as tf:
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
        raise ArtifactError(f"error downloading '{source}': failed to decompress: {err}") \
            from None


def fetch_artifact(artifact: TaskArtifact, env: Mapping[str, str], task_dir: str,
                   alloc_root: str) -> str:
    """Fetch one artifact into the task directory; the path written. ArtifactError if not.

    ``env`` interpolates source, destination, options and headers (Nomad's
    ``ReplaceEnv``); ``task_dir`` is ``<alloc>/<task>``, ``alloc_root`` is ``<alloc>``.
    """
    source = replace_env(artifact.getter_source or "", env)
    options = {k: replace_env(v, env) for k, v in artifact.getter_options.items()}
    headers = {k: replace_env(v, env) for k, v in artifact.getter_headers.items()}
    relative = replace_env(artifact.relative_dest or "local/", env)
    dest = _confined(os.path.normpath(os.path.join(task_dir, relative)), alloc_root)
    why = unsupported_source(source)
    if why:
        raise ArtifactError(why)
    mode = artifact.getter_mode or "any"
    url = source.partition("::")[2] if "::" in source.split("/", 1)[0] else source
    parsed = urllib.parse.urlsplit(url)
    remote = parsed.scheme in ("http", "https")
    path = parsed.path if remote or parsed.scheme == "file" else url
    # Nomad adds the options to the URL's query; go-getter takes out its own
    params = dict(urllib.parse.parse_qsl(parsed.query) if remote or parsed.scheme else [])
    params.update(options)
    archive = _archive_kind(path, params.pop("archive", None))
    checksum = params.pop("checksum", None)
    name = params.pop("filename", None) or posixpath.basename(path.rstrip("/")) or "artifact"

    with tempfile.TemporaryDirectory(prefix=".artifact-", dir=alloc_root) as scratch:
        if remote:
            fetched = os.path.join(scratch, "download")
            query = urllib.parse.urlencode(params)
            _download(urllib.parse.urlunsplit(parsed._replace(query=query)), headers, fetched)
        else:
            fetched = _local_source(url, task_dir, alloc_root)
        if checksum:
            if os.path.isdir(fetched):
                raise ArtifactError(f"error downloading '{source}': checksum given for a "
                                    "directory")
            _verify(fetched, checksum, source)
        if archive and not os.path.isdir(fetched):
            if (mode == "file") != (archive in _SINGLE):
                raise ArtifactError(f"error downloading '{source}': " + (
                    "gzip-style decompression can only be done to a file" if archive in _SINGLE
                    else 'an archive unpacks into a directory; use mode "any" or "dir", or '
                         "archive = false"))
            _unpack(fetched, archive, dest, source)
            return dest
        if os.path.isdir(fetched):
            if mode == "file":
                raise ArtifactError(f"error downloading '{source}': source path is a "
                                    'directory; use mode "dir" or "any"')
            shutil.copytree(fetched, dest, symlinks=True, dirs_exist_ok=True)
            return dest
        if mode == "dir":
            raise ArtifactError(f"error downloading '{source}': source is a file, not a "
                                'directory; use mode "file" or "any"')
        target = _confined(dest if mode == "file" else os.path.join(dest, name), alloc_root)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(fetched, target)
        return target
