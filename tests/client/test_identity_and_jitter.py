"""The agent id is random and kept in the data dir; restart jitter follows the seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nomadlab.client.identity import AGENT_ID_FILE, load_agent_id
from nomadlab.client.restarts import RestartTracker, jitter_rng
from nomadlab.structs import RestartPolicy


def test_agent_id_is_random_without_a_data_dir() -> None:
    ids = {load_agent_id() for _ in range(5)}
    assert len(ids) == 5 and all(len(i) == 8 and int(i, 16) >= 0 for i in ids)


def test_agent_id_is_kept_in_the_data_dir(tmp_path) -> None:
    data_dir = tmp_path / "agent"
    first = load_agent_id(str(data_dir))
    assert (data_dir / AGENT_ID_FILE).read_text().strip() == first
    assert os.stat(data_dir).st_mode & 0o777 == 0o700
    assert load_agent_id(str(data_dir)) == first          # a restarted agent: the same id
    assert load_agent_id(str(tmp_path / "other")) != first  # another agent: its own


def test_jitter_depends_on_the_seed_and_the_task() -> None:
    policy = RestartPolicy(attempts=5, interval=60_000_000_000, delay=1_000_000_000,
                           mode="fail")

    def delays(seed: int, task: str) -> list[int]:
        tracker = RestartTracker(policy, batch=False, rng=jitter_rng(seed, "alloc-1", task))
        return [tracker.next(i, success=False).delay for i in range(5)]

    assert delays(1, "t") == delays(1, "t")
    assert delays(1, "t") != delays(2, "t") and delays(1, "t") != delays(1, "u")


# Run in fresh interpreters with different hash salts: what hash() would change, the seed keeps.
RUN = '''
import json, nomadlab as nl
spec = """job "flaky" {
  type = "batch"
  group "g" {
    restart {
      attempts = 2
      interval = "1m"
      delay    = "100ms"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exit 1"]
      }
    }
  }
}"""
with nl.dev(seed=8) as c:
    c.submit(spec)
    (alloc,) = c.wait("flaky", status="failed", timeout=60)
    print(json.dumps([e.start_delay for e in alloc.task_states["t"].events
                      if e.type == "Restarting"]))
'''


def test_the_same_seed_gives_the_same_restart_delays_in_every_run() -> None:
    runs = []
    for salt in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "PYTHONHASHSEED": salt})
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert len(runs[0]) == 2 and all(d >= 100_000_000 for d in runs[0])
    assert runs[0] == runs[1]
