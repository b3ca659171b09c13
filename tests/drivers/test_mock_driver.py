"""The mock driver follows Nomad's mock_driver: timers instead of processes."""

from __future__ import annotations

import time

import pytest

from nomadlab.drivers import DriverError, MockDriver, TaskConfig


def make_task(tmp_path, **config) -> TaskConfig:
    return TaskConfig(id="a1/web", alloc_id="a1", task_name="web", job_id="j", config=config,
                      env={}, task_dir=str(tmp_path), alloc_dir=str(tmp_path),
                      stdout_path=str(tmp_path / "web.stdout.0"),
                      stderr_path=str(tmp_path / "web.stderr.0"))


@pytest.fixture
def driver():
    drv = MockDriver()
    drv.handles = []
    yield drv
    for handle in drv.handles:
        drv.destroy(handle)


def start(driver, tmp_path, **config):
    handle = driver.start(make_task(tmp_path, **config))
    driver.handles.append(handle)
    return handle


def test_fingerprint_says_simulated():
    fp = MockDriver().fingerprint()
    assert fp.detected and fp.healthy
    assert fp.attributes == {"driver.mock": "1", "driver.mock.simulated": "true"}


def test_run_for_then_exit_code_signal_and_message(driver, tmp_path):
    handle = start(driver, tmp_path, run_for="200ms", exit_code=7, exit_signal=9,
                   exit_err_msg="the application crashed")
    assert driver.wait(handle, timeout=0.05) is None
    result = driver.wait(handle, timeout=2)
    assert (result.exit_code, result.signal, result.err) == (7, 9, "the application crashed")


def test_default_run_for_exits_at_once_successfully(driver, tmp_path):
    result = driver.wait(start(driver, tmp_path), timeout=1)
    assert result is not None and result.successful


def test_stdout_string_and_repeat(driver, tmp_path):
    handle = start(driver, tmp_path, stdout_string="hi\n", stdout_repeat=2,
                   stdout_repeat_duration="10ms", stderr_string="err\n")
    assert driver.wait(handle, timeout=2).successful
    assert open(handle.config.stdout_path).read() == "hi\nhi\nhi\n"
    assert open(handle.config.stderr_path).read() == "err\n"


def test_start_error_and_recoverable(driver, tmp_path):
    with pytest.raises(DriverError, match="boom") as err:
        start(driver, tmp_path, start_error="boom", start_error_recoverable=True)
    assert err.value.recoverable
    with pytest.raises(DriverError) as err:
        start(driver, tmp_path, start_error="boom")
    assert not err.value.recoverable


def test_start_block_for(driver, tmp_path):
    began = time.monotonic()
    start(driver, tmp_path, start_block_for="150ms")
    assert time.monotonic() - began >= 0.15


def test_stop_kills_at_once_or_after_kill_after(driver, tmp_path):
    forever = start(driver, tmp_path, run_for="1h", exit_code=3)
    driver.stop(forever, "SIGTERM", timeout=5)
    assert driver.wait(forever, timeout=0).exit_code == 3, "stopped at once, not after 5 s"

    slow = start(driver, tmp_path, run_for="1h", kill_after="200ms")
    began = time.monotonic()
    driver.stop(slow, "SIGTERM", timeout=0)
    assert time.monotonic() - began >= 0.2
    assert driver.wait(slow, timeout=0) is not None


def test_recover_and_destroy(driver, tmp_path):
    handle = start(driver, tmp_path, run_for="1h")
    assert MockDriver().recover(handle)
    driver.destroy(handle)
    assert not MockDriver().recover(handle)
    with pytest.raises(DriverError):
        driver.wait(handle, timeout=0)


def test_bad_duration_is_a_driver_error(driver, tmp_path):
    with pytest.raises(DriverError, match='time: invalid duration "soon"'):
        start(driver, tmp_path, run_for="soon")
