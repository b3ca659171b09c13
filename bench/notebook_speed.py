"""How long a learner waits in a notebook: ``%load_ext nomadlab`` and ``%%nomad job run``.

Measured in real kernels (ipykernel started by jupyter_client, as JupyterLab starts them),
from sending the cell to its reply, which is when the prompt comes back:

* load_ext - ``%load_ext nomadlab`` in a fresh kernel (``import nomadlab`` included, as a
             learner's first cell pays it): a ready agent with one real client and the HTTP
             API.  Budget 2 s.
* job run  - ``%%nomad job run`` of a service job with ``count = 3`` exec tasks
             (``/bin/sleep 300``) in that kernel; the next cell checks that all three
             allocations were already running when the prompt came back.  Budget 1 s.

Each figure is the median of REPEAT fresh kernels; ratios are figure / budget (under 1 is
within budget).  Information, not a gate: always exits 0.  Every kernel is shut down, and
with it its agent and tasks (checked at the end).

Run: ``python bench/notebook_speed.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from jupyter_client.manager import KernelManager

REPEAT = 3
LOAD_BUDGET_S = 2.0
RUN_BUDGET_S = 1.0
MARKER = "300.0"  # sleep's argument, to find leftover tasks

JOB = f'''job "bench" {{
  group "web" {{
    count = 3
    task "sleep" {{
      driver = "exec"
      config {{
        command = "/bin/sleep"
        args    = ["{MARKER}"]
      }}
      resources {{
        cpu    = 100
        memory = 32
      }}
    }}
  }}
}}
'''

CHECK = '''import nomadlab.notebook as _nb
print(sorted(a.client_status for a in _nb.agent().allocs("bench")))'''


def execute(client: object, code: str) -> tuple[float, str]:
    """Seconds from sending ``code`` to its reply, and what it printed."""
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))
    began = time.perf_counter()
    reply = client.execute_interactive(code, output_hook=hook, timeout=120)  # type: ignore[attr-defined]
    took = time.perf_counter() - began
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {code.splitlines()[0]}\n{''.join(out)}")
    return took, "".join(out)


def one_kernel() -> tuple[float, float, str]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        load, said = execute(client, "%load_ext nomadlab")
        if "nomadlab dev agent ready" not in said:
            raise RuntimeError(f"%load_ext said:\n{said}")
        run, _ = execute(client, "%%nomad job run\n" + JOB)
        _, statuses = execute(client, CHECK)
        client.stop_channels()
        return load, run, statuses.strip()
    finally:
        km.shutdown_kernel(now=False)


def leftovers() -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    count += f"sleep\0{MARKER}".encode() in f.read()
            except OSError:
                continue
    return count


def main() -> int:
    loads, runs = [], []
    for i in range(REPEAT):
        load, run, statuses = one_kernel()
        loads.append(load)
        runs.append(run)
        print(f"kernel {i + 1}: %load_ext {load:.3f} s, %%nomad job run {run:.3f} s, "
              f"allocations when the prompt returned: {statuses}")
        if statuses != str(["running"] * 3):
            print("  NOT all running when the prompt came back")
    load, run = statistics.median(loads), statistics.median(runs)
    print(f"%load_ext nomadlab        median {load:.3f} s  budget {LOAD_BUDGET_S:.1f} s  "
          f"ratio {load / LOAD_BUDGET_S:.2f}")
    print(f"%%nomad job run (3 exec)  median {run:.3f} s  budget {RUN_BUDGET_S:.1f} s  "
          f"ratio {run / RUN_BUDGET_S:.2f}")
    time.sleep(0.5)
    print(f"tasks left after the kernels shut down: {leftovers()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
