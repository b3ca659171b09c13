"""Nomad's job diff: what ``nomad job plan`` prints above the scheduler's dry run.

The diff is computed on API JSON, the way Nomad's ``Job.Diff`` walks its structs: scalar
fields become FieldDiffs, nested objects ObjectDiffs, task groups and tasks are matched
by name, and lists of scalars (datacenters, args) are diffed as sets of values.  Each
diff carries Nomad's type: ``Added``, ``Deleted``, ``Edited`` or ``None``.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["job_diff", "IGNORED_JOB_FIELDS"]

#: Bookkeeping fields Nomad leaves out of a diff (they change on every registration).
IGNORED_JOB_FIELDS = {
    "CreateIndex", "ModifyIndex", "JobModifyIndex", "SubmitTime", "Version", "Status",
    "StatusDescription", "Stable", "Stop", "Dispatched", "ParentID",
}

ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

#: Maps whose entries Nomad diffs as fields of their owner (``Env[RELEASE]``); every other
#: nested object (Update, RestartPolicy, ...) is an object diff (``+/- Update {``).
MAP_FIELDS = frozenset({"Meta", "Env", "Config"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _kind(old: Any, new: Any) -> str:
    if old is None and new is not None:
        return ADDED
    if new is None and old is not None:
        return DELETED
    return EDITED if old != new else NONE


def _object(name: str, old: Optional[dict], new: Optional[dict], contextual: bool,
            skip: frozenset[str] = frozenset()) -> Optional[dict[str, Any]]:
    fields, objects = _walk(old or {}, new or {}, contextual, skip)
    kind = _kind(old, new) if (old is None or new is None) else \
        (EDITED if any(f["Type"] != NONE for f in fields) or objects else NONE)
    if kind == NONE and not contextual:
        return None
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": objects}


def _walk(old: dict, new: dict, contextual: bool, skip: frozenset[str] = frozenset()
          ) -> tuple[list[dict], list[dict]]:
    fields: list[dict] = []
    objects: list[dict] = []
    for key in sorted(set(old) | set(new)):
        if key in skip:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) or isinstance(b, dict):
            if key in MAP_FIELDS:
                fields.extend(_map_fields(key, a or {}, b or {}, contextual))
                continue
            obj = _object(key, a, b, contextual)
            if obj is not None:
                objects.append(obj)
        elif isinstance(a, list) or isinstance(b, list):
            items = (a or []) + (b or [])
            if any(isinstance(i, dict) for i in items):
                for i in range(max(len(a or []), len(b or []))):
                    x = (a or [])[i] if i < len(a or []) else None
                    y = (b or [])[i] if i < len(b or []) else None
                    obj = _object(key, x, y, contextual)
                    if obj is not None:
                        objects.append(obj)
            else:
                fields.extend(_set_fields(key, a or [], b or [], contextual))
        else:
            kind = _kind(a, b) if a is not None or b is not None else NONE
            if kind != NONE or contextual:
                fields.append({"Type": kind, "Name": key, "Old": _text(a), "New": _text(b),
                               "Annotations": None})
    return fields, objects


def _map_fields(name: str, old: dict, new: dict, contextual: bool) -> list[dict]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        kind = _kind(a, b)
        if kind != NONE or contextual:
            out.append({"Type": kind, "Name": f"{name}[{key}]", "Old": _text(a), "New": _text(b),
                        "Annotations": None})
    return out


def _set_fields(name: str, old: list, new: list, contextual: bool) -> list[dict]:
    out = []
    for value in sorted({_text(v) for v in old} | {_text(v) for v in new}):
        in_old, in_new = value in {_text(v) for v in old}, value in {_text(v) for v in new}
        kind = NONE if in_old and in_new else ADDED if in_new else DELETED
        if kind != NONE or contextual:
            out.append({"Type": kind, "Name": name, "Old": value if in_old else "",
                        "New": value if in_new else "", "Annotations": None})
    return out


def _named(old: list[dict], new: list[dict]) -> list[tuple[str, Optional[dict], Optional[dict]]]:
    by_old = {o.get("Name", ""): o for o in old}
    by_new = {n.get("Name", ""): n for n in new}
    names = list(by_old) + [n for n in by_new if n not in by_old]
    return [(n, by_old.get(n), by_new.get(n)) for n in names]


def job_diff(old: Optional[dict[str, Any]], new: dict[str, Any], contextual: bool = False,
             updates: Optional[dict[str, dict[str, int]]] = None,
             task_annotations: Optional[dict[str, dict[str, list[str]]]] = None) -> dict[str, Any]:
    """Nomad's JobDiff between two jobs' API JSON (``old`` None: a new job).

    ``updates`` (DesiredTGUpdates per group) becomes each group's ``Updates`` counts as
    ``nomad job plan`` prints them; ``task_annotations`` maps group -> task -> notes such
    as "forces create/destroy update".
    """
    skip = frozenset(IGNORED_JOB_FIELDS | {"TaskGroups"})
    fields, objects = _walk(old or {}, new, contextual, skip)
    groups = []
    for name, a, b in _named((old or {}).get("TaskGroups", []), new.get("TaskGroups", [])):
        gfields, gobjects = _walk(a or {}, b or {}, contextual, frozenset({"Tasks", "Name"}))
        tasks = []
        for tname, x, y in _named((a or {}).get("Tasks", []), (b or {}).get("Tasks", [])):
            tfields, tobjects = _walk(x or {}, y or {}, contextual, frozenset({"Name"}))
            kind = _kind(x, y) if x is None or y is None else \
                EDITED if any(f["Type"] != NONE for f in tfields) or tobjects else NONE
            notes = (task_annotations or {}).get(name, {}).get(tname)
            if kind != NONE or contextual:
                tasks.append({"Type": kind, "Name": tname, "Fields": tfields,
                              "Objects": tobjects, "Annotations": notes})
        kind = _kind(a, b) if a is None or b is None else \
            EDITED if any(f["Type"] != NONE for f in gfields) or gobjects or tasks else NONE
        group = {"Type": kind, "Name": name, "Fields": gfields, "Objects": gobjects,
                 "Tasks": tasks, "Updates": _updates((updates or {}).get(name))}
        groups.append(group)
    kind = ADDED if old is None else \
        EDITED if any(f["Type"] != NONE for f in fields) or objects or \
        any(g["Type"] != NONE for g in groups) else NONE
    return {"Type": kind, "ID": new.get("ID", ""), "Fields": fields, "Objects": objects,
            "TaskGroups": groups}


_UPDATE_WORDS = {"Place": "create", "Stop": "destroy", "Migrate": "migrate",
                 "InPlaceUpdate": "in-place update", "DestructiveUpdate": "create/destroy update",
                 "Ignore": "ignore", "Canary": "canary"}


def _updates(desired: Optional[dict[str, int]]) -> Optional[dict[str, int]]:
    if not desired:
        return None
    return {word: desired[key] for key, word in _UPDATE_WORDS.items() if desired.get(key)}
