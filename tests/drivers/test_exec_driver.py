"""The exec driver against real processes and, where the host allows, real cgroups."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from nomadlab.drivers import DriverError, ExecDriver, Resources, TaskConfig
from nomadlab.drivers.exec import detect_isolation
from nomadlab.drivers.fs_isolation import mount_namespace_available
from nomadlab.drivers.process import _group_members, pid_alive

ISOLATION = detect_isolation()
CGROUPS = ISOLATION.startswith("cgroups")


def make_task(tmp_path, command, args=(), env=None, name="t", **resources) -> TaskConfig:
    task_dir = tmp_path / name
    (task_dir / "local").mkdir(parents=True, exist_ok=True)
    logs = tmp_path / "alloc" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    alloc_id = f"test-{os.getpid()}-{tmp_path.name}"
    return TaskConfig(id=f"{alloc_id}/{name}", alloc_id=alloc_id, task_name=name, job_id="j",
                      config={"command": command, "args": list(args)},
                      env=dict(env or {}), task_dir=str(task_dir), alloc_dir=str(tmp_path / "alloc"),
                      stdout_path=str(logs / f"{name}.stdout.0"),
                      stderr_path=str(logs / f"{name}.stderr.0"),
                      resources=Resources(**resources))


@pytest.fixture
def run(tmp_path):
    """Start tasks on an ExecDriver; whatever they left is stopped and destroyed afterwards."""
    driver = ExecDriver()
    handles = []

    def start(command, args=(), **kw):
        handle = driver.start(make_task(tmp_path, command, args, **kw))
        handles.append(handle)
        return handle

    start.driver = driver
    yield start
    for handle in handles:
        driver.destroy(handle)


def test_output_env_and_task_dir(run):
    handle = run("/bin/sh", ["-c", "echo $FOO; pwd; echo oops >&2"], env={"FOO": "bar"})
    result = run.driver.wait(handle, timeout=5)
    assert result is not None and result.successful
    out = open(handle.config.stdout_path).read().splitlines()
    assert out == ["bar", handle.config.task_dir]
    assert open(handle.config.stderr_path).read() == "oops\n"


def test_env_is_exactly_the_task_env_plus_path(run):
    handle = run("env", env={"ONLY": "1"})
    run.driver.wait(handle, timeout=5)
    names = {line.split("=", 1)[0] for line in open(handle.config.stdout_path).read().splitlines()}
    assert names == {"ONLY", "PATH"}


def test_exit_code_is_propagated(run):
    result = run.driver.wait(run("/bin/sh", ["-c", "exit 3"]), timeout=5)
    assert (result.exit_code, result.signal, result.oom_killed) == (3, 0, False)
    assert not result.successful


def test_missing_command_is_a_driver_error(run):
    with pytest.raises(DriverError, match='exec: command "no-such-cmd" not found in the task\'s PATH'):
        run("no-such-cmd")


def test_stop_with_sigterm_returns_quickly(run):
    handle = run("sleep", ["30"])
    run.driver.stop(handle, "SIGTERM", timeout=30)
    result = run.driver.wait(handle, timeout=0)  # ended by SIGTERM, not the kill at 30 s
    assert result.signal == 15 and result.exit_code == 128 + 15


def test_process_ignoring_sigterm_is_killed_after_timeout(run):
    handle = run("/bin/sh", ["-c", "trap '' TERM; echo ready; sleep 30 & wait; sleep 30"])
    _wait_for_output(handle, "ready")
    began = time.monotonic()
    run.driver.stop(handle, "TERM", timeout=0.5)
    assert time.monotonic() - began >= 0.5, "the kill waited for the timeout"
    assert run.driver.wait(handle, timeout=0).signal == 9


def test_children_are_stopped_with_the_task(run, tmp_path):
    pidfile = tmp_path / "t" / "local" / "child.pid"  # the task writes where it may
    handle = run("/bin/sh", ["-c", "sleep 30 & echo $! > local/child.pid; wait"])
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # the pid the task wrote is its PID namespace's; the host's are its process group's
    group = [pid for pid in _group_members(handle.state["pid"]) if pid != handle.state["pid"]]
    assert len(group) >= 2 and all(pid_alive(pid) for pid in group)
    run.driver.stop(handle, "SIGTERM", timeout=2)
    assert all(_gone(pid) for pid in group)
    assert _gone(handle.state["pid"])


def test_unknown_signal_is_a_driver_error(run):
    handle = run("sleep", ["30"])
    with pytest.raises(DriverError, match="unknown signal"):
        run.driver.stop(handle, "SIGNOPE", timeout=0)


def test_fingerprint_says_what_is_enforced():
    fp = ExecDriver().fingerprint()
    assert fp.detected and fp.healthy
    attrs = fp.attributes
    assert attrs["driver.exec"] == "1"
    assert attrs["driver.exec.isolation"] in ("cgroups-v1", "cgroups-v2", "rlimits")
    description = attrs["driver.exec.isolation.description"]
    if os.geteuid() != 0:
        assert "no filesystem isolation: tasks run as the client's user" in description
        assert "no PID namespace: tasks see and may signal the client's processes" in description
    elif mount_namespace_available():
        assert ("tasks run as nobody unless their user says otherwise, in a private mount "
                "namespace that hides other allocations") in description
        assert "and in their own PID namespace" in description
    else:
        assert "no mount or PID namespace" in description
    if os.environ.get("CI") == "true":
        assert attrs["driver.exec.isolation"].startswith("cgroups"), \
            "CI runs as root with writable cgroups; exec must use them"


def test_memory_limit_kills_and_reports_oom(run):
    if not CGROUPS:
        assert os.environ.get("CI") != "true", "CI must give exec cgroups"
        pytest.skip(f"exec isolation here is {ISOLATION}: no memory cgroup, no OOM kill")
    handle = run("tail", ["/dev/zero"], memory_mb=20)  # one endless line, kept in memory
    result = run.driver.wait(handle, timeout=10)
    assert result.oom_killed and result.signal == 9
    assert not result.successful


def test_cgroup_limits_are_written_and_destroy_removes_them(run):
    if not CGROUPS:
        assert os.environ.get("CI") != "true", "CI must give exec cgroups"
        pytest.skip(f"exec isolation here is {ISOLATION}: not root or cgroups not writable, "
                    "so there are no cgroup limits to check")
    handle = run("sleep", ["30"], memory_mb=64, cpu=250)
    paths = list(handle.state["cgroups"].values())
    assert all(os.path.isdir(p) for p in paths)
    if ISOLATION == "cgroups-v1":
        cg = handle.state["cgroups"]
        assert open(os.path.join(cg["memory"], "memory.limit_in_bytes")).read().strip() == str(64 << 20)
        assert open(os.path.join(cg["cpu"], "cpu.shares")).read().strip() == "250"
        # the task is in its cgroups, its executor (not limited by the task's memory) is not
        procs = open(os.path.join(cg["pids"], "cgroup.procs")).read().split()
        assert procs == [str(handle.state["task_pid"])]
    run.driver.stop(handle, "SIGKILL", timeout=0)
    run.driver.destroy(handle)
    assert not any(os.path.exists(p) for p in paths)


def test_destroy_kills_leftovers_and_is_idempotent(run):
    handle = run("sleep", ["30"])
    run.driver.destroy(handle)
    assert _gone(handle.state["pid"])
    run.driver.destroy(handle)


def test_stats_report_rss_and_cpu(run):
    handle = run("sleep", ["30"])
    first = run.driver.stats(handle)
    assert first.memory_rss_bytes > 0
    busy = run("/bin/sh", ["-c", "while :; do :; done"], name="busy")
    run.driver.stats(busy)
    deadline = time.monotonic() + 60  # a bound for a failure, not a measure: any share will do
    while (busy_cpu := run.driver.stats(busy).cpu_percent) == 0:
        assert time.monotonic() < deadline, "a busy loop never showed CPU use"
        time.sleep(0.05)
    assert run.driver.stats(handle).cpu_percent < busy_cpu, "sleep uses less than a busy loop"


def test_recover_from_another_driver_instance(run):
    handle = run("sleep", ["30"])
    other = ExecDriver()
    assert other.recover(handle)
    assert other.wait(handle, timeout=0.05) is None
    other.stop(handle, "SIGTERM", timeout=2)
    assert _gone(handle.state["pid"])
    assert other.wait(handle, timeout=1).signal == 15


def test_recover_of_a_dead_or_reused_pid_fails(run):
    handle = run("sleep", ["30"])
    stale = dict(handle.state, pid=handle.state["pid"], start_time=handle.state["start_time"] + 1)
    assert not ExecDriver().recover(type(handle)(driver="exec", config=handle.config, state=stale))
    assert not ExecDriver().recover(type(handle)(driver="exec", config=handle.config, state={}))


def test_several_waiters_get_the_same_result(run):
    import threading

    handle = run("/bin/sh", ["-c", "sleep 0.2; exit 4"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(run.driver.wait(handle, timeout=5)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.exit_code for r in results] == [4, 4, 4, 4]


def _wait_for_output(handle, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in open(handle.config.stdout_path).read():
        assert time.monotonic() < deadline, f"task never printed {text!r}"
        time.sleep(0.02)


def _gone(pid, timeout=2.0):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_same_alloc_id_on_two_agents_keeps_separate_cgroups(tmp_path):
    """Two agents made with the same seed give the same allocation IDs; destroying one's
    task must not kill the other's (their cgroups carry each agent's own id)."""
    driver_a, driver_b = ExecDriver(agent_id="aaaa0001"), ExecDriver(agent_id="bbbb0002")
    first = make_task(tmp_path / "client-a", "/bin/sleep", ["30"])
    second = make_task(tmp_path / "client-b", "/bin/sleep", ["30"])
    second = dataclasses.replace(second, alloc_id=first.alloc_id, id=first.id)
    a, b = driver_a.start(first), driver_b.start(second)
    try:
        if CGROUPS:
            assert all("aaaa0001" in p for p in a.state["cgroups"].values())
            assert all("bbbb0002" in p for p in b.state["cgroups"].values())
        driver_a.destroy(a)  # returns once a's cgroup is empty: a shared one would hold b too
        assert driver_b.wait(b, timeout=0) is None, "the other agent's task was killed"
    finally:
        driver_b.destroy(b)


def test_a_task_sees_only_its_own_processes_in_its_pid_namespace(tmp_path):
    """Nomad's exec gives each task a PID namespace: even a task running as root lists only
    its own processes and cannot signal the agent (there is no such process for it)."""
    if not mount_namespace_available():
        assert os.environ.get("CI") != "true", "CI runs as root and may unshare"
        pytest.skip("no mount or PID namespace here (not root, or unshare is not permitted)")
    driver = ExecDriver()
    script = (f"ps -e -o pid=,comm=; echo procs $(ls /proc | grep -c '^[0-9]'); "
              f"kill -0 {os.getpid()} 2>&1; echo kill=$?")
    task = dataclasses.replace(make_task(tmp_path, "/bin/sh", ["-c", script]), user="root")
    handle = driver.start(task)
    try:
        assert driver.wait(handle, timeout=30).successful
    finally:
        driver.destroy(handle)
    out = open(task.stdout_path).read().splitlines()
    listed = [line.split() for line in out if line.strip()[:1].isdigit()]
    assert {comm for _, comm in listed} == {"nomadlab-init", "sh", "ps"}, out
    assert ["1", "nomadlab-init"] in listed   # the namespace's init; the task is its child
    assert "procs 5" in out   # init, sh, the $(...) subshell, ls and grep: nothing else
    assert "No such process" in "\n".join(out) and "kill=1" in out
    assert pid_alive(os.getpid())


def test_output_is_rotated_by_the_tasks_logs_block(tmp_path):
    """The executor writes the task's output as logmon does: at max_file_size a new file,
    beyond max_files the oldest goes."""
    from nomadlab.drivers.logs import log_files
    driver = ExecDriver()
    task = dataclasses.replace(
        make_task(tmp_path, "/bin/sh", ["-c", "head -c 2500000 /dev/zero | tr '\\0' a"]),
        log_max_files=2, log_max_file_size_mb=1)
    handle = driver.start(task)
    try:
        assert driver.wait(handle, timeout=30).successful
    finally:
        driver.destroy(handle)
    files = log_files(task.stdout_path)
    assert [f.rsplit(".", 1)[1] for f in files] == ["1", "2"]
    assert [os.path.getsize(f) for f in files] == [1 << 20, 2500000 - 2 * (1 << 20)]


START_AND_DIE = """
import dataclasses, json, os, sys
from nomadlab.drivers import ExecDriver, TaskConfig
task = TaskConfig(**json.loads(sys.argv[1]))
driver = ExecDriver()
driver.tasks_outlive_agent = True   # as an agent with a data dir, outside a kernel
handle = driver.start(task)
print(json.dumps(handle.state), flush=True)
os._exit(0)   # as a kill -9 would: nothing stopped, nothing cleaned up
"""

#: A driver as a kernel's agent has it (the default): its tasks die with its process.
START_AND_WAIT = """
import json, sys
from nomadlab.drivers import ExecDriver, RawExecDriver, TaskConfig
task = TaskConfig(**json.loads(sys.argv[1]))
driver = RawExecDriver(enabled=True) if sys.argv[2] == "raw_exec" else ExecDriver()
print(json.dumps(driver.start(task).state), flush=True)
sys.stdin.read()
"""


def start_and_die(task: TaskConfig) -> dict:
    """Start ``task`` in another Python process that then dies as if SIGKILLed, with a
    driver that lets its tasks outlive it; the handle's state it printed."""
    import json
    import subprocess
    import sys
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)
              if f.name not in ("events", "resources")}
    started = subprocess.run([sys.executable, "-c", START_AND_DIE, json.dumps(fields)],
                             capture_output=True, text=True, timeout=60, check=True)
    return json.loads(started.stdout)


