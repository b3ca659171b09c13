"""Two agents on one host (two notebook kernels made with the same seed, so the same
allocation IDs) never touch each other's containers, processes or cgroups: what each
starts carries its own random agent id, and its cleanup acts only on that."""

from __future__ import annotations

import os
import time

import nomadlab as nl
from nomadlab.client.restore import load_handle
from nomadlab.drivers.docker import AGENT_LABEL, DockerDriver
from nomadlab.drivers.process import pid_alive

IMAGE = "nomadlab/busybox:latest"

SPEC = f'''job "pair" {{
  group "g" {{
    task "box" {{
      driver = "docker"
      config {{
        image   = "{IMAGE}"
        command = "sleep"
        args    = ["300"]
      }}
      resources {{
        cpu    = 100
        memory = 32
      }}
    }}
    task "proc" {{
      driver = "exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo $$ > local/pid; exec sleep 300"]
      }}
      resources {{
        cpu    = 100
        memory = 32
      }}
    }}
  }}
}}'''


def task_pid(agent: nl.Agent, alloc: nl.Allocation) -> int:
    """The exec task's pid on the host, once it wrote its own (from inside its PID
    namespace) into its local/ directory: the one its saved handle names."""
    client = agent.clients[alloc.node_id]
    path = os.path.join(client.data_dir, "alloc", alloc.id, "proc", "local", "pid")
    deadline = time.monotonic() + 30
    while not (os.path.exists(path) and open(path).read().strip()):
        assert time.monotonic() < deadline, f"the exec task never wrote {path}"
        time.sleep(0.05)
    handle = load_handle(os.path.join(client.data_dir, "alloc", alloc.id, ".state", "proc.json"))
    assert handle is not None
    return int(handle.state["task_pid"])


def test_two_agents_with_one_seed_leave_each_other_alone(engine) -> None:
    first, second = nl.dev(seed=21), nl.dev(seed=21)
    try:
        assert first.agent_id != second.agent_id
        first.submit(SPEC)
        second.submit(SPEC)
        (alloc_1,) = first.wait("pair", status="running", timeout=60)
        (alloc_2,) = second.wait("pair", status="running", timeout=60)
        assert alloc_1.id == alloc_2.id, "the same seed gives the same allocation IDs"
        pid_1, pid_2 = task_pid(first, alloc_1), task_pid(second, alloc_2)
        (box_2,) = DockerDriver.find_managed(alloc_2.id, agent_id=second.agent_id, client=engine)
        assert box_2.labels[AGENT_LABEL] == second.agent_id

        first.shutdown()
        assert DockerDriver.find_managed(alloc_1.id, agent_id=first.agent_id,
                                         client=engine) == []
        assert not pid_alive(pid_1)
        box_2.reload()
        assert box_2.status == "running", "the other agent's container was touched"
        assert pid_alive(pid_2), "the other agent's exec task was killed"
    finally:
        first.shutdown()
        second.shutdown()
    assert DockerDriver.find_managed(alloc_1.id, client=engine) == []  # neither agent's
    assert not pid_alive(pid_2)
