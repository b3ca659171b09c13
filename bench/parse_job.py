"""How fast is ``parse_job`` next to pyhcl's bare parse?

Prints, for the same ~60-line job spec, the time of:

* ``hcl.loads``            - what most code does; rebuilds pyhcl's parse tables each call;
* bare pyhcl, reused       - one ``HclParser`` object, ``.parse(text)`` per call: the baseline;
* ``nl.parse_job``         - HCL2 parse + evaluate + normalise + validate + defaults
                             (the budget: <= 3x baseline);
* ``nl.parse_job``, HCL2 with variables, locals, a dynamic block and functions: the
  same job written the HCL2 way (bench/specs/web-vars.nomad.hcl; budget <= 5x baseline);
* ``nl.parse_job(hcl1=True)`` - pyhcl's route, for comparison.

Run: ``python bench/parse_job.py``.  The ratio is measured in this run, against a
baseline measured in this run, so machines of different speeds agree on it.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import hcl
from hcl.parser import HclParser

import nomadlab as nl

SPEC = (Path(__file__).parent / "specs" / "web.nomad.hcl").read_text()
VARS_SPEC = (Path(__file__).parent / "specs" / "web-vars.nomad.hcl").read_text()
BUDGET = 3.0
VARS_BUDGET = 5.0


def best_of(func: Callable[[], object], repeat: int = 7, number: int = 50) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def main() -> int:
    lines = SPEC.count("\n")
    parser = HclParser()
    parser.parse(SPEC)
    nl.parse_job(SPEC, hcl1=True)  # build nomadlab's tables once, as any long-lived kernel has
    loads = best_of(lambda: hcl.loads(SPEC), repeat=3, number=5)
    bare = best_of(lambda: parser.parse(SPEC))
    ours = best_of(lambda: nl.parse_job(SPEC))
    with_vars = best_of(lambda: nl.parse_job(VARS_SPEC, variables={"count": "4"}))
    hcl1 = best_of(lambda: nl.parse_job(SPEC, hcl1=True))
    ratio, vars_ratio = ours / bare, with_vars / bare
    print(f"job spec: bench/specs/web.nomad.hcl, {lines} lines; with variables: "
          f"bench/specs/web-vars.nomad.hcl, {VARS_SPEC.count(chr(10))} lines")
    print(f"hcl.loads (tables rebuilt each call) {loads * 1e3:8.3f} ms")
    print(f"pyhcl, reused parser (baseline)      {bare * 1e3:8.3f} ms   1.00x")
    print(f"nl.parse_job (HCL2)                  {ours * 1e3:8.3f} ms   {ratio:.2f}x "
          f"(budget {BUDGET:.0f}x)")
    print(f"nl.parse_job (HCL2, variables)       {with_vars * 1e3:8.3f} ms   {vars_ratio:.2f}x "
          f"(budget {VARS_BUDGET:.0f}x)")
    print(f"nl.parse_job (hcl1=True)             {hcl1 * 1e3:8.3f} ms   {hcl1 / bare:.2f}x")
    print(f"hcl.loads / nl.parse_job             {loads / ours:8.1f}x")
    return 0 if ratio <= BUDGET and vars_ratio <= VARS_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
