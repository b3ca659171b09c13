"""The environment a task runs with, built the way Nomad's ``taskenv.Builder`` builds it.

Layers, later ones winning (client/taskenv/env.go ``buildEnv``):

1. directories, resource limits, alloc/job/task identity, datacenter, namespace, region;
2. ports: the task's own networks, other tasks' ports, the group's networks and finally
   the group's allocated ports (``NOMAD_PORT_<label>`` is the ``to`` port when mapped);
3. ``NOMAD_META_<key>`` for job, group and task meta merged (task wins), both as written
   and upper-cased, interpolated;
4. the host's environment, only where nothing above set the variable;
5. the task's ``env`` block, interpolated, which may override anything above.

Finally keys starting ``NOMAD_ADDR_``, ``NOMAD_IP_``, ``NOMAD_PORT_``, ``NOMAD_HOST_PORT_``
or ``NOMAD_META_`` have characters that are illegal in a variable name (a dash in a port
label, say) replaced by ``_``.  Nomad cleans only those five prefixes, so
``NOMAD_HOST_ADDR_``, ``NOMAD_HOST_IP_`` and ``NOMAD_ALLOC_PORT_`` keep a label's dashes;
nomadlab does the same so that what a learner sees matches Nomad.

Node values (``node.unique.id``, ``attr.*``, ``meta.*``) are used for interpolation but
never become variables.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

from ..structs import Allocation, Node, Task
from ..structs.resources import NetworkResource, Port
from .interpolate import interpolate_env, node_attributes, replace_env

__all__ = ["build_task_env", "clean_env_var", "format_cpuset", "CLEANED_PREFIXES"]

#: The prefixes whose keys Nomad cleans of illegal characters (see nomad#2405).
CLEANED_PREFIXES = ("NOMAD_ADDR_", "NOMAD_IP_", "NOMAD_PORT_", "NOMAD_HOST_PORT_",
                    "NOMAD_META_")


def clean_env_var(name: str, replacement: str = "_") -> str:
    """Nomad's ``helper.CleanEnvVar``: keep letters, ``_``, ``.`` and non-leading digits."""
    return "".join(
        c if (c in "_." or ("a" <= c <= "z") or ("A" <= c <= "Z")
              or (i > 0 and "0" <= c <= "9")) else replacement
        for i, c in enumerate(name))


def format_cpuset(cores: Iterable[int]) -> str:
    """Cores in the kernel's list format, runs collapsed: ``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    ids = sorted(set(cores))
    parts: list[str] = []
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


def _join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 hosts are bracketed."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _task_port_env(env: dict[str, str], network: NetworkResource, port: Port) -> None:
    """``buildPortEnv`` for a port of the task's own (legacy, task-level) network."""
    ip = network.ip
    family = "NOMAD_IPv6_" if ":" in ip else "NOMAD_IPv4_"
    env[f"NOMAD_IP_{port.label}"] = ip
    env[f"{family}{port.label}"] = ip
    env[f"NOMAD_HOST_PORT_{port.label}"] = str(port.value)
    env[f"NOMAD_ADDR_{port.label}"] = _join_host_port(ip, port.value)
    env[f"NOMAD_PORT_{port.label}"] = str(port.value)


