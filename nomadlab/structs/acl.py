"""ACL policies (HCL rules) and the tokens that carry them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._base import APIStruct, api_field

__all__ = ["ACLPolicy", "ACLToken", "ACL_TOKEN_TYPES"]

ACL_TOKEN_TYPES = ("client", "management")


@dataclass
class ACLPolicy(APIStruct):
    """A named set of rules, written in HCL as in Nomad's ``acl/policy.go``."""

    name: str = ""
    description: str = ""
    rules: str = ""
    create_index: int = 0
    modify_index: int = 0


@dataclass
class ACLToken(APIStruct):
    """A token: ``management`` may do anything, ``client`` what its policies allow."""

    accessor_id: str = ""
    secret_id: str = ""
    name: str = ""
    type: str = "client"
    policies: list[str] = field(default_factory=list)
    global_: bool = api_field("Global", default=False)
    create_time: Optional[str] = None
    expiration_time: Optional[str] = None
    expiration_ttl: int = api_field("ExpirationTTL", default=0)
    create_index: int = 0
    modify_index: int = 0
