"""Job specs from Nomad's own repository, each treated as Nomad treats it.

``tests/jobspecs/nomad/`` holds job specs of hashicorp/nomad's end-to-end suite and
demos (see its README for where and under which licence); ``expected.yaml`` says, for
each, the values Nomad's parser gives for key fields, or the gap (something nomadlab does
not model) that makes nomadlab refuse a spec Nomad accepts, or the reason both refuse it.  Every spec must be read
without crashing; the tally of agreements is printed (``pytest -s`` or ``-rA``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import nomadlab as nl

CORPUS = Path(__file__).parent / "jobspecs" / "nomad"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
SPECS = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".nomad", ".hcl"))


def _parse(name: str) -> nl.Job:
    want = EXPECTED[name]
    text = (CORPUS / name).read_text(encoding="utf-8")
    files = [CORPUS / f for f in want.get("var_files", [])]
    return nl.parse_job(text, name, variables=want.get("vars"), var_files=files)


def _at(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _agrees(name: str) -> tuple[bool, str]:
    """Whether nomadlab treats the spec as Nomad does, and if not, why not."""
    want = EXPECTED[name]
    try:
        job = _parse(name)
    except nl.JobSpecError as err:
        if "rejected" in want:
            return want["rejected"] in str(err), f"refused for another reason:\n{err}"
        if "gap" in want:
            assert want["gap"] in str(err), f"{name}: refused for another reason:\n{err}"
            return False, f"gap: {want['gap']}"
        return False, f"refused:\n{err}"
    if "gap" in want or "rejected" in want:
        return False, "accepted, but Nomad (or nomadlab, for a gap) refuses it"
    api = job.to_api()
    found = {
        "id": api["ID"], "type": api["Type"],
        "groups": {g["Name"]: g["Count"] for g in api["TaskGroups"]},
        "drivers": {f'{g["Name"]}/{t["Name"]}': t["Driver"] for g in api["TaskGroups"]
                    for t in g["Tasks"]},
    }
    expected = {"id": want["id"], "type": want.get("type", "service"), "groups": want["groups"],
                "drivers": want["drivers"]}
    if found != expected:
        return False, f"key fields differ: {found} != {expected}"
    for path, value in (want.get("values") or {}).items():
        got = _at(api, path)
        if got != value:
            return False, f"{path} is {got!r}, Nomad gives {value!r}"
    return True, ""


def test_every_spec_has_an_expectation() -> None:
    assert SPECS and sorted(EXPECTED) == SPECS


@pytest.mark.parametrize("name", [n for n in SPECS if "gap" not in EXPECTED.get(n, {})])
def test_spec_is_read_with_nomads_values(name: str) -> None:
    ok, why = _agrees(name)
    assert ok, why


@pytest.mark.parametrize("name", [n for n in SPECS if "gap" in EXPECTED.get(n, {})])
def test_gap_is_refused_with_a_message_that_says_so(name: str) -> None:
    ok, why = _agrees(name)
    assert not ok and why.startswith("gap"), why


def test_tally(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints ``nomad corpus: N/M treated as Nomad treats them``; none may crash."""
    results = {name: _agrees(name) for name in SPECS}
    agree = sum(ok for ok, _ in results.values())
    with capsys.disabled():
        print(f"\nnomad corpus: {agree}/{len(SPECS)} treated as Nomad treats them")
        for name, (ok, why) in results.items():
            if not ok:
                print(f"  {name}: {why.splitlines()[0]}")
    assert not any("could not read this job spec" in why for _, why in results.values())
