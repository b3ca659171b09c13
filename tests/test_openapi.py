"""What nomadlab emits is Nomad's API JSON: it validates against Nomad's OpenAPI schemas.

``tests/data/nomad-openapi.yaml`` is Nomad's generated OpenAPI 3.0.3 document (from
hashicorp/nomad-openapi), copied here so the tests need nothing outside the repository.
Each struct is validated against the component schema of the same name (a JSON Schema
draft 4 dialect: no nullable fields), both for canonical jobs from ``parse_job`` and for
instances generated from the structs' type hints.

Nomad's schemas allow any additional property, so a key we spell differently from Nomad
would still validate; ``test_every_emitted_key_is_in_nomads_schema`` closes that gap by
checking every field's API name against the schema's properties.
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import json
import math
import typing
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

import nomadlab as nl
from nomadlab.structs import (SchedulerConfig, ACLPolicy, ACLToken, Affinity, Allocation, AllocMetric, AllocState, APIStruct,
                              Constraint, Deployment, DisconnectStrategy, Evaluation, Job,
                              NetworkResource, Node, Resources, Spread, Task, TaskEvent,
                              TaskGroup, TaskState, Plan, PlanResult, CheckQueryResult,
                              DeploymentStatusUpdate)
from strategies import ALL_STRUCTS, INT_BOUND, api_fields, inner_hint, is_struct, strategy_for

DOCUMENT = yaml.safe_load((Path(__file__).parent / "data" / "nomad-openapi.yaml")
                          .read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
REF = "#/components/schemas/"

#: Our class -> Nomad's schema, where the names differ.
SCHEMA_NAMES: dict[type, str] = {AllocMetric: "AllocationMetric",
                                  SchedulerConfig: "SchedulerConfiguration"}
#: Structs newer than the OpenAPI document (the group ``disconnect`` block is Nomad 1.8+,
#: an allocation's ``AllocStates`` 1.3+).
#: Plans travel only between nomadlab's scheduler and plan applier (Nomad's are internal
#: RPC structs, not in the HTTP API).  A check's result is served by the client's API
#: (``/v1/client/allocation/:id/checks``), newer than the document.
NO_SCHEMA: set[type] = {AllocState, DisconnectStrategy, Plan, PlanResult, CheckQueryResult,
                         DeploymentStatusUpdate}

#: Fields nomadlab models that Nomad's OpenAPI document does not list (newer Nomad fields,
#: or fields of nomad/structs that the generated api schema leaves out).  Each entry is
#: checked to still be a field of ours and still missing from the schema, so the list
#: cannot go stale.
NOT_IN_SCHEMA: dict[str, set[str]] = {
    "AllocationMetric": {"NodesInPool", "NodePool"},
    "AllocatedCpuResources": {"ReservedCores"},
    "Allocation": {"AllocStates"},
    "Deployment": {"EvalPriority", "CreateTime", "ModifyTime"},
    "DeploymentState": {"AutoPromote"},
    "DesiredTransition": {"ForceReschedule"},
    "Job": {"NodePool"},
    "LogConfig": {"Disabled"},
    "Node": {"SecretID", "NodePool", "ComputedClass"},
    "PeriodicConfig": {"Specs"},
    "RescheduleEvent": {"Delay"},
    "RestartPolicy": {"RenderTemplates"},
    "TaskGroup": {"Disconnect"},
}

SCHEMA_STRUCTS = [cls for cls in ALL_STRUCTS if cls not in NO_SCHEMA]
IDS = [cls.__name__ for cls in SCHEMA_STRUCTS]


def schema_name(cls: type) -> str:
    return SCHEMA_NAMES.get(cls, cls.__name__)


@functools.lru_cache(maxsize=None)
def validator(name: str) -> Draft4Validator:
    """A validator for one component schema, resolving ``$ref`` against the whole document."""
    assert name in SCHEMAS, f"Nomad's OpenAPI document has no schema {name!r}"
    # In draft 4 a "$ref" replaces its siblings, so the document itself is the root that
    # "#/components/schemas/..." is resolved in.
    return Draft4Validator({**DOCUMENT, "$ref": REF + name},
                           format_checker=Draft4Validator.FORMAT_CHECKER)


def errors(name: str, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator(name).iter_errors(instance)]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        assert schema["$ref"].startswith(REF), schema
        schema = SCHEMAS[schema["$ref"][len(REF):]]
    return schema


def properties(cls: type) -> dict[str, Any]:
    return SCHEMAS[schema_name(cls)].get("properties", {})


# -- strategies narrowed to what the schema allows --------------------------------------

DATE_TIMES = st.datetimes(timezones=st.just(datetime.timezone.utc)).map(
    lambda d: d.isoformat().replace("+00:00", "Z"))
BASE64 = st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode("ascii"))


def _narrow(hint: Any, schema: dict[str, Any]) -> Optional[st.SearchStrategy]:
    """A strategy for ``hint`` within the bounds/format ``schema`` sets, None if it sets none."""
    schema = resolve(schema)
    origin = typing.get_origin(hint)
    if hint is int and ("minimum" in schema or "maximum" in schema):
        low = max(-INT_BOUND, math.ceil(schema.get("minimum", -INT_BOUND)))
        high = min(INT_BOUND, math.floor(schema.get("maximum", INT_BOUND)))
        return st.integers(low, high)
    if hint is str and schema.get("format") == "date-time":
        return DATE_TIMES
    if hint is str and schema.get("format") == "byte":
        return BASE64
    if origin is list and isinstance(schema.get("items"), dict):
        item = _narrow(typing.get_args(hint)[0], schema["items"])
        return None if item is None else st.lists(item, max_size=2)
    if origin is dict and isinstance(schema.get("additionalProperties"), dict):
        item = _narrow(typing.get_args(hint)[1], schema["additionalProperties"])
        return None if item is None else st.dictionaries(st.text(max_size=10), item, max_size=2)
    return None


def within_schema(cls: type, field: Any, hint: Any) -> Optional[st.SearchStrategy]:
    """strategy_for's override: e.g. indexes are uint64 (minimum 0), weights int8."""
    if cls in NO_SCHEMA:
        return None
    schema = properties(cls).get(cls.api_names()[field.name])  # type: ignore[attr-defined]
    return None if schema is None else _narrow(hint, schema)


