"""Clients: node agents that fingerprint the host, heartbeat and run allocations."""

from .allocrunner import AllocRunner
from .client import Client, ClientConfig
from .taskrunner import TaskRunner

__all__ = ["Client", "ClientConfig", "AllocRunner", "TaskRunner"]
