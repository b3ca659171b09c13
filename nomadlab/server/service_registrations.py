"""The state store's table of Nomad service registrations, its reads and its writes.

Nomad keeps native service registrations in the servers' state (``service_registrations``
table, events topic ``Service``) so that any client, template or API caller can look a
service up.  Clients write them when an allocation's tasks run and remove them when it
stops; a write is one transaction, like every other.  The table is kept apart from
:mod:`.state` because it changes for its own reasons; the store mixes these in.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, Optional

from ..structs import ServiceRegistration

__all__ = ["ServiceReads", "ServiceWrites", "SERVICE_TOPIC", "service_problems"]

#: The event stream topic and event types of service registrations, as Nomad names them.
SERVICE_TOPIC = "Service"
REGISTERED = "ServiceRegistration"
DEREGISTERED = "ServiceDeregistration"


def _ordered(regs: Iterable[ServiceRegistration]) -> list[ServiceRegistration]:
    return sorted(regs, key=lambda r: (r.namespace, r.service_name, r.create_index, r.id))


class ServiceReads:
    """Reads of the registrations table (a snapshot and the live store both have them)."""

    def _tables(self) -> Any:  # provided by the store's read API
        raise NotImplementedError

    def service_registrations(self, namespace: Optional[str] = None
                              ) -> list[ServiceRegistration]:
        """Every registration, of one namespace unless None."""
        return _ordered(r for r in self._tables().services.values()
                        if namespace is None or r.namespace == namespace)

    def service_registrations_by_name(self, namespace: str,
                                      name: str) -> list[ServiceRegistration]:
        return [r for r in self.service_registrations(namespace) if r.service_name == name]

    def service_registrations_by_alloc(self, alloc_id: str) -> list[ServiceRegistration]:
        return _ordered(r for r in self._tables().services.values() if r.alloc_id == alloc_id)

    def service_registration(self, reg_id: str) -> Optional[ServiceRegistration]:
        return self._tables().services.get(reg_id)


class ServiceWrites:
    """Writes of the registrations table; each call is one transaction."""

    def _transaction(self, kind: str) -> Any:  # provided by the store
        raise NotImplementedError

    def upsert_service_registrations(self, regs: Iterable[ServiceRegistration]
                                     ) -> list[ServiceRegistration]:
        """Register (or refresh) service instances; an unchanged one writes nothing."""
        with self._transaction("ServiceRegistrationUpsert") as txn:
            stored_all = []
            for reg in regs:
                existing: Optional[ServiceRegistration] = txn.get("services", reg.id)
                stored = copy.deepcopy(reg)
                if existing is not None:
                    stored.create_index, stored.modify_index = (existing.create_index,
                                                                existing.modify_index)
                    if stored == existing:
                        stored_all.append(existing)
                        continue
                stored.create_index = existing.create_index if existing else txn.index
                stored.modify_index = txn.index
                txn.put("services", stored.id, stored)
                txn.record(SERVICE_TOPIC, stored.id, stored.namespace, stored, REGISTERED)
                stored_all.append(stored)
            if not txn.touched_tables:
                txn.abort()
            return stored_all

    def delete_service_registrations(self, reg_ids: Iterable[str]) -> int:
        """Remove registrations by ID (those already gone are skipped); the index."""
        with self._transaction("ServiceRegistrationDelete") as txn:
            for reg_id in reg_ids:
                self._txn_delete_service(txn, reg_id)
            if not txn.touched_tables:
                txn.abort()
            return txn.index

    @staticmethod
    def _txn_delete_service(txn: Any, reg_id: str) -> None:
        existing: Optional[ServiceRegistration] = txn.get("services", reg_id)
        if existing is not None:
            txn.remove("services", reg_id)
            txn.record(SERVICE_TOPIC, reg_id, existing.namespace, existing, DEREGISTERED)

    def _txn_delete_alloc_services(self, txn: Any, alloc_id: str) -> None:
        """Nomad deletes a terminal allocation's registrations with its client update, so
        a client that died before deregistering leaves nothing behind."""
        for reg_id, reg in list(txn.t["services"].items()):
            if reg.alloc_id == alloc_id:
                self._txn_delete_service(txn, reg_id)

    def _txn_delete_node_services(self, txn: Any, node_id: str) -> None:
        """A node marked down takes its registrations with it: nothing there answers."""
        for reg_id, reg in list(txn.t["services"].items()):
            if reg.node_id == node_id:
                self._txn_delete_service(txn, reg_id)


def service_problems(job: Any) -> list[str]:
    """What in the job's ``service`` blocks nomadlab cannot act on, in Nomad's words.

    nomadlab runs no Consul, so only ``provider = "nomad"`` services work, and their
    checks are what Nomad's own client runs: ``http`` and ``tcp`` (Nomad refuses script
    and grpc checks for its native provider too).  Tasks use host networking, so a
    service is reached at the node's address (``address_mode`` auto or host).
    """
    problems = []
    for group in job.task_groups:
        owners = [(f'group "{group.name}"', group.services)]
        owners += [(f'task "{task.name}"', task.services) for task in group.tasks]
        for owner, services in owners:
            for service in services:
                where = f'service "{service.name}" in {owner}'
                problems += [f"{where}: {p}" for p in _service_problems(service)]
    return problems


def _service_problems(service: Any) -> list[str]:
    if service.provider != "nomad":
        return [f'provider "{service.provider or "consul"}" needs Consul, which nomadlab does '
                'not run; use provider = "nomad" (Nomad\'s native service discovery)']
    problems = []
    if service.address_mode not in ("", "auto", "host"):
        problems.append(f'address_mode "{service.address_mode}" is not modelled by nomadlab '
                        "(tasks use host networking); use auto or host")
    for check in service.checks:
        label = f'check "{check.name}": ' if check.name else "check: "
        if check.type not in ("tcp", "http"):
            problems.append(f'{label}invalid check type ("{check.type}"), must be one of '
                            "tcp, http")
        if check.expose:
            problems.append(f"{label}expose may only be set for Consul service checks")
        if check.on_update == "ignore_warnings":
            problems.append(f"{label}on_update may only be set to ignore_warnings for Consul "
                            "service checks")
        if check.check_restart is not None and check.check_restart.ignore_warnings:
            problems.append(f"{label}ignore_warnings on check_restart only supported for "
                            "Consul service checks")
        if check.address_mode == "driver":
            problems.append(f"{label}address_mode = driver may only be set for Consul "
                            "service checks")
        elif check.address_mode not in ("", "host"):
            problems.append(f'{label}address_mode "{check.address_mode}" is not modelled by '
                            "nomadlab (tasks use host networking); use host")
        if check.check_restart is not None and check.on_update == "ignore":
            problems.append(f'{label}on_update value "ignore" is not compatible with '
                            "check_restart")
        if check.success_before_passing:
            problems.append(f"{label}success_before_passing may only be set for Consul "
                            "service checks")
        if check.failures_before_critical:
            problems.append(f"{label}failures_before_critical may only be set for Consul "
                            "service checks")
    return problems
