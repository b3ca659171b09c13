"""raw_exec: disabled by default as in Nomad; when enabled, a real process without limits."""

from __future__ import annotations

import os
import time

import pytest

from nomadlab.drivers import DriverError, RawExecDriver, Resources, TaskConfig, builtin_drivers
from nomadlab.drivers.exec import detect_isolation
from nomadlab.drivers.process import pid_alive

DISABLED = ('raw_exec is disabled: enable it in the client config '
            '(plugin "raw_exec" { config { enabled = true } })')


def make_task(tmp_path, command, args=(), env=None) -> TaskConfig:
    (tmp_path / "t").mkdir(exist_ok=True)
    return TaskConfig(id="a1/t", alloc_id="a1", task_name="t", job_id="j",
                      config={"command": command, "args": list(args)}, env=dict(env or {}),
                      task_dir=str(tmp_path / "t"), alloc_dir=str(tmp_path),
                      stdout_path=str(tmp_path / "t.stdout.0"),
                      stderr_path=str(tmp_path / "t.stderr.0"),
                      resources=Resources(memory_mb=20))


@pytest.fixture
def driver():
    drv = RawExecDriver(enabled=True)
    drv.handles = []
    yield drv
    for handle in drv.handles:
        drv.destroy(handle)


def test_disabled_by_default_with_nomads_message(tmp_path):
    drv = RawExecDriver()
    fp = drv.fingerprint()
    assert (fp.detected, fp.healthy, fp.health_description) == (False, False, DISABLED)
    with pytest.raises(DriverError) as err:
        drv.start(make_task(tmp_path, "true"))
    assert str(err.value) == DISABLED


def test_enabled_fingerprint(driver):
    fp = driver.fingerprint()
    assert fp.detected and fp.healthy
    assert fp.attributes == {"driver.raw_exec": "1"}


def test_runs_without_isolation(driver, tmp_path):
    handle = driver.start(make_task(tmp_path, "/bin/sh", ["-c", "echo $FOO; pwd; exit 2"],
                                    env={"FOO": "raw"}))
    driver.handles.append(handle)
    result = driver.wait(handle, timeout=5)
    assert result.exit_code == 2 and not result.oom_killed
    assert open(handle.config.stdout_path).read().splitlines() == ["raw", handle.config.task_dir]
    tracked = os.geteuid() == 0 and detect_isolation() != "rlimits"
    assert handle.state["isolation"] == ("cgroup-tracking" if tracked else "none")
    assert ("cgroups" in handle.state) == tracked
    own = open("/proc/self/cgroup").read()
    assert "nomadlab" not in own


def test_stop_kills_the_process_group(driver, tmp_path):
    handle = driver.start(make_task(tmp_path, "/bin/sh", ["-c", "sleep 30 & sleep 30"]))
    driver.handles.append(handle)
    time.sleep(0.1)
    driver.stop(handle, "INT", timeout=1)
    assert driver.wait(handle, timeout=1) is not None
    assert not pid_alive(handle.state["pid"])


def test_stop_kills_a_process_that_left_the_group(driver, tmp_path):
    """A daemon that calls setsid is out of the task's process group; Nomad's raw_exec
    (1.7+) still kills it through the task's cgroup, and so does nomadlab's."""
    if os.geteuid() != 0 or detect_isolation() == "rlimits":
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root with writable cgroups")
        pytest.skip("needs root and writable cgroups (as Nomad's raw_exec needs them)")
    pidfile = tmp_path / "daemon.pid"
    handle = driver.start(make_task(tmp_path, "/bin/sh", [
        "-c", f"setsid sh -c 'echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; "
              f"exec sleep 300' & sleep 300"]))
    driver.handles.append(handle)
    while not pidfile.exists():
        assert driver.wait(handle, timeout=0.05) is None, "the task ended before its daemon"
    daemon = int(pidfile.read_text())
    assert os.getsid(daemon) != os.getsid(handle.state["task_pid"])  # it left the session
    driver.stop(handle, "INT", timeout=1)
    driver.destroy(handle)
    assert not pid_alive(daemon)


def test_missing_command(driver, tmp_path):
    with pytest.raises(DriverError, match='raw_exec: command "nope" not found'):
        driver.start(make_task(tmp_path, "nope"))


def test_builtin_drivers_factory():
    drivers = builtin_drivers(docker=False, mock=True)
    assert set(drivers) == {"exec", "raw_exec", "mock"}
    assert not drivers["raw_exec"].fingerprint().detected
    assert builtin_drivers(raw_exec_enabled=True, docker=False)["raw_exec"].fingerprint().detected
    assert all(name == drv.name for name, drv in drivers.items())
    assert os.environ.get("PATH")