def task_tree_dies_with_its_starter(tmp_path, driver: str) -> None:
    """A task whose driver does not let it outlive its agent (a kernel's, one without a
    data dir) is SIGKILLed with everything it started once the agent's process is
    SIGKILLed, though nothing stopped it: its executor watched the agent's pid."""
    import json
    import signal
    import subprocess
    import sys
    from nomadlab.drivers import TaskHandle
    task = make_task(tmp_path, "/bin/sh", ["-c", "sleep 3600 & echo started; wait"])
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)
              if f.name not in ("events", "resources")}
    starter = subprocess.Popen([sys.executable, "-c", START_AND_WAIT, json.dumps(fields),
                                driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        state = json.loads(starter.stdout.readline())
        handle = TaskHandle(driver=driver, config=task, state=state)
        deadline = time.monotonic() + 60   # a bound for a failure, not a wait for the kill
        while not open(task.stdout_path).read().strip():
            assert time.monotonic() < deadline, "the task never started its child"
            time.sleep(0.02)
        tid = state["task_pid"]   # the host's pid ($! would be the PID namespace's)
        child = int(open(f"/proc/{tid}/task/{tid}/children").read().split()[0])
        pids = [state["pid"], tid, child]
        assert all(pid_alive(pid) for pid in pids)
    finally:
        starter.send_signal(signal.SIGKILL)   # the agent dies without stopping anything
        starter.wait(30)
    try:
        for pid in pids:
            assert _gone(pid, timeout=60), f"process {pid} outlived the agent that started it"
        result = ExecDriver().wait(handle, timeout=60)
        assert result is not None and result.signal == signal.SIGKILL, result
    finally:
        ExecDriver().destroy(handle)


def test_a_task_tied_to_its_agent_dies_with_it(tmp_path):
    task_tree_dies_with_its_starter(tmp_path, "exec")


def test_a_tied_task_dies_with_its_executor(run):
    """Its namespace's init has the executor's death as its SIGKILL (PR_SET_PDEATHSIG), and
    the whole PID namespace dies with init: an executor killed outright leaves nothing."""
    import signal
    handle = run("/bin/sh", ["-c", "sleep 3600 & echo started; wait"])
    if not handle.state["pid_namespace"]:
        assert os.environ.get("CI") != "true", "CI runs as root and may unshare"
        pytest.skip("no PID namespace here (not root, or unshare is not permitted)")
    _wait_for_output(handle, "started", timeout=60)
    tid = handle.state["task_pid"]
    child = int(open(f"/proc/{tid}/task/{tid}/children").read().split()[0])
    os.kill(handle.state["pid"], signal.SIGKILL)
    for pid in (tid, child):
        assert _gone(pid, timeout=60), f"process {pid} outlived its executor"


def test_a_raw_exec_task_tied_to_its_agent_dies_with_it(tmp_path):
    """raw_exec has no PID namespace: the executor kills the task's process group."""
    task_tree_dies_with_its_starter(tmp_path, "raw_exec")


def test_a_task_outlives_the_process_that_started_it_with_output_and_exit_code(tmp_path):
    """The executor holds the task's output and records its exit status, so a driver in
    another process (a restarted agent) serves all of it and learns how the task ended."""
    from nomadlab.drivers import TaskHandle
    task = make_task(tmp_path, "/bin/sh", ["-c", "read go < local/go; echo after; exit 3"])
    os.mkfifo(os.path.join(task.task_dir, "local", "go"), 0o666)
    handle = TaskHandle(driver="exec", config=task, state=start_and_die(task))
    driver = ExecDriver()
    try:
        assert driver.recover(handle)
        with open(os.path.join(task.task_dir, "local", "go"), "w") as fifo:
            fifo.write("go\n")   # the starter is gone: the task writes on
        result = driver.wait(handle, timeout=30)
        assert (result.exit_code, result.signal, result.err) == (3, 0, None)
        assert open(task.stdout_path).read() == "after\n"
    finally:
        driver.destroy(handle)
