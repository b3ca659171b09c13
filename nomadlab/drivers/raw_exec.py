"""The raw_exec driver: a real process with no isolation at all (Nomad's ``raw_exec``).

The task runs as the client's user with the client's rights, so Nomad ships it disabled;
a client enables it in its config, and nomadlab's clients do the same through
``RawExecDriver(enabled=True)``.
"""

from __future__ import annotations

import platform

from .base import DriverError, Fingerprint
from .process import ProcessDriver

__all__ = ["RawExecDriver", "DISABLED_MESSAGE"]

DISABLED_MESSAGE = ('raw_exec is disabled: enable it in the client config '
                    '(plugin "raw_exec" { config { enabled = true } })')


class RawExecDriver(ProcessDriver):
    """Nomad's ``raw_exec``: ``command`` + ``args`` as the client's user, no limits enforced."""

    name = "raw_exec"

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    def fingerprint(self) -> Fingerprint:
        if not self.enabled:
            return Fingerprint(detected=False, healthy=False, health_description=DISABLED_MESSAGE)
        if platform.system() not in ("Linux", "Darwin"):
            return Fingerprint(detected=False, healthy=False,
                               health_description="raw_exec needs a POSIX host")
        return Fingerprint(detected=True, healthy=True, health_description="Healthy",
                           attributes={"driver.raw_exec": "1"})

    def _check_usable(self) -> None:
        if not self.enabled:
            raise DriverError(DISABLED_MESSAGE)
