"""The task environment, variable by variable, against Nomad's taskenv.Builder rules."""

from __future__ import annotations

import pytest

from nomadlab.client.taskenv import build_task_env, clean_env_var, format_cpuset
from nomadlab.structs import (AllocatedCpuResources, AllocatedMemoryResources,
                              AllocatedResources, AllocatedSharedResources,
                              AllocatedTaskResources, Allocation, Job, NetworkResource, Node,
                              ParameterizedJobConfig, Port, PortMapping, Resources, Task,
                              TaskGroup)

ALLOC_ID = "5a1c2d3e-aaaa-bbbb-cccc-0123456789ab"
DIRS = dict(alloc_dir="/data/alloc/x/alloc", task_dir="/data/alloc/x/web/local",
            secrets_dir="/data/alloc/x/web/secrets")


def make_node() -> Node:
    return Node(id="node-1234", name="client-a", datacenter="dc2", node_class="gpu",
                node_pool="batchy", attributes={"kernel.name": "linux", "cpu.arch": "amd64"},
                meta={"rack": "r7"})


def make_alloc(task: Task | None = None, ports=None, **job_kw) -> Allocation:
    task = task or Task(name="web", driver="raw_exec", meta={"owner": "task-team"},
                        env={"GREETING": "hello"})
    group = TaskGroup(name="frontend", tasks=[task], meta={"tier": "group", "owner": "grp"})
    job = Job(id="shop", name="shop-name", meta={"tier": "job", "Env": "prod"}, **job_kw)
    job.task_groups = [group]
    if ports is None:
        ports = [PortMapping(label="http", value=23456, to=8080, host_ip="10.0.0.5"),
                 PortMapping(label="admin", value=9090, to=0, host_ip="10.0.0.5")]
    resources = AllocatedResources(
        tasks={task.name: AllocatedTaskResources(
            cpu=AllocatedCpuResources(cpu_shares=500),
            memory=AllocatedMemoryResources(memory_mb=256))},
        shared=AllocatedSharedResources(ports=ports))
    return Allocation(id=ALLOC_ID, namespace="default", name="shop.frontend[2]",
                      job_id="shop", job=job, task_group="frontend",
                      allocated_resources=resources)


def build(alloc=None, task=None, **kw):
    alloc = alloc or make_alloc()
    task = task or alloc.job.task_groups[0].tasks[0]
    return build_task_env(alloc, task, make_node(), **DIRS, **kw)


def test_every_variable_has_nomads_value():
    assert build() == {
        "NOMAD_ALLOC_DIR": "/data/alloc/x/alloc",
        "NOMAD_TASK_DIR": "/data/alloc/x/web/local",
        "NOMAD_SECRETS_DIR": "/data/alloc/x/web/secrets",
        "NOMAD_MEMORY_LIMIT": "256",
        "NOMAD_CPU_LIMIT": "500",
        "NOMAD_ALLOC_ID": ALLOC_ID,
        "NOMAD_SHORT_ALLOC_ID": "5a1c2d3e",
        "NOMAD_ALLOC_NAME": "shop.frontend[2]",
        "NOMAD_ALLOC_INDEX": "2",
        "NOMAD_TASK_NAME": "web",
        "NOMAD_GROUP_NAME": "frontend",
        "NOMAD_JOB_ID": "shop",
        "NOMAD_JOB_NAME": "shop-name",
        "NOMAD_DC": "dc2",
        "NOMAD_REGION": "global",
        "NOMAD_NAMESPACE": "default",
        "NOMAD_IP_http": "10.0.0.5",
        "NOMAD_HOST_IP_http": "10.0.0.5",
        "NOMAD_PORT_http": "8080",
        "NOMAD_ALLOC_PORT_http": "8080",
        "NOMAD_HOST_PORT_http": "23456",
        "NOMAD_ADDR_http": "10.0.0.5:23456",
        "NOMAD_HOST_ADDR_http": "10.0.0.5:23456",
        "NOMAD_IP_admin": "10.0.0.5",
        "NOMAD_HOST_IP_admin": "10.0.0.5",
        "NOMAD_PORT_admin": "9090",
        "NOMAD_ALLOC_PORT_admin": "9090",
        "NOMAD_HOST_PORT_admin": "9090",
        "NOMAD_ADDR_admin": "10.0.0.5:9090",
        "NOMAD_HOST_ADDR_admin": "10.0.0.5:9090",
        "NOMAD_META_tier": "group",
        "NOMAD_META_TIER": "group",
        "NOMAD_META_owner": "task-team",
        "NOMAD_META_OWNER": "task-team",
        "NOMAD_META_Env": "prod",
        "NOMAD_META_ENV": "prod",
        "GREETING": "hello",
    }