def test_the_narrowing_is_taken_from_the_schema() -> None:
    """The override does narrow what needs it (so the validation below is not weakened)."""
    fields = {f.name: f for f, _ in api_fields(Evaluation)}
    assert within_schema(Evaluation, fields["create_index"], int) is not None
    assert within_schema(Evaluation, fields["priority"], int) is None
    assert within_schema(Evaluation, fields["wait_until"], str) is not None
    weight = {f.name: f for f, _ in api_fields(Affinity)}["weight"]
    assert repr(within_schema(Affinity, weight, int)) == "integers(min_value=-128, max_value=127)"


# -- the document and the mapping -------------------------------------------------------


def test_every_struct_has_a_schema() -> None:
    assert SCHEMA_STRUCTS
    missing = [cls.__name__ for cls in SCHEMA_STRUCTS if schema_name(cls) not in SCHEMAS]
    assert not missing, f"no OpenAPI schema for {missing}: map it in SCHEMA_NAMES or NO_SCHEMA"
    for cls in NO_SCHEMA:
        assert cls.__name__ not in SCHEMAS, f"{cls.__name__} has a schema now: validate it"


@pytest.mark.parametrize("cls", SCHEMA_STRUCTS, ids=IDS)
def test_every_emitted_key_is_in_nomads_schema(cls: type[APIStruct]) -> None:
    props = properties(cls)
    name = schema_name(cls)
    allowed = NOT_IN_SCHEMA.get(name, set())
    ours = set(cls.api_names().values())
    unknown = ours - set(props) - allowed
    assert not unknown, (f"{cls.__name__} emits keys Nomad's {name} schema does not have: "
                         f"{sorted(unknown)} (schema has {sorted(props)})")
    stale = allowed - ours | (allowed & set(props))
    assert not stale, f"update NOT_IN_SCHEMA for {name}: {sorted(stale)}"


