"""The one cluster interface: the agent and a remote cluster offer the same methods, the
server is the only writer, and a request's identity reaches it."""

from __future__ import annotations

import inspect

import pytest

import nomadlab as nl
from nomadlab.api.remote import Remote
from nomadlab.cluster import Cluster, ClusterView, LocalCluster
from nomadlab.errors import ClusterError, Invalid, NotFound
from nomadlab.structs import Identity

JOB = """
job "web" {
  group "g" {
    count = 2
    task "t" {
      driver = "exec"
      config { command = "/bin/sleep" }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
"""


def _members(protocol: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(protocol)
            if not name.startswith("_")} - set(dir(object))


@pytest.mark.parametrize("cls, protocol", [(nl.Agent, LocalCluster), (Remote, Cluster)])
def test_both_implement_every_method_of_the_interface(cls: type, protocol: type) -> None:
    missing = sorted(m for m in _members(protocol) if not hasattr(cls, m)
                     and m not in ("identity", "mode"))  # set on each instance
    assert not missing, f"{cls.__name__} lacks {missing}"


def test_a_job_and_its_evaluation_commit_at_one_index() -> None:
    with nl.dev(clients=0, mode="step", seed=3) as c:
        c.add_node("n1")
        ev = c.submit(JOB)
        job = c.job("web")
        assert ev.create_index == job.job_modify_index == c.index


def test_a_view_reads_the_past_and_the_present_alike() -> None:
    with nl.dev(clients=0, mode="step", seed=3) as c:
        c.add_node("n1")
        before = c.index
        c.submit(JOB)
        c.run_until_idle()
        past = c.at(before)
        assert isinstance(past, ClusterView) and past.index == before
        assert past.jobs() == [] and past.allocs() == []
        with pytest.raises(NotFound, match='job "web" not found'):
            past.job("web")
        assert len(c.at().allocs("web")) == len(c.allocs("web")) == 2


def test_explaining_changes_no_later_id() -> None:
    """explain() re-runs the scheduler: it must not draw from the cluster's ID source."""
    def run(explain: bool) -> list[str]:
        with nl.dev(clients=0, mode="step", seed=5) as c:
            c.add_node("n1")
            ev = c.submit(JOB)
            c.run_until_idle()
            if explain:
                assert c.explain(ev.id).placements
            c.submit(JOB.replace("count = 2", "count = 3"))
            c.run_until_idle()
            return sorted(a.id for a in c.allocs("web"))
    assert run(explain=True) == run(explain=False)


def test_the_identity_reaches_the_server() -> None:
    with nl.dev(clients=0, mode="step") as c:
        elsewhere = c.with_identity(Identity(token="t", region="europe"))
        with pytest.raises(ClusterError, match="No path to region") as err:
            elsewhere.submit(JOB)
        assert err.value.status == 500
        assert c.jobs() == []  # nothing was written
        in_dev = c.with_identity(Identity(namespace="default"))
        in_dev.submit(JOB)
        assert [j.id for j in c.jobs()] == ["web"]


def test_errors_are_the_clusters_own() -> None:
    with nl.dev(clients=0, mode="step") as c:
        with pytest.raises(NotFound) as missing:
            c.alloc("zzz")
        assert missing.value.status == 404 and isinstance(missing.value, KeyError)
        c.submit(JOB)
        with pytest.raises(Invalid, match="can't be negative"):
            c.scale("web", "g", -1)


def test_a_remote_cluster_is_read_as_it_is_now() -> None:
    with nl.dev(clients=0, mode="step", http=0) as c:
        r = nl.connect(c.http_addr)
        try:
            assert r.at() is r and not r.in_process and r.mode == "remote"
            with pytest.raises(Invalid, match="keeps no past states"):
                r.at(r.index + 100)
            assert r.explain("x") is None
        finally:
            r.close()


def test_absurd_counts_are_refused_at_the_server_for_python_callers_too() -> None:
    """The HTTP API validates bodies; a Job built in Python reaches the server directly."""
    with nl.dev(clients=0, mode="step") as c:
        job = nl.parse_job(JOB)
        job.task_groups[0].count = 10**18
        with pytest.raises(Invalid, match="limit of 10000"):
            c.submit(job)
        c.submit(JOB)
        with pytest.raises(Invalid, match="limit of 10000"):
            c.scale("web", "g", 10**18)
        assert c.job("web").task_groups[0].count == 2


def test_a_remote_cluster_is_followed_through_its_event_stream() -> None:
    import queue
    with nl.dev(clients=0, mode="step", http=0) as c:
        c.add_node("n1")
        r = nl.connect(c.http_addr)
        seen: "queue.Queue[tuple[str, str]]" = queue.Queue()
        stop = r.subscribe(lambda events: [seen.put((e.topic, e.key)) for e in events])
        try:
            c.submit(JOB)
            got = set()
            while ("Job", "web") not in got:
                got.add(seen.get(timeout=30))  # bounded: fails, never hangs
        finally:
            stop()
            r.close()


def test_validate_asks_the_server_what_it_would_refuse() -> None:
    """``job validate``'s server half: the same rule register and plan apply, in the
    agent and over HTTP (Nomad's /v1/validate/job ValidationErrors)."""
    consul = JOB.replace('  group "g" {\n', '  group "g" {\n    service {\n      name = "web"\n'
                                                 '    }\n', 1)
    with nl.dev(clients=0, seed=1, http=0) as c:
        remote = nl.connect(c.http_addr)
        try:
            for cluster in (c, remote):
                assert cluster.validate(JOB) == []
                (problem,) = cluster.validate(consul)
                assert 'service "web" in group "g"' in problem and "Consul" in problem
            with pytest.raises(Invalid, match="needs Consul"):
                c.submit(consul)
            with pytest.raises(Invalid, match="needs Consul"):
                c.plan(consul)
            assert c.jobs() == []
        finally:
            remote.close()
