"""``nomad job plan``: the job diff with ``+``/``-``/``+/-`` markers, the scheduler's
dry run and the Job Modify Index, ported from Nomad's command/job_plan.go."""

from __future__ import annotations

import json
from typing import Any

from ..structs.duration import format_duration
from .document import Document, Line
from .metrics import alloc_metric_lines, failed_noun

__all__ = ["job_diff_lines", "plan_output", "plan_exit_code", "dry_run_lines"]

_MARKERS = {"Added": "+ ", "Deleted": "- ", "Edited": "+/- "}

CHECK_INDEX_HELP = """To submit the job with version verification run:

nomad job run -check-index {index} {path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""


def _marker(kind: str) -> str:
    return _MARKERS.get(kind, "")


def _longest(fields: list[dict], objects: list[dict]) -> tuple[int, int]:
    longest_field = max((len(f.get("Name", "")) for f in fields), default=0)
    longest_marker = max((len(_marker(d.get("Type", ""))) for d in fields + objects), default=0)
    return longest_field, longest_marker


def _field(diff: dict, start: int, key_prefix: int, value_prefix: int) -> str:
    out = (" " * start + _marker(diff.get("Type", "")) + " " * key_prefix + diff.get("Name", "")
           + ": " + " " * value_prefix)
    kind = diff.get("Type")
    if kind == "Added":
        out += _q(diff.get("New", ""))
    elif kind == "Deleted":
        out += _q(diff.get("Old", ""))
    elif kind == "Edited":
        out += f'{_q(diff.get("Old", ""))} => {_q(diff.get("New", ""))}'
    else:
        out += _q(diff.get("New", ""))
    if diff.get("Annotations"):
        out += f" ({', '.join(diff['Annotations'])})"
    return out


def _object(diff: dict, start: int, key_prefix: int) -> str:
    marker = _marker(diff.get("Type", ""))
    out = " " * start + marker + " " * key_prefix + diff.get("Name", "") + " {\n"
    fields, objects = diff.get("Fields") or [], diff.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    out += _aligned(fields, objects, start + key_prefix + 2, longest_field, longest_marker)
    return out + "\n" + " " * (start + len(marker) + key_prefix) + "}"


def _aligned(fields: list[dict], objects: list[dict], start: int, longest_field: int,
             longest_marker: int) -> str:
    out = ""
    for i, f in enumerate(fields):
        out += _field(f, start, longest_marker - len(_marker(f.get("Type", ""))),
                      longest_field - len(f.get("Name", "")))
        if i + 1 != len(fields) or objects:
            out += "\n"
    for i, o in enumerate(objects):
        out += _object(o, start, longest_marker - len(_marker(o.get("Type", ""))))
        if i + 1 != len(objects):
            out += "\n"
    return out


def _task(task: dict, start: int, task_prefix: int, verbose: bool) -> str:
    out = " " * start + _marker(task.get("Type", "")) + " " * task_prefix + \
        f'Task: {_q(task.get("Name", ""))}'
    if task.get("Annotations"):
        out += f" ({', '.join(task['Annotations'])})"
    kind = task.get("Type")
    if kind == "None" or (kind in ("Added", "Deleted") and not verbose):
        return out
    fields, objects = task.get("Fields") or [], task.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    return out + "\n" + _aligned(fields, objects, start + 2, longest_field, longest_marker)


def _group(tg: dict, prefix: int, verbose: bool) -> str:
    out = _marker(tg.get("Type", "")) + " " * prefix + f'Task Group: {_q(tg.get("Name", ""))}'
    updates = tg.get("Updates") or {}
    if updates:
        out += " (" + ", ".join(f"{updates[k]} {k}" for k in sorted(updates)) + ")\n"
    else:
        out += "\n"
    fields, objects = tg.get("Fields") or [], tg.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    for task in tg.get("Tasks") or []:
        longest_marker = max(longest_marker, len(_marker(task.get("Type", ""))))
    sub = prefix + 2
    if tg.get("Type") == "Edited" or verbose:
        fo = _aligned(fields, objects, sub, longest_field, longest_marker)
        out += fo + ("\n" if fo else "")
    for task in tg.get("Tasks") or []:
        out += _task(task, sub, longest_marker - len(_marker(task.get("Type", ""))), verbose) + "\n"
    return out


def _job(diff: dict, verbose: bool) -> str:
    out = _marker(diff.get("Type", "")) + f'Job: {_q(diff.get("ID", ""))}\n'
    fields, objects = diff.get("Fields") or [], diff.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    for tg in diff.get("TaskGroups") or []:
        longest_marker = max(longest_marker, len(_marker(tg.get("Type", ""))))
    if diff.get("Type") == "Edited" or verbose:
        fo = _aligned(fields, objects, 0, longest_field, longest_marker)
        out += fo + ("\n" if fo else "")
    for tg in diff.get("TaskGroups") or []:
        out += _group(tg, longest_marker - len(_marker(tg.get("Type", ""))), verbose) + "\n"
    return out


def job_diff_lines(diff: dict[str, Any], verbose: bool = False) -> list[Line]:
    """Nomad's ``formatJobDiff`` as styled lines (added green, deleted red, edited yellow)."""
    return [Line(text, _style(text)) for text in _job(diff, verbose).strip().split("\n")]