@pytest.mark.parametrize("cls", SCHEMA_STRUCTS, ids=IDS)
def test_nested_structs_use_the_schema_nomad_nests(cls: type[APIStruct]) -> None:
    """Job.TaskGroups is a list of TaskGroup in both; Allocation.Metrics an AllocationMetric."""
    props = properties(cls)
    for f, hint in api_fields(cls):
        schema = props.get(cls.api_names()[f.name])
        if schema is None:
            continue
        hint = inner_hint(hint)
        origin = typing.get_origin(hint)
        if origin is list:
            hint, schema = typing.get_args(hint)[0], schema.get("items", {})
        elif origin is dict:
            hint, schema = typing.get_args(hint)[1], schema.get("additionalProperties", {})
        if is_struct(hint) and hint not in NO_SCHEMA:
            assert schema.get("$ref") == REF + schema_name(hint), \
                f"{cls.__name__}.{f.name} is a {hint.__name__}, Nomad's schema has {schema}"


# -- canonical jobs from job specs ------------------------------------------------------

RICH_SPEC = r'''
job "shop" {
  region      = "global"
  namespace   = "default"
  datacenters = ["dc1", "dc2"]
  node_pool   = "default"
  type        = "service"
  priority    = 70
  all_at_once = false

  meta {
    team  = "payments"
    owner = "ops"
  }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.6.0"
  }

  constraint {
    distinct_hosts = true
  }

  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 60
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "dc1" {
      percent = 70
    }

    target "dc2" {
      percent = 30
    }
  }

  update {
    max_parallel      = 2
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "4m"
    progress_deadline = "8m"
    auto_revert       = true
    auto_promote      = true
    canary            = 1
    stagger           = "20s"
  }

  migrate {
    max_parallel     = 1
    health_check     = "task_states"
    min_healthy_time = "5s"
    healthy_deadline = "2m"
  }

  reschedule {
    delay          = "20s"
    delay_function = "fibonacci"
    max_delay      = "10m"
    unlimited      = true
  }

  group "api" {
    count = 3

    constraint {
      attribute = "${meta.rack}"
      operator  = "regexp"
      value     = "^r[0-9]+$"
    }

    affinity {
      attribute = "${attr.cpu.arch}"
      value     = "amd64"
      weight    = -20
    }

    spread {
      attribute = "${meta.rack}"
    }

    volume "data" {
      type      = "host"
      source    = "shop-data"
      read_only = false
    }

    restart {
      attempts = 3
      interval = "10m"
      delay    = "20s"
      mode     = "delay"
    }

    reschedule {
      attempts       = 0
      delay_function = "exponential"
      unlimited      = true
    }

    disconnect {
      lost_after = "1h"
      replace    = true
      reconcile  = "best_score"
    }

    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 500
    }

    update {
      canary       = 2
      max_parallel = 1
    }

    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }

      port "admin" {
        static = 9090
      }

      dns {
        servers = ["1.1.1.1", "8.8.8.8"]
      }
    }

    meta {
      tier = "backend"
    }

    service {
      name         = "shop-api"
      provider     = "nomad"
      port         = "http"
      tags         = ["api", "v2"]
      canary_tags  = ["canary"]
      address_mode = "auto"

      meta {
        version = "2"
      }

      check {
        name     = "alive"
        type     = "http"
        path     = "/health"
        method   = "GET"
        interval = "10s"
        timeout  = "2s"

        header {
          Accept = ["application/json"]
        }

        check_restart {
          limit           = 3
          grace           = "30s"
          ignore_warnings = true
        }
      }

      check {
        type     = "tcp"
        port     = "admin"
        interval = "15s"
        timeout  = "3s"
      }
    }

    shutdown_delay = "5s"

    task "migrate-db" {
      driver = "exec"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "echo migrating"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "server" {
      driver       = "docker"
      user         = "nobody"
      kill_timeout = "20s"
      kill_signal  = "SIGTERM"
      leader       = true

      config {
        image = "nomadlab/shop:2.0"
        ports = ["http", "admin"]
        args  = ["--port", "${NOMAD_PORT_http}"]

        logging {
          type = "json-file"
          config {
            max-size = "10m"
          }
        }
      }

      env {
        PORT     = "${NOMAD_PORT_http}"
        LOG_JSON = "true"
      }

      meta {
        component = "server"
      }

      constraint {
        attribute = "${attr.driver.docker}"
        value     = "1"
      }

      affinity {
        attribute = "${node.class}"
        value     = "fast"
        weight    = 30
      }

      service {
        name = "shop-server-admin"
        port = "admin"
        tags = ["admin"]
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512

        device "nvidia/gpu" {
          count = 1
        }
      }

      restart {
        attempts = 2
      }

      logs {
        max_files     = 5
        max_file_size = 20
      }

      artifact {
        source      = "https://example.com/shop/config.tar.gz"
        destination = "local/config"
        mode        = "dir"

        options {
          checksum = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        }

        headers {
          User-Agent = "nomadlab"
        }
      }

      template {
        data          = "PORT={{ env \"NOMAD_PORT_http\" }}\n"
        destination   = "local/env.txt"
        change_mode   = "signal"
        change_signal = "sighup"
        splay         = "10s"
        perms         = "0640"
        env           = true

        wait {
          min = "2s"
          max = "10s"
        }
      }

      template {
        source      = "local/config/app.tpl"
        destination = "local/app.conf"
      }

      volume_mount {
        volume      = "data"
        destination = "/srv/data"
        read_only   = false
      }

      shutdown_delay = "3s"
    }

    task "log-shipper" {
      driver = "raw_exec"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        command = "tail"
        args    = ["-F", "alloc/logs/server.stdout.0"]
      }

      resources {
        cores  = 1
        memory = 64
      }
    }
  }
}
'''

