"""The labs' graders: each must name what is wrong in a wrong answer and pass a right one."""

from __future__ import annotations

from typing import Iterator

import pytest

import nomadlab as nl
from nomadlab.notebook.exercises import (Feedback, check_01, check_02, check_03, check_04, check_05,
                                         check_06)


@pytest.fixture
def c() -> Iterator[nl.Agent]:
    agent = nl.dev(clients=0, seed=9)
    yield agent
    agent.shutdown()


def job(job_id: str, *, type_: str = "service", group: str = "g", count: int = 1, task: str = "t",
        driver: str = "exec", command: str = "sleep", args: str = '["300"]', memory: int = 64,
        extra: str = "") -> str:
    return f'''job "{job_id}" {{
  type = "{type_}"
  group "{group}" {{
    count = {count}
    {extra}
    task "{task}" {{
      driver = "{driver}"
      config {{
        command = "{command}"
        args    = {args}
      }}
      resources {{
        cpu    = 100
        memory = {memory}
      }}
    }}
  }}
}}'''


def test_feedback_reads_as_a_message() -> None:
    todo = Feedback("02", ["a", "b"], "yes")
    assert not todo.passed and str(todo) == "Lab 02, still to do:\n  - a\n  - b"
    done = Feedback("02", [], "Job greet runs.")
    assert done.passed and str(done) == "Lab 02: all done! Job greet runs." == repr(done)


def test_check_01(c: nl.Agent) -> None:
    assert "no node called" in check_01(c)[0]
    c.add_node("edge-1", datacenter="dc1", node_class="edge", meta={"zone": "south"},
               drivers=("exec", "docker"))
    todo = check_01(c)
    assert len(todo) == 3
    assert any('datacenter "dc1", not "dc2"' in t for t in todo)
    assert any("zone" in t for t in todo) and any("only exec" in t for t in todo)
    c.remove_node("edge-1")
    c.add_node("edge-1", datacenter="dc2", node_class="edge", meta={"zone": "north"}, drivers=("exec",))
    assert check_01(c).passed


def test_check_02(c: nl.Agent) -> None:
    c.add_node("n1", cpu=4000, memory=4096, drivers=("exec",))
    c.add_node("n2", cpu=4000, memory=4096, drivers=("exec",))
    assert "there is no job" in check_02(c)[0]
    c.submit(job("greet", group="greeters", task="hello", memory=300))
    todo = check_02(c)
    assert [t.split(";")[0] for t in todo] == ["group greeters asks for 1 copies (count)",
                                               "task hello asks for 300 MB of memory"]
    c.submit(job("greet", type_="batch", group="greeters", count=2, task="hello", driver="docker"))
    todo = check_02(c)
    assert any("batch job" in t for t in todo) and any('"docker" driver' in t for t in todo)
    c.submit(job("greet", group="greeters", count=2, task="hello"))
    assert check_02(c).passed, check_02(c)


def test_check_02_reports_what_could_not_be_placed(c: nl.Agent) -> None:
    c.add_node("tiny", cpu=4000, memory=100, drivers=("exec",))
    c.submit(job("greet", group="greeters", count=2, task="hello"))
    todo = check_02(c)
    assert any('dimension "memory" exhausted' in t for t in todo), todo


def cluster_03(c: nl.Agent) -> None:
    for name, node_class, rack in (("small-1", "small", "r1"), ("large-1", "large", "r1"),
                                   ("large-2", "large", "r2")):
        c.add_node(name, node_class=node_class, cpu=4000, memory=8192, meta={"rack": rack},
                   drivers=("exec",))


def test_check_03(c: nl.Agent) -> None:
    cluster_03(c)
    assert "there is no job" in check_03(c)[0]
    c.submit(job("pinned", count=2))
    todo = check_03(c)
    assert "asks for 2 allocations" in todo[0]
    assert any("constraint" in t and "(constraints now: none)" in t for t in todo)
    assert any("affinity" in t and "(affinities now: none)" in t for t in todo)
    wrong_rack = '''constraint {
      attribute = "${node.class}"
      value     = "large"
    }
    affinity {
      attribute = "${meta.rack}"
      value     = "r1"
      weight    = 50
    }'''
    c.submit(job("pinned", count=3, extra=wrong_rack))
    todo = check_03(c)
    assert len(todo) == 1 and '"${meta.rack} = r1" weight 50' in todo[0]
    c.submit(job("pinned", count=3, extra=wrong_rack.replace('"r1"', '"r2"')))
    feedback = check_03(c)
    assert feedback.passed, feedback
    assert {a.node_name for a in c.allocs("pinned") if a.desired_status == "run"} <= {"large-1", "large-2"}


TRAIN = job("train", group="trainer", count=2, memory=3000, extra='''constraint {
      attribute = "${node.class}"
      value     = "gpu"
    }''')


def test_check_04(c: nl.Agent) -> None:
    c.add_node("node-1", cpu=2000, memory=1024, drivers=("exec",))
    assert "run the cells above" in check_04(c)[0]
    c.submit(TRAIN)
    todo = check_04(c)
    assert 'constraint "${node.class} = gpu" filtered 1 node(s)' in todo[0]
    assert "still blocked" in todo[1]
    c.add_node("gpu-small", node_class="gpu", cpu=4000, memory=4000, drivers=("exec",))
    todo = check_04(c)
    assert any('dimension "memory" exhausted' in t for t in todo), todo
    c.add_node("gpu-2", node_class="gpu", cpu=4000, memory=4000, drivers=("exec",))
    feedback = check_04(c)
    assert feedback.passed, feedback


def test_check_04_refuses_a_changed_job(c: nl.Agent) -> None:
    c.add_node("node-1", cpu=2000, memory=8192, drivers=("exec",))
    c.submit(TRAIN)
    c.submit(TRAIN.replace('"gpu"', '""').replace('value     = ""', 'operator = "is_set"'))
    todo = check_04(c)
    assert len(todo) == 1 and "it is at version 1" in todo[0]


def test_check_05_with_real_processes() -> None:
    with nl.dev(clients=1, seed=9, client_cpu=1000, client_memory=1024) as c:
        assert "there is no job" in check_05(c)[0]
        c.submit(job("whoami", type_="batch", command="/bin/echo", args='["I am someone"]'))
        todo = check_05(c)
        assert todo == ['whoami.g[0] printed "I am someone", expected "I am whoami.g[0] on client-1"']
        c.submit(job("whoami", type_="batch", command="/bin/echo",
                     args='["I am $NOMAD_ALLOC_NAME on ${node.unique.name}"]'))
        todo = check_05(c)
        assert len(todo) == 1 and "the shell did not expand" in todo[0], todo
        c.submit(job("whoami", type_="batch", command="/bin/sh",
                     args='["-c", "echo I am $NOMAD_ALLOC_NAME on ${node.unique.name}"]'))
        feedback = check_05(c)
        assert feedback.passed, feedback


def test_check_06(c: nl.Agent) -> None:
    c.add_node("n1", cpu=4000, memory=4096, drivers=("exec",))
    assert "register it through the HTTP API" in check_06(c)[0]
    c.submit(job("api-hello"))
    todo = check_06(c)
    assert len(todo) == 1 and "set seen_alloc_id" in todo[0]
    todo = check_06(c, seen_alloc_id="deadbeef")
    assert len(todo) == 1 and '"deadbeef" is not an allocation of api-hello' in todo[0]
    (alloc,) = c.allocs("api-hello")
    assert check_06(c, seen_alloc_id=alloc.id[:8]).passed