def test_returns_a_plain_dict_without_node_values():
    env = build()
    assert type(env) is dict
    assert not any(k.startswith(("node.", "attr.", "meta.")) for k in env)


def test_optional_variables_appear_when_set():
    task = Task(name="web", resources=Resources(cpu=100, memory_mb=64))
    alloc = make_alloc(task, parent_id="shop/periodic-1700000000")
    alloc.allocated_resources.tasks["web"] = AllocatedTaskResources(
        cpu=AllocatedCpuResources(cpu_shares=2000, reserved_cores=[3, 0, 1, 2, 5]),
        memory=AllocatedMemoryResources(memory_mb=128, memory_max_mb=512))
    env = build(alloc, task, region="eu")
    assert env["NOMAD_JOB_PARENT_ID"] == "shop/periodic-1700000000"
    assert env["NOMAD_CPU_CORES"] == "0-3,5"
    assert env["NOMAD_MEMORY_MAX_LIMIT"] == "512"
    assert env["NOMAD_CPU_LIMIT"] == "2000"
    assert env["NOMAD_MEMORY_LIMIT"] == "128"
    assert env["NOMAD_REGION"] == "eu"


def test_limits_fall_back_to_the_tasks_ask_without_allocated_resources():
    task = Task(name="web", resources=Resources(cpu=100, memory_mb=64))
    alloc = make_alloc(task)
    alloc.allocated_resources = None
    env = build(alloc, task)
    assert (env["NOMAD_CPU_LIMIT"], env["NOMAD_MEMORY_LIMIT"]) == ("100", "64")
    assert "NOMAD_MEMORY_MAX_LIMIT" not in env and "NOMAD_CPU_CORES" not in env
    assert not any(k.startswith("NOMAD_PORT_") for k in env)


def test_meta_task_wins_over_group_over_job_and_both_cases_are_set():
    env = build()
    assert env["NOMAD_META_owner"] == env["NOMAD_META_OWNER"] == "task-team"
    assert env["NOMAD_META_tier"] == "group"
    assert env["NOMAD_META_Env"] == env["NOMAD_META_ENV"] == "prod"
    assert "NOMAD_META_env" not in env


def test_meta_values_are_interpolated_and_keys_cleaned():
    task = Task(name="web", meta={"where": "${node.unique.name}/${attr.cpu.arch}",
                                  "my-key": "v", "who": "${NOMAD_TASK_NAME}"})
    env = build(make_alloc(task), task)
    assert env["NOMAD_META_where"] == "client-a/amd64"
    assert env["NOMAD_META_who"] == "web"
    assert env["NOMAD_META_my_key"] == env["NOMAD_META_MY_KEY"] == "v"
    assert "NOMAD_META_my-key" not in env


def test_dispatched_job_sets_unset_optional_meta_to_empty():
    alloc = make_alloc(dispatched=True,
                       parameterized_job=ParameterizedJobConfig(meta_optional=["color", "Env"]))
    env = build(alloc)
    assert env["NOMAD_META_color"] == env["NOMAD_META_COLOR"] == ""
    assert env["NOMAD_META_Env"] == "prod"


def test_dashes_in_port_labels_follow_nomads_cleaning():
    ports = [PortMapping(label="my-port", value=25000, to=80, host_ip="127.0.0.1")]
    env = build(make_alloc(ports=ports))
    assert env["NOMAD_PORT_my_port"] == "80"
    assert env["NOMAD_HOST_PORT_my_port"] == "25000"
    assert env["NOMAD_ADDR_my_port"] == "127.0.0.1:25000"
    assert env["NOMAD_IP_my_port"] == "127.0.0.1"
    # Nomad cleans only ADDR_, IP_, PORT_, HOST_PORT_ and META_ keys.
    assert env["NOMAD_HOST_ADDR_my-port"] == "127.0.0.1:25000"
    assert env["NOMAD_HOST_IP_my-port"] == "127.0.0.1"
    assert env["NOMAD_ALLOC_PORT_my-port"] == "80"
    assert "NOMAD_PORT_my-port" not in env


