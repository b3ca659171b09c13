"""The state store's service registrations: one transaction per write, ``Service``
events, gone with their allocation or node, kept across a restart; and templates that
read them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nomadlab.client.template import TemplateError, render_text
from nomadlab.server.state import StateStore
from nomadlab.structs import Allocation, Job, Node, ServiceRegistration, TaskGroup


def reg(alloc: str, port: int, name: str = "web", node: str = "n1",
        tags: tuple[str, ...] = ("v1",)) -> ServiceRegistration:
    return ServiceRegistration(id=f"_nomad-task-{alloc}-group-g-{name}-http", service_name=name,
                               node_id=node, job_id="j", alloc_id=alloc, tags=list(tags),
                               address="127.0.0.1", port=port)


def test_each_write_is_one_transaction_with_service_events() -> None:
    store = StateStore()
    store.upsert_service_registrations([reg("a1", 1000), reg("a2", 1001)])
    assert store.index == 1
    (events,) = [e for _, e in store.history() if e]
    assert {(e.topic, e.type) for e in events} == {("Service", "ServiceRegistration")}
    again = store.upsert_service_registrations([reg("a1", 1000)])   # unchanged: no write
    assert store.index == 1 and again[0].create_index == 1
    store.upsert_service_registrations([reg("a1", 1000, tags=("canary",))])
    assert store.index == 2 and store.service_registrations()[0].tags == ["canary"]
    store.delete_service_registrations([reg("a1", 0).id, "not-there"])
    assert [r.alloc_id for r in store.service_registrations_by_name("default", "web")] == ["a2"]
    assert store.events(2)[0].type == "ServiceDeregistration"
    assert store.table_index("services") == 3


def test_a_terminal_allocation_or_a_down_node_takes_its_registrations() -> None:
    store = StateStore()
    job = Job(id="j", type="service", task_groups=[TaskGroup(name="g", count=1)])
    store.upsert_job(job)
    store.upsert_node(Node(id="n1", name="n1", status="ready"))
    store.upsert_node(Node(id="n2", name="n2", status="ready"))
    store.upsert_allocs([Allocation(id="a1", job_id="j", task_group="g", node_id="n1"),
                         Allocation(id="a2", job_id="j", task_group="g", node_id="n2")])
    store.upsert_service_registrations([reg("a1", 1000), reg("a2", 1001, node="n2")])
    done = dataclasses.replace(store.alloc("a1"), client_status="complete")
    store.update_allocs_from_client([done])
    assert [r.alloc_id for r in store.service_registrations()] == ["a2"]
    store.update_node_status("n2", "down")
    assert store.service_registrations() == []


def test_registrations_survive_a_restart(tmp_path: Path) -> None:
    store = StateStore()
    store.open_log(str(tmp_path))
    store.upsert_service_registrations([reg("a1", 1000)])
    store.close_log()
    again = StateStore()
    again.open_log(str(tmp_path))
    assert again.service_registrations() == store.service_registrations()


def test_templates_range_over_services_tags_and_fields() -> None:
    store = StateStore()
    store.upsert_service_registrations([reg("a1", 1000, tags=("v1", "blue")),
                                        reg("a2", 1001, tags=("v2",)),
                                        reg("b1", 2000, name="db", tags=())])
    text = ('{{ range nomadService "web" }}{{ .Address }}:{{ .Port }} {{ .Tags }}\n{{ end }}'
            '{{- range nomadService "blue.web" }}blue={{ .AllocID }}{{ end }}\n'
            '{{ range nomadServices }}{{ .Name }}:{{ range .Tags }}<{{ . }}>{{ end }};{{ end }}')
    assert render_text(text, {}, catalog=store) == (
        "127.0.0.1:1000 [v1 blue]\n127.0.0.1:1001 [v2]\nblue=a1\n"
        "db:;web:<blue><v1><v2>;")
    assert render_text('{{ range nomadService "web" }}x{{ end }}', {}, catalog=store,
                       namespace="other") == ""


@pytest.mark.parametrize("text, message", [
    ('{{ nomadService "web" }}', "gives a list: range over it"),
    ('{{ range nomadService "web" }}', "the range has no {{ end }}"),
    ('{{ range nomadService 2 "k" "web" }}{{ end }}', "choose-by-key form is not supported"),
    ('{{ range nomadService "web@eu" }}{{ end }}', 'region "eu" is not this cluster'),
    ('{{ range nomadService "web" }}{{ .Nope }}{{ end }}', "can't evaluate field Nope"),
    ('{{ range nomadService "web" }}{{ else }}{{ else }}{{ end }}', "more than one"),
    ('{{ .Address }}', "outside a range")])
def test_template_mistakes_are_named(text: str, message: str) -> None:
    store = StateStore()
    store.upsert_service_registrations([reg("a1", 1000)])
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        render_text(text, {}, catalog=store)
