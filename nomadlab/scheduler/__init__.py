"""Schedulers as pure functions over a state snapshot; see README.md beside this file."""

from .generic import SchedulerResult, schedule
from .stack import GenericStack, Selection
from ..structs.trace import EvalTrace, NodeTrace, PlacementTrace

__all__ = ["schedule", "SchedulerResult", "GenericStack", "Selection", "EvalTrace",
           "PlacementTrace", "NodeTrace"]