PERIODIC_SPEC = '''
job "reports" {
  type        = "batch"
  datacenters = ["dc1"]

  periodic {
    crons            = ["0 3 * * *", "30 15 * * 1-5"]
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
  }

  group "build" {
    task "render" {
      driver = "exec"

      config {
        command = "/usr/bin/python3"
        args    = ["render.py"]
      }

      artifact {
        source = "https://example.com/render.py"
        mode   = "file"
      }
    }
  }
}
'''

DISPATCH_SPEC = '''
job "thumbnail" {
  type = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["image"]
    meta_optional = ["size"]
  }

  group "work" {
    task "resize" {
      driver = "exec"

      dispatch_payload {
        file = "input.png"
      }

      config {
        command = "convert"
        args    = ["local/input.png", "-resize", "${NOMAD_META_size}", "local/out.png"]
      }
    }
  }
}
'''

SPECS = {"rich": RICH_SPEC, "periodic": PERIODIC_SPEC, "dispatch": DISPATCH_SPEC}


def undocumented_keys(instance: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Keys of ``instance`` that ``schema`` (followed through $ref, items and maps) omits."""
    schema = resolve(schema)
    if isinstance(instance, dict) and "properties" in schema:
        allowed = set()
        for name, schema_keys in NOT_IN_SCHEMA.items():
            if schema is SCHEMAS.get(name):
                allowed |= schema_keys
        for key, value in instance.items():
            if key in schema["properties"]:
                yield from undocumented_keys(value, schema["properties"][key], f"{path}/{key}")
            elif key not in allowed:
                yield f"{path}/{key}"
    elif isinstance(instance, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in instance.items():
            yield from undocumented_keys(value, schema["additionalProperties"], f"{path}/{key}")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(instance):
            yield from undocumented_keys(value, schema["items"], f"{path}/{i}")


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_canonical_job_validates_against_the_job_schema(spec: str) -> None:
    job = nl.parse_job(spec)
    api = job.to_api()
    assert errors("Job", api) == []
    assert errors("Job", json.loads(json.dumps(api))) == []
    assert list(undocumented_keys(api, SCHEMAS["Job"])) == []
    for group in job.task_groups:
        assert errors("TaskGroup", group.to_api()) == []
        for task in group.tasks:
            assert errors("Task", task.to_api()) == []


def test_the_rich_spec_really_is_rich() -> None:
    """Guard the fixture: the blocks it is there to exercise did reach the job."""
    job = nl.parse_job(RICH_SPEC)
    group = job.group("api")
    server = group.task("server")
    assert job.constraints and job.affinities and job.spreads[0].spread_target
    assert job.update and job.migrate and job.reschedule and job.meta
    assert group.volumes and group.disconnect and group.ephemeral_disk and group.update
    assert group.networks[0].reserved_ports and group.networks[0].dynamic_ports
    assert group.networks[0].dns and group.services[0].checks[0].check_restart
    assert group.services[0].checks[0].header
    assert server.resources and server.resources.devices and server.artifacts
    assert server.templates[0].wait and server.volume_mounts and server.log_config
    assert server.constraints and server.affinities and server.services
    assert group.task("log-shipper").lifecycle and group.task("migrate-db").lifecycle


# -- generated instances ----------------------------------------------------------------


@pytest.mark.parametrize("cls", SCHEMA_STRUCTS, ids=IDS)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_struct_validates_against_its_schema(cls: type[APIStruct],
                                                       data: st.DataObject) -> None:
    x = data.draw(strategy_for(cls, max_depth=2, override=within_schema), label=cls.__name__)
    api = json.loads(json.dumps(x.to_api()))
    assert errors(schema_name(cls), api) == []


def test_required_structs_are_covered() -> None:
    for cls in (Job, TaskGroup, Task, Evaluation, Allocation, AllocMetric, Node, Deployment,
                ACLPolicy, ACLToken, TaskState, TaskEvent, Resources, NetworkResource,
                Constraint, Affinity, Spread):
        assert cls in SCHEMA_STRUCTS


# -- the validator does bite ------------------------------------------------------------


def _canonical() -> dict[str, Any]:
    return nl.parse_job(RICH_SPEC).to_api()


@pytest.mark.parametrize("path, value", [
    (("TaskGroups", 0, "Count"), "3"),                               # string for integer
    (("Priority",), True),                                           # boolean for integer
    (("CreateIndex",), -1),                                          # uint64 below 0
    (("Datacenters",), "dc1"),                                       # string for array
    (("Meta", "team"), 7),                                           # map of string
    (("TaskGroups", 0, "Tasks", 1, "Resources", "MemoryMB"), 1.5),   # through $refs
    (("Affinities", 0, "Weight"), 500),                              # int8 above 127
    (("TaskGroups", 0, "Volumes", "data", "ReadOnly"), "no"),        # map of $ref
    (("Update",), []),                                               # array for object
], ids=str)
def test_wrong_values_fail_validation(path: tuple[Any, ...], value: Any) -> None:
    api = _canonical()
    assert errors("Job", api) == []
    target = api
    for key in path[:-1]:
        target = target[key]
    assert path[-1] in target, f"{path} is not in the canonical job"
    target[path[-1]] = value
    found = list(validator("Job").iter_errors(api))
    assert [tuple(e.absolute_path) for e in found] == [path], [e.message for e in found]


def test_a_struct_given_a_wrong_python_type_fails_validation() -> None:
    job = nl.parse_job(RICH_SPEC)
    job.task_groups[0].count = "3"  # type: ignore[assignment]
    job.task_groups[0].tasks[0].resources.cpu = 0.5  # type: ignore[union-attr]
    assert len(errors("Job", job.to_api())) == 2


def test_dates_are_checked_when_the_format_checker_can() -> None:
    pytest.importorskip("rfc3339_validator")
    assert errors("ACLToken", {"CreateTime": "2024-05-01T10:00:00Z"}) == []
    assert errors("ACLToken", {"CreateTime": "yesterday"}) != []


def test_a_misspelled_key_is_caught() -> None:
    api = _canonical()
    api["TaskGroups"][0]["Tasks"][0]["Resources"]["CpuMHz"] = 100
    api["Datacentres"] = ["dc1"]
    assert errors("Job", api) == []  # Nomad's schemas allow unknown keys ...
    assert sorted(undocumented_keys(api, SCHEMAS["Job"])) == [  # ... this does not
        "/Datacentres", "/TaskGroups/0/Tasks/0/Resources/CpuMHz"]


def test_copy_of_the_document_is_the_reference() -> None:
    """The copy must stay a valid, complete OpenAPI 3.0 document."""
    assert DOCUMENT["openapi"].startswith("3.0")
    assert {"Job", "TaskGroup", "Task", "Allocation", "AllocationMetric", "Evaluation", "Node",
            "Deployment", "ACLToken", "ACLPolicy"} <= set(SCHEMAS)
    Draft4Validator.check_schema(copy.deepcopy(SCHEMAS["Job"]))
