"""The server: state store, eval broker, blocked evaluations, the deployment watcher and
the node drainer (workers, plan applier, heartbeats and the rest join them here)."""

from .blocked import BlockedEvals, BlockResult
from .broker import (CORE_QUEUE, FAILED_QUEUE, SCHEDULER_TYPES, BrokerDisabled, BrokerError,
                     EvalBroker)
from .deployment_watcher import DeploymentWatcher
from .drainer import NodeDrainer
from .events import Event, EventStreamOverflow, EventSubscription
from .state import (HistoryTruncated, ObjectNotFound, StateError, StateSnapshot, StateStore,
                    eval_terminal, job_spec_changed)

__all__ = [
    "StateStore", "StateSnapshot", "StateError", "ObjectNotFound", "HistoryTruncated",
    "eval_terminal", "job_spec_changed",
    "Event", "EventSubscription", "EventStreamOverflow",
    "EvalBroker", "BrokerError", "BrokerDisabled", "SCHEDULER_TYPES", "CORE_QUEUE",
    "FAILED_QUEUE",
    "BlockedEvals", "BlockResult", "DeploymentWatcher", "NodeDrainer",
]
