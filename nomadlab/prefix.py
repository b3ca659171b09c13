"""Short IDs, as Nomad's CLI takes them: the one wording for "none" and "several" matches.

The in-process agent and a remote cluster both resolve an ID prefix; a learner sees the
same message from either, and the message Nomad's CLI prints (``No allocation(s) with
prefix or id "zzz" found``).
"""

from __future__ import annotations

from .errors import NotFound

__all__ = ["NOUNS", "not_found", "ambiguous"]

#: Table or kind -> the noun Nomad's CLI uses.
NOUNS = {"allocs": "allocation", "alloc": "allocation", "evals": "evaluation",
         "eval": "evaluation", "nodes": "node", "jobs": "job", "deployments": "deployment"}


def _noun(kind: str) -> str:
    return NOUNS.get(kind, kind)


def not_found(kind: str, key: str) -> NotFound:
    return NotFound(f'No {_noun(kind)}(s) with prefix or id "{key}" found')


def ambiguous(kind: str, key: str, count: int) -> NotFound:
    return NotFound(f'Prefix "{key}" matched {count} {_noun(kind)}s; give more characters')
