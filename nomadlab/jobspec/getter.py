"""Which go-getter sources and options nomadlab can fetch: checked when a job is validated.

Nomad's client fetches artifacts with hashicorp/go-getter, which has getters for http(s),
local files, git, hg, s3 and gcs. nomadlab's client (:mod:`nomadlab.client.artifact`)
has the first two; a job naming another is refused here with a message saying so,
rather than accepted and failing on the client.
"""

from __future__ import annotations

import urllib.parse
from typing import Optional

__all__ = ["unsupported_source", "checksum_problem", "CHECKSUM_SIZES"]

#: go-getter's forced getters and URL schemes nomadlab has no getter for.
_UNSUPPORTED_GETTERS = ("git", "hg", "s3", "gcs", "ssh")
#: Hosts go-getter's detectors turn into one of those getters without a scheme.
_DETECTED_HOSTS = {"github.com": "git", "gitlab.com": "git", "bitbucket.org": "git",
                   "amazonaws.com": "s3", "googleapis.com": "gcs"}
CHECKSUM_SIZES = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def unsupported_source(source: str) -> Optional[str]:
    """Why nomadlab cannot fetch ``source`` (a getter it does not have), or None."""
    forced, sep, _ = source.partition("::")
    if sep and "/" not in forced:
        getter = forced.lower()
    else:
        scheme = urllib.parse.urlsplit(source).scheme.lower()
        getter = scheme if scheme in _UNSUPPORTED_GETTERS else ""
        if not scheme and not source.startswith((".", "/")):
            host = source.split("/", 1)[0].lower()
            getter = next((g for h, g in _DETECTED_HOSTS.items()
                           if host == h or host.endswith("." + h)), "")
    if getter in _UNSUPPORTED_GETTERS:
        return (f'artifact source "{source}" needs go-getter\'s {getter} getter, which '
                "nomadlab does not have; it fetches http(s), file:// and local paths")
    if sep and getter not in ("http", "https", "file"):
        return f'artifact source "{source}": unknown getter "{forced}"'
    return None


def checksum_problem(value: str) -> Optional[str]:
    """Why ``options { checksum = ... }`` is malformed, or None (Nomad's
    ``validateChecksum``, in its words)."""
    kind, sep, digest = value.partition(":")
    if not sep or ":" in digest:
        return f"checksum must be given as 'type:value'; got \"{value}\""
    try:
        size = len(bytes.fromhex(digest))
    except ValueError:
        return f'invalid checksum: "{digest}" is not hexadecimal'
    if kind not in CHECKSUM_SIZES:
        return f"unsupported checksum type: {kind}"
    if size * 2 != CHECKSUM_SIZES[kind]:
        return f"invalid {kind} checksum: {digest}"
    return None
