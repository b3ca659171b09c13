"""The cluster-wide endpoints: cluster, status, regions, namespaces, deployments and the
operator's scheduler configuration.

A dev agent is a one-server cluster in region ``global``, datacenter ``dc1``: it is its
own leader, and its RPC address is what ``/v1/status/leader`` names, as ``nomad agent
-dev`` answers.
"""

from __future__ import annotations

import dataclasses
import platform
from typing import TYPE_CHECKING, Any

from ..client.fingerprint import NOMAD_VERSION
from ..structs.operator import SCHEDULER_ALGORITHMS
from .bodies import SCHEDULER_CONFIG, decode_body
from .errors import HTTPError
from .http import Reply, Request
from .routes import handle, lookup, read

if TYPE_CHECKING:
    from ..cluster import LocalCluster

REGION = "global"
DATACENTER = "dc1"
RPC_ADDRESS = "127.0.0.1:4647"


def _member(cluster: "LocalCluster") -> dict[str, Any]:
    name = f"{platform.node() or 'nomadlab'}.{REGION}"
    return {"Name": name, "Addr": "127.0.0.1", "Port": 4648, "Status": "alive",
            "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2, "DelegateMin": 2,
            "DelegateMax": 5, "DelegateCur": 4,
            "Tags": {"role": "nomad", "region": REGION, "dc": DATACENTER, "build": NOMAD_VERSION,
                     "port": "4647", "bootstrap": "1", "expect": "1", "vsn": "1",
                     "mvn": "1", "raft_vsn": "3", "id": "nomadlab"}}


@handle("GET /v1/agent/self")
def agent_self(request: Request, cluster: "LocalCluster") -> Reply:
    info = cluster.agent_info()
    host, port = request.bind
    config = {
        "Region": REGION, "Datacenter": DATACENTER, "NodeName": platform.node(),
        "Version": {"Version": NOMAD_VERSION, "VersionPrerelease": "", "Revision": "nomadlab",
                    "VersionMetadata": "nomadlab"},
        "BindAddr": host,
        "Ports": {"HTTP": port, "RPC": 4647, "Serf": 4648},
        "Server": {"Enabled": True, "BootstrapExpect": 1},
        "Client": {"Enabled": bool(info.clients),
                   "Options": {"driver.raw_exec.enable": str(info.raw_exec).lower()}},
        "ACL": {"Enabled": False}, "DevMode": True,
        "nomadlab": {"Mode": info.mode, "Seed": info.seed},
    }
    stats = {"nomad": {"server": "true", "leader": "true", "leader_addr": RPC_ADDRESS,
                       "bootstrap": "true", "known_regions": "1"},
             "client": {"known_servers": RPC_ADDRESS, "num_allocations": str(len(cluster.allocs())),
                        "heartbeat_ttl": f"{info.heartbeat_ttl}s"},
             "runtime": {"arch": platform.machine(), "version": platform.python_version(),
                         "kernel.name": platform.system().lower()}}
    return Reply({"config": config, "member": _member(cluster), "stats": stats})


@handle("GET /v1/agent/members")
def agent_members(request: Request, cluster: "LocalCluster") -> Reply:
    return Reply({"ServerName": platform.node(), "ServerRegion": REGION,
                  "ServerDC": DATACENTER, "Members": [_member(cluster)]})


@handle("GET /v1/agent/health")
def agent_health(request: Request, cluster: "LocalCluster") -> Reply:
    ok = {"ok": True, "message": "ok"}
    return Reply({"client": ok if cluster.agent_info().clients else None, "server": ok})


@handle("GET /v1/status/leader")
def status_leader(request: Request, cluster: "LocalCluster") -> Reply:
    return Reply(RPC_ADDRESS)


@handle("GET /v1/status/peers")
def status_peers(request: Request, cluster: "LocalCluster") -> Reply:
    return Reply([RPC_ADDRESS])


@handle("GET /v1/regions")
def regions(request: Request, cluster: "LocalCluster") -> Reply:
    return Reply([REGION])


@read("GET /v1/namespaces")
def namespaces(request: Request, snapshot: Any) -> tuple[Any, int]:
    names = {"default"} | {j.namespace or "default" for j in snapshot.jobs()}
    return ([{"Name": n, "Description": "Default shared namespace" if n == "default" else "",
              "Quota": "", "Meta": None, "CreateIndex": 1, "ModifyIndex": 1}
             for n in sorted(names)], snapshot.table_index("jobs"))


@read("GET /v1/deployments")
def list_deployments(request: Request, snapshot: Any) -> tuple[Any, int]:
    prefix = request.arg("prefix")
    namespace = request.namespace
    found = [d for d in snapshot.deployments() if d.id.startswith(prefix)
             and (namespace == "*" or d.namespace == namespace)]
    return [d.to_api() for d in found], snapshot.table_index("deployments")


@read("GET /v1/deployment/allocations/{deployment}")
def deployment_allocations(request: Request, snapshot: Any) -> tuple[Any, int]:
    deployment = lookup(snapshot, "deployments", request.params["deployment"], "deployment")
    from .stubs import alloc_stubs_json
    allocs = [a for a in snapshot.allocs(deployment.job_id, deployment.namespace)
              if a.deployment_id == deployment.id]
    return alloc_stubs_json(snapshot, allocs), snapshot.table_index("allocs")


@read("GET /v1/deployment/{deployment}")
def read_deployment(request: Request, snapshot: Any) -> tuple[Any, int]:
    deployment = lookup(snapshot, "deployments", request.params["deployment"], "deployment")
    return deployment.to_api(), deployment.modify_index


@read("GET /v1/operator/scheduler/configuration")
def scheduler_configuration(request: Request, snapshot: Any) -> tuple[Any, int]:
    config = snapshot.scheduler_config()
    return ({"SchedulerConfig": config.to_api(), "Index": config.modify_index,
             "KnownLeader": True, "LastContact": 0},
            snapshot.table_index("scheduler_config"))


@handle("PUT|POST /v1/operator/scheduler/configuration")
def set_scheduler_configuration(request: Request, cluster: "LocalCluster") -> Reply:
    body = decode_body(request, SCHEDULER_CONFIG)
    algorithm = body.get("SchedulerAlgorithm") or "binpack"
    if algorithm not in SCHEDULER_ALGORITHMS:
        raise HTTPError(400, f'invalid scheduler algorithm "{algorithm}"; valid values are '
                             + ", ".join(f'"{a}"' for a in SCHEDULER_ALGORITHMS))
    current = cluster.scheduler_config()
    cas = request.int_arg("cas") if request.arg("cas") else None
    changes: dict[str, Any] = {"scheduler_algorithm": algorithm}
    for key, field in (("MemoryOversubscriptionEnabled", "memory_oversubscription_enabled"),
                       ("RejectJobRegistration", "reject_job_registration"),
                       ("PauseEvalBroker", "pause_eval_broker")):
        if key in body:
            changes[field] = bool(body[key])
    updated, index = cluster.set_scheduler_config(dataclasses.replace(current, **changes), cas)
    return Reply({"Updated": updated, "Index": index}, index=index)
