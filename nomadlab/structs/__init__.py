"""Nomad's data model as dataclasses that round-trip Nomad's API JSON.

``Job.from_api(d).to_api() == d`` for the JSON these structs emit, and what they emit
validates against Nomad's OpenAPI schemas.  Field names are snake_case here and
PascalCase in JSON (``memory_mb`` <-> ``MemoryMB``); durations are integer
nanoseconds in both (see :mod:`nomadlab.structs.duration`).
"""

from ._base import APIStruct, StructDecodeError, api_name
from .acl import ACL_TOKEN_TYPES, ACLPolicy, ACLToken
from .allocation import (ALLOC_CLIENT_STATUSES, ALLOC_DESIRED_STATUSES, TASK_EVENT_TYPES,
                         TASK_STATES, AllocatedCpuResources, AllocatedMemoryResources,
                         AllocatedResources, AllocatedSharedResources, AllocatedTaskResources,
                         AllocDeploymentStatus, Allocation, AllocState, DesiredTransition,
                         PortMapping,
                         RescheduleEvent, RescheduleTracker, TaskEvent, TaskState)
from .constraints import (AFFINITY_OPERANDS, CONSTRAINT_OPERANDS, Affinity, Constraint, Spread,
                          SpreadTarget)
from .deployment import (DEPLOYMENT_STATUSES, Deployment, DeploymentState,
                         DeploymentStatusUpdate)
from .duration import format_duration, parse_duration
from .evaluation import EVAL_STATUSES, EVAL_TRIGGERS, AllocMetric, Evaluation, NodeScoreMeta
from .job import JOB_STATUSES, JOB_TYPES, Job, TaskGroup
from .identity import ANONYMOUS, Identity
from .operator import SCHEDULER_ALGORITHMS, PreemptionConfig, SchedulerConfig
from .service_registration import (CHECK_MODES, CHECK_STATUSES, CheckQueryResult,
                                   ServiceRegistration)
from .summary import JobSummary, TaskGroupSummary
from .node import (NODE_ELIGIBILITY, NODE_STATUSES, DrainMetadata, DrainStrategy, DriverInfo,
                   Node,
                   NodeCpuResources, NodeDiskResources, NodeEvent, NodeMemoryResources,
                   NodeReservedCpuResources, NodeReservedDiskResources,
                   NodeReservedMemoryResources, NodeReservedNetworkResources,
                   NodeReservedResources, NodeResources)
from .plan import DesiredUpdates, JobPlanResponse, Plan, PlanAnnotations, PlanResult
from .policies import (DisconnectStrategy, MigrateStrategy, ParameterizedJobConfig,
                       PeriodicConfig, ReschedulePolicy, RestartPolicy, UpdateStrategy)
from .resources import (DNSConfig, EphemeralDisk, NetworkResource, Port, RequestedDevice,
                        Resources, VolumeMount, VolumeRequest)
from .task import (CheckRestart, DispatchPayloadConfig, LogConfig, Service, ServiceCheck, Task,
                   TaskArtifact, TaskLifecycle, Template, WaitConfig)

# Nomad's Go API names some of these differently; both spellings are offered.
Periodic = PeriodicConfig
Parameterized = ParameterizedJobConfig
Lifecycle = TaskLifecycle
AllocationMetric = AllocMetric

__all__ = [name for name in dir() if not name.startswith("_")]
