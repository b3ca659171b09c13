"""The agent's own identity: a short random id that names what the agent starts on the host.

Two agents on one host (two notebook kernels) made with the same seed give the same node
and allocation IDs, so anything named only after those (a container, a cgroup) would be
shared, and one agent's cleanup would kill the other's tasks.  The agent id tells them
apart.  It is random, never derived from the seed, for exactly that reason; an agent with a
data dir keeps it in ``<data_dir>/agent-id``, so a restarted agent finds its own containers
and cgroups again.
"""

from __future__ import annotations

import os
import re
from typing import Optional

__all__ = ["new_agent_id", "load_agent_id", "AGENT_ID_FILE"]

AGENT_ID_FILE = "agent-id"
_VALID = re.compile(r"^[0-9a-f]{8}$")


def new_agent_id() -> str:
    """Eight hex digits from the OS's random source (not the agent's seeded RNG)."""
    return os.urandom(4).hex()


def load_agent_id(data_dir: Optional[str] = None) -> str:
    """The id stored in ``data_dir`` (created there when absent), or a fresh one without one.

    The data dir is created private (0700): it holds the agent's state and every
    allocation's files, which tasks running as other users must not reach.
    """
    if not data_dir:
        return new_agent_id()
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    path = os.path.join(data_dir, AGENT_ID_FILE)
    try:
        with open(path) as f:
            stored = f.read().strip()
        if _VALID.match(stored):
            return stored
    except FileNotFoundError:
        pass
    agent_id = new_agent_id()
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(agent_id + "\n")
    os.replace(tmp, path)
    return agent_id
