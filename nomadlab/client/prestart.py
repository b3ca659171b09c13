"""What happens to a task's directory before its driver starts it: Nomad's prestart hooks.

In Nomad's order (``taskrunner/task_runner_hooks.go``): the dispatch payload is written
(``dispatch_hook.go``), artifacts are fetched (``artifact_hook.go``), templates are
rendered (``template_hook.go``, which may read what an artifact brought). Each hook runs
until it has succeeded once; a task restarted by its restart policy does not fetch again,
and renders its templates again only with ``restart { render_templates = true }``.

A hook that fails raises :class:`HookError`; the task runner records it as the task
event Nomad emits and hands the failure to the restart policy (recoverable errors are
retried, others fail the task).
"""

from __future__ import annotations

import base64
import os
from typing import Callable, Mapping, Optional

from ..structs import Job, Node, Task, TaskEvent
from .artifact import ArtifactError, fetch_artifact
from .template import ServiceCatalog, TemplateError, write_templates

__all__ = ["HookError", "Prestart", "write_dispatch_payload"]


class HookError(Exception):
    """A prestart hook failed: the event to record and whether a restart may help."""

    def __init__(self, kind: str, message: str, recoverable: bool, **fields: object) -> None:
        super().__init__(message)
        self.kind, self.message, self.recoverable, self.fields = kind, message, recoverable, fields


def write_dispatch_payload(job: Job, task: Task, local_dir: str) -> Optional[str]:
    """Write the dispatched job's payload to ``local/<file>``; the path, or None.

    The API carries the payload base64-encoded; nomadlab's server stores it uncompressed
    (Nomad's stores it snappy-compressed and its client decompresses it here).
    """
    if not job.payload or task.dispatch_payload is None or not task.dispatch_payload.file:
        return None
    path = os.path.normpath(os.path.join(local_dir, task.dispatch_payload.file))
    os.makedirs(os.path.dirname(path), mode=0o777, exist_ok=True)
    with open(path, "wb") as f:
        f.write(base64.b64decode(job.payload))
    os.chmod(path, 0o777)
    return path


class Prestart:
    """The prestart hooks of one task; call it before every start of the task."""

    def __init__(self, job: Job, task: Task, node: Node, env: Callable[[], Mapping[str, str]],
                 task_dir: str, alloc_root: str,
                 emit: Callable[[TaskEvent], None], event: Callable[..., TaskEvent],
                 clock: Callable[[], int], catalog: Optional[ServiceCatalog] = None,
                 namespace: str = "default") -> None:
        self.job, self.task, self.node, self._env = job, task, node, env
        #: The services ``nomadService`` reads in templates (those of ``namespace``).
        self._catalog, self._namespace = catalog, namespace
        self.task_dir, self.alloc_root = task_dir, alloc_root
        self._emit, self._event, self._clock = emit, event, clock
        self._done: set[str] = set()

    def __call__(self) -> None:
        env = self._env()
        if "dispatch" not in self._done:
            try:
                write_dispatch_payload(self.job, self.task, os.path.join(self.task_dir, "local"))
            except (OSError, ValueError) as err:
                raise HookError("Task hook failed", f"dispatch_payload: {err}", True) from None
            self._done.add("dispatch")
        self._artifacts(env)
        policy = self.task.restart_policy
        rerender = bool(policy and policy.render_templates)  # restart { render_templates }
        if ("templates" not in self._done or rerender) and self.task.templates:
            try:
                write_templates(self.task, env, self.node, self.task_dir, self._catalog,
                                self._namespace)
            except (TemplateError, OSError) as err:
                message = f"failed to render template: {err}"
                raise HookError("Setup Failure", message, False, setup_error=str(err),
                                fails_task=True) from None
        self._done.add("templates")

    def _artifacts(self, env: Mapping[str, str]) -> None:
        pending = [(i, a) for i, a in enumerate(self.task.artifacts)
                   if f"artifact-{i}" not in self._done]
        if not pending:
            return
        self._emit(self._event("Downloading Artifacts", self._clock(),
                               "Client is downloading artifacts"))
        for i, artifact in pending:
            try:
                fetch_artifact(artifact, env, self.task_dir, self.alloc_root)
            except (ArtifactError, OSError) as err:
                message = f'failed to download artifact "{artifact.getter_source}": {err}'
                raise HookError("Failed Artifact Download", message, True,
                                download_error=message) from None
            self._done.add(f"artifact-{i}")
