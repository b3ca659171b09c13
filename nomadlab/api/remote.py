"""``nl.connect(address)``: a Nomad cluster read (and written) through its HTTP API only.

A :class:`Remote` has the in-process agent's read methods and returns the same structs,
so the pictures (``nl.viz.*``), reprs and commands work against nomadlab's own agent in
another process or a real Nomad cluster alike.  What only exists in-process, evaluation
traces, is absent here: views fall back to Nomad's AllocMetric and say so.

Nomad's list endpoints return stubs; where the agent's methods return full objects
(allocations with their job and metrics, nodes with attributes), a Remote reads each one
in full, so a struct from either has the same fields.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import json
import threading
from typing import Any, Callable, Iterable, Iterator, Optional, Union
from urllib.parse import quote

from .. import prefix
from ..errors import Invalid, NotFound
from ..structs import (Allocation, CheckQueryResult, Deployment, Evaluation, Job,
                       JobPlanResponse, JobSummary, Node, ServiceRegistration)
from ..server.events import Event
from ..jobspec.submission import JobSubmission
from ..structs import Identity, SchedulerConfig
from .client import APIError, Client, NomadError

__all__ = ["Remote", "connect"]

#: JobListStub fields that are flags (or a summary) where the Job struct holds a block.
_STUB_FLAGS = ("Periodic", "ParameterizedJob", "JobSummary")

#: Requests in flight at once when reading many objects in full.
READERS = 8


def _path(ident: str) -> str:
    return quote(ident, safe="")


class Remote:
    """The cluster interface (:class:`nomadlab.cluster.Cluster`) over a Nomad HTTP API."""

    in_process = False
    mode = "remote"

    def __init__(self, client: Client) -> None:
        self.client = client
        self.namespace = client.namespace or "default"
        self._index = 0

    @property
    def identity(self) -> Identity:
        """The token, namespace and region every request carries."""
        return Identity(token=self.client.token or "", namespace=self.namespace,
                        region=self.client.region or "global")

    def with_identity(self, identity: Identity) -> "Remote":
        """The same cluster asked with another token, namespace or region (a new
        connection: the token is a header of the connection)."""
        return Remote(Client(self.address, token=identity.token or None,
                             namespace=identity.namespace, region=identity.region))

    def at(self, index: Optional[int] = None) -> "Remote":
        """Nomad's API answers with the present only: a past index cannot be read."""
        if index is not None and index != self.index:
            raise Invalid("a remote cluster is read as it is now: Nomad's API keeps no past "
                          f"states (asked for index {index}, the cluster is at {self.index})")
        return self

    def subscribe(self, callback: Callable[[list[Event]], None]) -> Callable[[], None]:
        """Nomad's event stream (``/v1/event/stream``) read on a thread; each frame's
        events are handed to ``callback``.  Returns the function that stops it."""
        stop = threading.Event()
        start = self.index + 1  # from the next commit on, even if it lands before we connect

        def follow() -> None:
            buffered = ""
            try:
                for chunk in self.client.stream_text("/v1/event/stream", index=start):
                    if stop.is_set():
                        return
                    buffered += chunk
                    *lines, buffered = buffered.split("\n")
                    for line in lines:
                        frame = json.loads(line) if line.strip() else {}
                        events = [Event(topic=e.get("Topic", ""), type=e.get("Type", ""),
                                        key=e.get("Key", ""), namespace=e.get("Namespace", ""),
                                        index=e.get("Index", 0), payload=e.get("Payload"))
                                  for e in frame.get("Events") or []]
                        if events:
                            self._index = max(self._index, events[-1].index)
                            callback(events)
            except (NomadError, ValueError):
                return  # the cluster went away or the stream ended: nothing more to say

        threading.Thread(target=follow, name="nomadlab-remote-events", daemon=True).start()
        return stop.set

    def settle(self) -> None:
        """A remote cluster moves on its own; nothing to do."""

    def explain(self, eval_id: str) -> None:
        """Traces exist only in-process: a remote cluster has Nomad's AllocMetric only."""
        return None

    # -- plumbing ---------------------------------------------------------------------

    def _get(self, path: str, **params: Any) -> Any:
        response = self.client.request("GET", path, params)
        self._index = max(self._index, response.index)
        return response.data

    def _read_each(self, paths: Iterable[str]) -> list[Any]:
        """GET each path, a few at a time (a list endpoint gives stubs; the objects in full
        take one request each), in the order given."""
        paths = list(paths)
        if len(paths) < 2:
            return [self._get(p) for p in paths]
        with ThreadPoolExecutor(max_workers=min(READERS, len(paths))) as pool:
            return list(pool.map(self._get, paths))

    def _ns(self, namespace: Optional[str]) -> dict[str, str]:
        ns = namespace or self.namespace
        return {"namespace": ns} if ns != self.client.namespace else {}

    @property
    def address(self) -> str:
        return self.client.address

    @property
    def index(self) -> int:
        """The highest Raft index the cluster reported so far (X-Nomad-Index)."""
        if not self._index:
            for path in ("/v1/jobs", "/v1/nodes", "/v1/evaluations", "/v1/allocations"):
                self._get(path, per_page=1)
        return self._index

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Remote":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Remote({self.address!r}, namespace={self.namespace!r})"

    def _by_prefix(self, kind: str, list_path: str, read_path: str, key: str,
                   params: Optional[dict[str, Any]] = None) -> dict:
        """A full object by ID, else by unique ID prefix (Nomad's ``?prefix=``)."""
        try:
            return self._get(f"{read_path}/{_path(key)}", **(params or {}))
        except APIError as err:
            if err.status not in (400, 404):
                raise
        matches = self._get(list_path, prefix=key, **(params or {})) or []
        if len(matches) == 1:
            return self._get(f"{read_path}/{_path(matches[0]['ID'])}", **(params or {}))
        if not matches:
            raise prefix.not_found(kind, key)
        raise prefix.ambiguous(kind, key, len(matches))

    # -- jobs -------------------------------------------------------------------------

    def jobs(self, full: bool = True) -> list[Job]:
        """Every job, read one by one in full unless ``full=False`` (the list's stubs, one
        request, as for allocations and nodes).  A stub's ``Periodic`` and
        ``ParameterizedJob`` are flags where a Job holds the blocks, so those jobs come
        without them."""
        stubs = self._get("/v1/jobs", **self._ns(None)) or []
        if not full:
            return [Job.from_api({k: v for k, v in stub.items() if k not in _STUB_FLAGS})
                    for stub in stubs]
        return [self.job(stub["ID"], stub.get("Namespace")) for stub in stubs]

    def job(self, job_id: str, namespace: Optional[str] = None) -> Job:
        try:
            return Job.from_api(self._get(f"/v1/job/{_path(job_id)}", **self._ns(namespace)))
        except APIError as err:
            if err.status == 404:
                raise NotFound(f'job "{job_id}" not found') from None
            raise

    def job_versions(self, job_id: str, namespace: Optional[str] = None) -> list[Job]:
        """Every version the cluster keeps, newest first (``nomad job history``)."""
        data = self._get(f"/v1/job/{_path(job_id)}/versions", **self._ns(namespace)) or {}
        versions = [Job.from_api(v) for v in data.get("Versions") or []]
        return sorted(versions, key=lambda j: j.version, reverse=True)

    def job_submission(self, job_id: str, version: Optional[int] = None,
                       namespace: Optional[str] = None) -> Optional[JobSubmission]:
        """``GET /v1/job/:id/submission?version=N``: the source a version was run from."""
        if version is None:
            version = self.job(job_id, namespace).version
        try:
            data = self._get(f"/v1/job/{_path(job_id)}/submission", version=str(version),
                             **self._ns(namespace))
        except APIError as err:
            if err.status == 404:
                return None
            raise
        return JobSubmission.from_api(data) if data else None

    def job_summary(self, job_id: str, namespace: Optional[str] = None) -> JobSummary:
        """Per group, how many allocations are queued, starting, running, complete, ..."""
        return JobSummary.from_api(
            self._get(f"/v1/job/{_path(job_id)}/summary", **self._ns(namespace)) or {})

    def evals(self, job_id: Optional[str] = None, namespace: Optional[str] = None
              ) -> list[Evaluation]:
        """Nomad lists evaluations in full."""
        path = f"/v1/job/{_path(job_id)}/evaluations" if job_id else "/v1/evaluations"
        return [Evaluation.from_api(e) for e in self._get(path, **self._ns(namespace)) or []]

    def eval(self, eval_id: str) -> Evaluation:
        return Evaluation.from_api(self._by_prefix("evaluation", "/v1/evaluations",
                                                   "/v1/evaluation", eval_id, self._ns(None)))

    def eval_allocations(self, eval_id: str) -> list[Allocation]:
        """The allocations an evaluation created (stubs: enough for the monitor)."""
        return [Allocation.from_api(a) for a in
                self._get(f"/v1/evaluation/{_path(eval_id)}/allocations") or []]

    def allocs(self, job_id: Optional[str] = None, namespace: Optional[str] = None,
               full: bool = True) -> list[Allocation]:
        """Allocations, read one by one in full (job, metrics, resources) unless
        ``full=False`` (the list's stubs, one request)."""
        path = f"/v1/job/{_path(job_id)}/allocations" if job_id else "/v1/allocations"
        stubs = self._get(path, **self._ns(namespace)) or []
        if not full:
            return [Allocation.from_api(a) for a in stubs]
        return [Allocation.from_api(a) for a in self._read_each(
            f"/v1/allocation/{_path(s['ID'])}" for s in stubs)]

    def alloc(self, alloc_id: str) -> Allocation:
        return Allocation.from_api(self._by_prefix("alloc", "/v1/allocations", "/v1/allocation",
                                                   alloc_id, self._ns(None)))

    def nodes(self, full: bool = True) -> list[Node]:
        """Every node, read in full (attributes, resources, events) unless ``full=False``."""
        stubs = self._get("/v1/nodes") or []
        if not full:
            return [Node.from_api(n) for n in stubs]
        return [Node.from_api(n) for n in self._read_each(f"/v1/node/{_path(n['ID'])}"
                                                           for n in stubs)]

    def node(self, node_id: str) -> Node:
        """By ID, unique ID prefix or, as the agent allows, name."""
        try:
            return Node.from_api(self._by_prefix("node", "/v1/nodes", "/v1/node", node_id))
        except KeyError:
            named = [n for n in self._get("/v1/nodes") or [] if n.get("Name") == node_id]
            if len(named) == 1:
                return Node.from_api(self._get(f"/v1/node/{_path(named[0]['ID'])}"))
            raise

    def node_allocations(self, node_id: str) -> list[Allocation]:
        return [Allocation.from_api(a) for a in
                self._get(f"/v1/node/{_path(node_id)}/allocations") or []]

    def deployments(self, job_id: Optional[str] = None, namespace: Optional[str] = None,
                    prefix: str = "") -> list[Deployment]:
        """Oldest first, as the agent lists them."""
        if job_id:
            found = self.job_deployments(job_id, namespace)
            return sorted((d for d in found if d.id.startswith(prefix)),
                          key=lambda d: d.create_index)
        params = {**self._ns(namespace), **({"prefix": prefix} if prefix else {})}
        return [Deployment.from_api(d) for d in self._get("/v1/deployments", **params) or []]

    def deployment(self, deployment_id: str) -> Deployment:
        return Deployment.from_api(self._by_prefix("deployment", "/v1/deployments",
                                                   "/v1/deployment", deployment_id,
                                                   self._ns(None)))

    def deployment_allocations(self, deployment_id: str) -> list[Allocation]:
        """The deployment's allocations (list stubs, as Nomad answers)."""
        d = self.deployment(deployment_id)
        return [Allocation.from_api(a) for a in
                self._get(f"/v1/deployment/allocations/{_path(d.id)}") or []]

    def job_deployments(self, job_id: str, namespace: Optional[str] = None,
                        all: bool = False) -> list[Deployment]:
        params = {**self._ns(namespace), **({"all": "true"} if all else {})}
        return [Deployment.from_api(d) for d in
                self._get(f"/v1/job/{_path(job_id)}/deployments", **params) or []]

    def latest_deployment(self, job_id: str,
                          namespace: Optional[str] = None) -> Optional[Deployment]:
        data = self._get(f"/v1/job/{_path(job_id)}/deployment", **self._ns(namespace))
        return Deployment.from_api(data) if data else None

    def logs(self, alloc_id: str, task: Optional[str] = None, stream: str = "stdout") -> str:
        """What a task wrote to stdout (or ``stream="stderr"``) so far."""
        alloc = self.alloc(alloc_id)
        if task is None:
            names = sorted(alloc.task_states) or [
                t.name for g in (alloc.job.task_groups if alloc.job else [])
                if g.name == alloc.task_group for t in g.tasks]
            if len(names) != 1:
                raise Invalid(f"name the task: {', '.join(names)}")
            task = names[0]
        return self.client.request("GET", f"/v1/client/fs/logs/{_path(alloc.id)}",
                                   {"task": task, "type": stream, "plain": True,
                                    "origin": "start", "offset": 0}, raw=True).data

    def follow_logs(self, alloc_id: str, task: str, stream: str = "stdout",
                    offset: int = 0) -> Iterator[str]:
        """What the task writes from byte ``offset`` on, as it writes it, until the task
        can write no more (Nomad's ``follow=true`` log stream)."""
        alloc = self.alloc(alloc_id)
        for chunk in self.client.stream_text(f"/v1/client/fs/logs/{_path(alloc.id)}", task=task,
                                             type=stream, plain=True, follow=True,
                                             origin="start", offset=offset):
            if chunk:
                yield chunk

    # -- writes -----------------------------------------------------------------------

    @staticmethod
    def _job_json(job_or_text: Union[Job, str, dict]) -> dict:
        """A job as the API takes it; text is parsed here, as the ``nomad`` CLI parses
        job files before it sends them."""
        if isinstance(job_or_text, Job):
            return job_or_text.to_api()
        if isinstance(job_or_text, dict):
            return job_or_text.get("Job", job_or_text)
        from ..jobspec import parse_job
        return parse_job(job_or_text).to_api()

    def submit(self, job_or_text: Union[Job, str, dict], enforce_index: Optional[int] = None,
               submission: Optional[JobSubmission] = None) -> Optional[Evaluation]:
        """Register the job; its evaluation (None for periodic and parameterized jobs,
        which the cluster launches later).  ``enforce_index`` as ``-check-index``;
        ``submission`` (the source, as ``nomad job run`` sends it) is kept with the job."""
        job = self._job_json(job_or_text)
        if submission is None and isinstance(job_or_text, str):
            submission = JobSubmission.of(job_or_text)
        body: dict[str, Any] = {"Job": job}
        if submission is not None:
            body["Submission"] = submission.to_api()
        if enforce_index is not None:
            body.update(EnforceIndex=True, JobModifyIndex=enforce_index)
        resp = self.client.request("PUT", "/v1/jobs", self._ns(job.get("Namespace")),
                                   body).data or {}
        return self.eval(resp["EvalID"]) if resp.get("EvalID") else None

    def plan(self, job_or_text: Union[Job, str, dict], diff: bool = True) -> JobPlanResponse:
        """``nomad job plan``: Nomad's JobPlanResponse (nothing is committed)."""
        job = self._job_json(job_or_text)
        return JobPlanResponse(self.client.request(
            "PUT", f"/v1/job/{_path(job['ID'])}/plan", self._ns(job.get("Namespace")),
            {"Job": job, "Diff": diff}).data or {}, job_type=job.get("Type") or "service")

    def validate(self, job_or_text: Union[Job, str, dict]) -> list[str]:
        """``nomad job validate``: the cluster's ValidationErrors for the job (none: valid)."""
        job = self._job_json(job_or_text)
        resp = self.client.request("PUT", "/v1/validate/job", self._ns(job.get("Namespace")),
                                   {"Job": job}).data or {}
        return list(resp.get("ValidationErrors") or [])

    def stop(self, job_id: str, purge: bool = False, namespace: Optional[str] = None
             ) -> Optional[Evaluation]:
        resp = self.client.request("DELETE", f"/v1/job/{_path(job_id)}",
                                   {"purge": purge, **self._ns(namespace)}).data or {}
        return self.eval(resp["EvalID"]) if resp.get("EvalID") else None

    def drain(self, node_id: str, enable: bool = True, deadline: int = 0,
              mark_eligible: bool = False, ignore_system: bool = False,
              meta: Optional[dict[str, str]] = None) -> Node:
        node = self.node(node_id)
        spec = {"Deadline": deadline, "IgnoreSystemJobs": ignore_system} if enable else None
        self.client.request("PUT", f"/v1/node/{_path(node.id)}/drain", None,
                            {"DrainSpec": spec, "MarkEligible": mark_eligible,
                             "Meta": meta or None})
        return self.node(node.id)

    def _write(self, method: str, path: str, namespace: Optional[str] = None,
               body: Any = None, params: Optional[dict[str, Any]] = None) -> dict:
        return self.client.request(method, path, {**(params or {}), **self._ns(namespace)},
                                   body).data or {}

    def scale(self, job_id: str, group: str, count: int, message: str = "",
              namespace: Optional[str] = None) -> Evaluation:
        resp = self._write("POST", f"/v1/job/{_path(job_id)}/scale", namespace,
                           {"Count": count, "Message": message, "Target": {"Group": group}})
        return self.eval(resp["EvalID"])

    def revert(self, job_id: str, version: int, namespace: Optional[str] = None,
               enforce_prior_version: Optional[int] = None) -> Evaluation:
        resp = self._write("POST", f"/v1/job/{_path(job_id)}/revert", namespace,
                           {"JobID": job_id, "JobVersion": version,
                            "EnforcePriorVersion": enforce_prior_version})
        return self.eval(resp["EvalID"])

    def dispatch(self, job_id: str, payload: Optional[Union[bytes, str]] = None,
                 meta: Optional[dict[str, str]] = None,
                 namespace: Optional[str] = None) -> tuple[Job, Evaluation]:
        import base64
        encoded = base64.b64encode(payload).decode() if isinstance(payload, bytes) else payload
        resp = self._write("POST", f"/v1/job/{_path(job_id)}/dispatch", namespace,
                           {"Payload": encoded or None, "Meta": meta or {}})
        return self.job(resp["DispatchedJobID"], namespace), self.eval(resp["EvalID"])

    def force_periodic(self, job_id: str,
                       namespace: Optional[str] = None) -> tuple[Job, Evaluation]:
        resp = self._write("POST", f"/v1/job/{_path(job_id)}/periodic/force", namespace)
        ev = self.eval(resp["EvalID"])
        return self.job(ev.job_id, namespace), ev

    def evaluate_job(self, job_id: str, namespace: Optional[str] = None) -> Evaluation:
        resp = self._write("POST", f"/v1/job/{_path(job_id)}/evaluate", namespace,
                           {"JobID": job_id})
        return self.eval(resp["EvalID"])

    def stop_alloc(self, alloc_id: str) -> Evaluation:
        alloc = self.alloc(alloc_id)
        resp = self._write("POST", f"/v1/allocation/{_path(alloc.id)}/stop")
        return self.eval(resp["EvalID"])

    def evaluate_node(self, node_id: str) -> list[Evaluation]:
        node = self.node(node_id)
        resp = self._write("POST", f"/v1/node/{_path(node.id)}/evaluate")
        return [self.eval(e) for e in resp.get("EvalIDs") or []]

    def remove_node(self, node_id: str) -> None:
        node = self.node(node_id)
        self._write("POST", f"/v1/node/{_path(node.id)}/purge")

    def scheduler_config(self) -> SchedulerConfig:
        data = self._get("/v1/operator/scheduler/configuration") or {}
        return SchedulerConfig.from_api(data.get("SchedulerConfig") or {})

    def set_scheduler_config(self, config: SchedulerConfig,
                             cas_index: Optional[int] = None) -> tuple[bool, int]:
        resp = self._write("PUT", "/v1/operator/scheduler/configuration", None,
                           config.to_api(), {"cas": cas_index})
        return bool(resp.get("Updated")), int(resp.get("Index") or 0)

    def _deployment_write(self, verb: str, deployment_id: str,
                          body: Optional[dict[str, Any]] = None) -> Optional[Evaluation]:
        d = self.deployment(deployment_id)
        resp = self._write("POST", f"/v1/deployment/{verb}/{_path(d.id)}", d.namespace,
                           {"DeploymentID": d.id, **(body or {})})
        return self.eval(resp["EvalID"]) if resp.get("EvalID") else None

    def promote_deployment(self, deployment_id: str,
                           groups: Optional[list[str]] = None) -> Optional[Evaluation]:
        body = {"All": True} if groups is None else {"Groups": list(groups)}
        return self._deployment_write("promote", deployment_id, body)

    def fail_deployment(self, deployment_id: str) -> Optional[Evaluation]:
        return self._deployment_write("fail", deployment_id)

    def pause_deployment(self, deployment_id: str, pause: bool = True) -> Optional[Evaluation]:
        return self._deployment_write("pause", deployment_id, {"Pause": pause})

    def resume_deployment(self, deployment_id: str) -> Optional[Evaluation]:
        return self.pause_deployment(deployment_id, False)

    def unblock_deployment(self, deployment_id: str) -> Optional[Evaluation]:
        return self._deployment_write("unblock", deployment_id)

    def set_alloc_health(self, deployment_id: str, healthy: Iterable[str] = (),
                         unhealthy: Iterable[str] = ()) -> Optional[Evaluation]:
        return self._deployment_write("allocation-health", deployment_id,
                                      {"HealthyAllocationIDs": list(healthy),
                                       "UnhealthyAllocationIDs": list(unhealthy)})

    def set_eligibility(self, node_id: str, eligible: bool) -> Node:
        node = self.node(node_id)
        self.client.request("PUT", f"/v1/node/{_path(node.id)}/eligibility", None,
                            {"Eligibility": "eligible" if eligible else "ineligible"})
        return self.node(node.id)

    # -- native service discovery -----------------------------------------------------

    def services(self, namespace: Optional[str] = None) -> list[ServiceRegistration]:
        """Every instance of every service: ``/v1/services`` lists names, each name's
        instances take one request."""
        listing = self._get("/v1/services", **self._ns(namespace)) or []
        regs: list[ServiceRegistration] = []
        for entry in listing:
            for stub in entry.get("Services") or []:
                regs += self.service(stub["ServiceName"], entry.get("Namespace"))
        return regs

    def service(self, name: str, namespace: Optional[str] = None
                ) -> list[ServiceRegistration]:
        return [ServiceRegistration.from_api(r) for r in
                self._get(f"/v1/service/{_path(name)}", **self._ns(namespace)) or []]

    def alloc_services(self, alloc_id: str) -> list[ServiceRegistration]:
        alloc = self.alloc(alloc_id)
        return [ServiceRegistration.from_api(r) for r in
                self._get(f"/v1/allocation/{_path(alloc.id)}/services",
                          **self._ns(alloc.namespace)) or []]

    def alloc_checks(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        alloc = self.alloc(alloc_id)
        found = self._get(f"/v1/client/allocation/{_path(alloc.id)}/checks") or {}
        return {check_id: CheckQueryResult.from_api(r) for check_id, r in found.items()}

    def delete_service(self, name: str, service_id: str,
                       namespace: Optional[str] = None) -> int:
        response = self.client.request(
            "DELETE", f"/v1/service/{_path(name)}/{_path(service_id)}", self._ns(namespace))
        self._index = max(self._index, response.index)
        return response.index


def connect(address: Optional[str] = None, token: Optional[str] = None,
            namespace: Optional[str] = None, region: Optional[str] = None) -> Remote:
    """A :class:`Remote` for the Nomad HTTP API at ``address`` (default NOMAD_ADDR or
    http://127.0.0.1:4646); ``token``, ``namespace`` and ``region`` default to
    NOMAD_TOKEN, NOMAD_NAMESPACE and NOMAD_REGION."""
    return Remote(Client(address, token=token, namespace=namespace, region=region))
