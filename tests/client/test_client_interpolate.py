"""Interpolation of driver config and env blocks against the task env and the node."""

from __future__ import annotations

from nomadlab.client.interpolate import (interpolate, interpolate_env, node_attributes,
                                         replace_env)
from nomadlab.structs import Node

NODE = Node(id="node-1234", name="client-a", datacenter="dc2", node_class="gpu",
            node_pool="batchy", attributes={"kernel.name": "linux", "driver.docker": "1"},
            meta={"rack": "r7", "with.dot": "yes"})
ENV = {"NOMAD_ALLOC_ID": "abc", "NOMAD_PORT_http": "8080", "NOMAD_REGION": "eu",
       "weird.key": "w", "PLAIN": "p"}


def test_node_attributes_are_nomads_node_values():
    assert node_attributes(NODE, "eu") == {
        "node.region": "eu", "node.unique.id": "node-1234", "node.unique.name": "client-a",
        "node.class": "gpu", "node.datacenter": "dc2", "node.pool": "batchy",
        "attr.kernel.name": "linux", "attr.driver.docker": "1", "meta.rack": "r7",
        "meta.with.dot": "yes"}
    assert "node.region" not in node_attributes(NODE)


def test_nested_driver_config_is_interpolated():
    config = {
        "command": "/bin/${attr.kernel.name}-tool",
        "args": ["--port", "${NOMAD_PORT_http}", "--id=${NOMAD_ALLOC_ID}",
                 {"rack": "${meta.rack}", "deep": ["${node.unique.name}"]}],
        "labels": {"dc": "${node.datacenter}", "class": "${node.class}",
                   "pool": "${node.pool}", "region": "${node.region}",
                   "id": "${node.unique.id}"},
        "count": 3, "privileged": False, "nothing": None,
    }
    assert interpolate(config, ENV, NODE) == {
        "command": "/bin/linux-tool",
        "args": ["--port", "8080", "--id=abc", {"rack": "r7", "deep": ["client-a"]}],
        "labels": {"dc": "dc2", "class": "gpu", "pool": "batchy", "region": "eu",
                   "id": "node-1234"},
        "count": 3, "privileged": False, "nothing": None,
    }


def test_input_is_not_mutated():
    config = {"args": ["${PLAIN}"]}
    interpolate(config, ENV, NODE)
    assert config == {"args": ["${PLAIN}"]}


def test_env_index_syntax_and_hcl_spellings():
    value = ('${env["weird.key"]}-${env["PLAIN"]}-${ PLAIN }-${node.attr.kernel.name}'
             '-${node.meta.rack}')
    assert interpolate(value, ENV, NODE) == "w-p-p-linux-r7"
    assert interpolate("${meta.with.dot}", ENV, NODE) == "yes"


def test_unknown_references_are_left_as_written():
    value = ['${attr.nope}', '${meta.nope}', '${env["NOPE"]}', "${NOMAD_NOPE}", "${node.x}",
             "$${kept}", "${}", "plain $ and { }"]
    assert interpolate(value, ENV, NODE) == ['${attr.nope}', '${meta.nope}', '${env["NOPE"]}',
                                             "${NOMAD_NOPE}", "${node.x}", "$${kept}", "${}",
                                             "plain $ and { }"]


def test_dict_keys_and_tuples():
    assert interpolate({"${PLAIN}": ("${PLAIN}",)}, ENV, NODE) == {"${PLAIN}": ("p",)}


def test_node_region_needs_a_region():
    assert interpolate("${node.region}", {}, NODE) == "${node.region}"


def test_interpolate_env_sees_nomad_vars_node_values_and_earlier_entries():
    block = {"URL": "http://${node.unique.name}:${NOMAD_PORT_http}", "A": "1", "B": "${A}2",
             "K": "${attr.kernel.name}", "U": "${unknown}", "E": '${env["PLAIN"]}'}
    assert interpolate_env(block, ENV, NODE) == {
        "URL": "http://client-a:8080", "A": "1", "B": "12", "K": "linux", "U": "${unknown}",
        # The env block uses Nomad's ReplaceEnv, which knows only ${name}.
        "E": '${env["PLAIN"]}'}


def test_replace_env_takes_the_first_map_that_has_the_name():
    assert replace_env("${a}/${b}/${c}", {"a": "1"}, {"a": "x", "b": "2"}) == "1/2/${c}"