def _port_env(alloc: Allocation, task_name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(the task's own network variables, the alloc's other port variables)."""
    own: dict[str, str] = {}
    other: dict[str, str] = {}
    resources = alloc.allocated_resources
    if resources is None:
        return own, other
    mine = resources.tasks.get(task_name)
    if mine is not None:
        for nw in mine.networks:
            for p in nw.ports():
                _task_port_env(own, nw, p)
    for name, task_resources in resources.tasks.items():
        if name == task_name:
            continue
        for nw in task_resources.networks:
            for p in nw.ports():
                other[f"NOMAD_ADDR_{name}_{p.label}"] = _join_host_port(nw.ip, p.value)
                other[f"NOMAD_IP_{name}_{p.label}"] = nw.ip
                other[f"NOMAD_PORT_{name}_{p.label}"] = str(p.value)
    for nw in resources.shared.networks:
        for p in nw.ports():
            other[f"NOMAD_PORT_{p.label}"] = str(p.to if p.to > 0 else p.value)
            other[f"NOMAD_HOST_PORT_{p.label}"] = str(p.value)
    for p in resources.shared.ports:
        host = str(p.value)
        inside = str(p.to if p.to > 0 else p.value)
        addr = _join_host_port(p.host_ip, p.value)
        other[f"NOMAD_ADDR_{p.label}"] = addr
        other[f"NOMAD_HOST_ADDR_{p.label}"] = addr
        other[f"NOMAD_IP_{p.label}"] = p.host_ip
        other[f"NOMAD_HOST_IP_{p.label}"] = p.host_ip
        other[f"NOMAD_PORT_{p.label}"] = inside
        other[f"NOMAD_ALLOC_PORT_{p.label}"] = inside
        other[f"NOMAD_HOST_PORT_{p.label}"] = host
    return own, other


def _task_meta(alloc: Allocation, task: Task) -> dict[str, str]:
    """``NOMAD_META_*`` before interpolation: job < group < task, as written and upper-cased."""
    job = alloc.job
    assert job is not None
    meta: dict[str, str] = {}
    if job.dispatched and job.parameterized_job is not None:
        for key in job.parameterized_job.meta_optional:
            meta[f"NOMAD_META_{key.upper()}"] = ""
            meta[f"NOMAD_META_{key}"] = ""
    combined = dict(job.meta)
    try:
        combined.update(job.group(alloc.task_group).meta)
    except KeyError:
        pass
    combined.update(task.meta)
    for key, value in combined.items():
        meta[f"NOMAD_META_{key.upper()}"] = value
        meta[f"NOMAD_META_{key}"] = value
    return meta


def build_task_env(alloc: Allocation, task: Task, node: Node, *, alloc_dir: str,
                   task_dir: str, secrets_dir: str, region: str = "global",
                   host_env: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The task's environment variables, exactly the set Nomad's client would give it.

    ``alloc_dir``, ``task_dir`` and ``secrets_dir`` become ``NOMAD_ALLOC_DIR``,
    ``NOMAD_TASK_DIR`` and ``NOMAD_SECRETS_DIR`` as given.  ``host_env`` (the client's own
    environment, which Nomad passes to exec-style drivers) fills only unset variables.
    """
    job = alloc.job
    if job is None:
        raise ValueError(f"allocation {alloc.id!r} carries no job")
    attrs = node_attributes(node, region)
    env: dict[str, str] = {}

    for key, path in (("NOMAD_ALLOC_DIR", alloc_dir), ("NOMAD_TASK_DIR", task_dir),
                      ("NOMAD_SECRETS_DIR", secrets_dir)):
        if path:
            env[key] = path

    asked = task.resources
    cpu = (asked.cpu or 0) if asked else 0
    memory = (asked.memory_mb or 0) if asked else 0
    memory_max = (asked.memory_max_mb or 0) if asked else 0
    cores = ""
    allocated = (alloc.allocated_resources.tasks.get(task.name)
                 if alloc.allocated_resources is not None else None)
    if allocated is not None:
        cpu = allocated.cpu.cpu_shares
        cores = format_cpuset(allocated.cpu.reserved_cores)
        memory = allocated.memory.memory_mb
        memory_max = allocated.memory.memory_max_mb
    if memory:
        env["NOMAD_MEMORY_LIMIT"] = str(memory)
    if memory_max:
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(memory_max)
    if cpu:
        env["NOMAD_CPU_LIMIT"] = str(cpu)
    if cores:
        env["NOMAD_CPU_CORES"] = cores

    identity = (
        ("NOMAD_ALLOC_ID", alloc.id), ("NOMAD_SHORT_ALLOC_ID", alloc.id[:8]),
        ("NOMAD_ALLOC_NAME", alloc.name), ("NOMAD_GROUP_NAME", alloc.task_group),
        ("NOMAD_ALLOC_INDEX", str(alloc.index)), ("NOMAD_TASK_NAME", task.name),
        ("NOMAD_JOB_ID", job.id), ("NOMAD_JOB_NAME", job.name),
        ("NOMAD_JOB_PARENT_ID", job.parent_id), ("NOMAD_DC", node.datacenter),
        ("NOMAD_NAMESPACE", alloc.namespace), ("NOMAD_REGION", region),
    )
    env.update((key, value) for key, value in identity if value)

    own_ports, other_ports = _port_env(alloc, task.name)
    env.update(own_ports)
    env.update(other_ports)

    for key, value in _task_meta(alloc, task).items():
        env[replace_env(key, attrs, env)] = replace_env(value, attrs, env)

    for key, value in (host_env or {}).items():
        if key not in env:
            env[key] = replace_env(value, attrs, env)

    env.update(interpolate_env(task.env, env, node))

    return {(clean_env_var(k) if k.startswith(CLEANED_PREFIXES) else k): v
            for k, v in env.items()}
