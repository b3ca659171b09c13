"""Who is asking: the token, namespace and region a request carries to the server.

Every entry point (the HTTP API, the commands, the notebook, ``nl.connect``) builds one
from what the caller sent (``X-Nomad-Token``, ``?namespace=``, ``?region=`` or
``NOMAD_TOKEN``/``NOMAD_NAMESPACE``/``NOMAD_REGION``) and hands it down through the
cluster interface, so ACLs and namespaces can be checked in one place, the server.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Identity", "ANONYMOUS"]


@dataclass(frozen=True)
class Identity:
    """A request's credentials and scope; the defaults are an anonymous caller."""

    token: str = ""
    namespace: str = "default"
    region: str = "global"

    def __repr__(self) -> str:  # never print a secret
        token = "<token>" if self.token else "anonymous"
        return f"Identity({token}, namespace={self.namespace!r}, region={self.region!r})"


ANONYMOUS = Identity()