def test_ipv6_addresses_are_bracketed():
    ports = [PortMapping(label="http", value=25000, to=0, host_ip="::1")]
    assert build(make_alloc(ports=ports))["NOMAD_ADDR_http"] == "[::1]:25000"


def test_group_network_ports_and_other_tasks_ports():
    alloc = make_alloc(ports=[])
    alloc.allocated_resources.shared.networks = [NetworkResource(
        reserved_ports=[Port(label="db", value=5432)],
        dynamic_ports=[Port(label="api", value=21000, to=9000)])]
    alloc.allocated_resources.tasks["sidecar"] = AllocatedTaskResources(networks=[
        NetworkResource(ip="10.1.1.1", dynamic_ports=[Port(label="metrics", value=22000)])])
    env = build(alloc)
    assert env["NOMAD_PORT_db"] == env["NOMAD_HOST_PORT_db"] == "5432"
    assert (env["NOMAD_PORT_api"], env["NOMAD_HOST_PORT_api"]) == ("9000", "21000")
    assert env["NOMAD_ADDR_sidecar_metrics"] == "10.1.1.1:22000"
    assert env["NOMAD_IP_sidecar_metrics"] == "10.1.1.1"
    assert env["NOMAD_PORT_sidecar_metrics"] == "22000"


def test_task_env_is_interpolated_and_may_override_nomad_variables():
    task = Task(name="web", env={
        "ADDR": "${NOMAD_ADDR_http}", "NODE": "${node.unique.id}", "DC": "${node.datacenter}",
        "KERNEL": "${attr.kernel.name}", "RACK": "${meta.rack}", "POOL": "${node.pool}",
        "REGION": "${node.region}", "MISSING": "${attr.nope}", "FIRST": "a",
        "SECOND": "${FIRST}b", "NOMAD_TASK_NAME": "renamed"})
    env = build(make_alloc(task), task, region="eu")
    assert env["ADDR"] == "10.0.0.5:23456"
    assert (env["NODE"], env["DC"], env["KERNEL"], env["RACK"], env["POOL"]) == (
        "node-1234", "dc2", "linux", "r7", "batchy")
    assert env["REGION"] == "eu"
    assert env["MISSING"] == "${attr.nope}"
    assert env["SECOND"] == "ab"
    assert env["NOMAD_TASK_NAME"] == "renamed"


def test_host_env_fills_only_unset_variables_and_task_env_beats_it():
    task = Task(name="web", env={"PATH": "/task/bin"})
    env = build(make_alloc(task), task,
                host_env={"HOME": "/root", "NOMAD_ALLOC_ID": "spoofed", "PATH": "/usr/bin"})
    assert env["HOME"] == "/root"
    assert env["NOMAD_ALLOC_ID"] == ALLOC_ID
    assert env["PATH"] == "/task/bin"


def test_empty_directories_are_left_out():
    alloc = make_alloc()
    env = build_task_env(alloc, alloc.job.task_groups[0].tasks[0], make_node(),
                         alloc_dir="", task_dir="", secrets_dir="")
    assert not {"NOMAD_ALLOC_DIR", "NOMAD_TASK_DIR", "NOMAD_SECRETS_DIR"} & env.keys()


def test_alloc_without_job_is_refused():
    alloc = make_alloc()
    task = alloc.job.task_groups[0].tasks[0]
    alloc.job = None
    with pytest.raises(ValueError, match="no job"):
        build_task_env(alloc, task, make_node(), **DIRS)


@pytest.mark.parametrize("raw, cleaned", [
    ("NOMAD_PORT_my-port", "NOMAD_PORT_my_port"), ("NOMAD_META_a.b", "NOMAD_META_a.b"),
    ("NOMAD_META_x y!", "NOMAD_META_x_y_"), ("9lives", "_lives")])
def test_clean_env_var(raw, cleaned):
    assert clean_env_var(raw) == cleaned


@pytest.mark.parametrize("cores, text", [([], ""), ([4], "4"), ([0, 1], "0-1"),
                                         ([5, 1, 2, 3, 9], "1-3,5,9")])
def test_format_cpuset(cores, text):
    assert format_cpuset(cores) == text