def _style(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith("+/-"):
        return "edited"
    if stripped.startswith("+ "):
        return "added"
    if stripped.startswith("- "):
        return "deleted"
    return ""


def dry_run_lines(resp: dict[str, Any], job_type: str = "service") -> list[Line]:
    """``Scheduler dry-run:`` body: all placed, or which groups failed and why."""
    failed = resp.get("FailedTGAllocs") or {}
    rolling = next((e for e in resp.get("CreatedEvals") or []
                    if e.get("TriggeredBy") == "rolling-update"), None)
    out: list[Line] = []
    if not failed:
        out.append(Line("- All tasks successfully allocated.", "added"))
    else:
        what = "allocations on all nodes" if job_type == "system" else "all allocations"
        out.append(Line(f"- WARNING: Failed to place {what}.", "warning"))
        for name in sorted(failed):
            out.append(Line(f'  Task Group "{name}" (failed to place {failed_noun(failed[name])}):',
                            "warning"))
            out.extend(Line(m.content, m.style or "warning")
                       for m in alloc_metric_lines(failed[name], "    "))
            out.append(Line(""))
        if rolling is None:
            out.pop()
    if rolling is not None:
        out.append(Line(f"- Rolling update, next evaluation will be in "
                        f"{format_duration(int(rolling.get('Wait', 0)))}.", "added"))
    return out


def plan_output(resp: dict[str, Any], job_type: str = "service", path: str = "<path to job>",
                diff: bool = True, verbose: bool = False) -> Document:
    """What ``nomad job plan`` prints for a JobPlanResponse."""
    doc = Document()
    if diff and resp.get("Diff"):
        doc.add(*job_diff_lines(resp["Diff"], verbose), Line(""))
    doc.add(Line("Scheduler dry-run:", "bold"), *dry_run_lines(resp, job_type), Line(""))
    if resp.get("Warnings"):
        doc.add(Line("Job Warnings:", "warning"), *(Line(w, "warning") for w in
                                                   str(resp["Warnings"]).split("\n")), Line(""))
    index = int(resp.get("JobModifyIndex") or 0)
    doc.add(Line(f"Job Modify Index: {index}", "bold"))
    doc.lines(CHECK_INDEX_HELP.format(index=index, path=path))
    return doc


def plan_exit_code(resp: dict[str, Any]) -> int:
    """``nomad job plan`` exits 1 when allocations would be created, destroyed,
    migrated or replaced, 0 when nothing would change."""
    for d in ((resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}).values():
        if sum(int(d.get(k, 0) or 0) for k in ("Stop", "Place", "Migrate", "DestructiveUpdate",
                                                "Canary")) > 0:
            return 1
    return 0


def _q(text: Any) -> str:
    """Go's ``%q`` for a diff value."""
    return json.dumps(str(text), ensure_ascii=False)
