"""The public names labs and users write against; a rename must be deliberate."""

import nomadlab as nl


def test_public_names_are_pinned() -> None:
    assert set(nl.__all__) == {
        "dev", "Agent", "viz", "parse_job", "JobSpecError", "Problem", "Job", "TaskGroup", "Task", "Evaluation",
        "Allocation", "AllocMetric", "Node", "Deployment", "structs", "__version__", "connect", "Remote",
    }
    for name in nl.__all__:
        assert getattr(nl, name) is not None


def test_structs_export_every_type_the_issue_names() -> None:
    for name in ["Job", "TaskGroup", "Task", "Resources", "NetworkResource", "Port", "Constraint",
                 "Affinity", "Spread", "RestartPolicy", "ReschedulePolicy", "UpdateStrategy",
                 "Periodic", "Parameterized", "Service", "Lifecycle", "EphemeralDisk", "Template",
                 "Evaluation", "Allocation", "AllocMetric", "TaskState", "TaskEvent", "Node",
                 "DriverInfo", "Deployment", "ACLPolicy", "ACLToken"]:
        assert isinstance(getattr(nl.structs, name), type), name


def test_job_spec_error_is_a_value_error() -> None:
    """Code that catches ValueError around parsing keeps working."""
    assert issubclass(nl.JobSpecError, ValueError)
