"""The real thing: ``nomadlab lab`` serving a copy of labs/, lab 02 opened and run in
headless Chromium (Debian's, never a downloaded one), the dashboard's Run button pressed,
and the allocation it placed seen in the dashboard.  Screenshots go to
``tests/browser/screenshots/`` (git-ignored) for a person to look at.

In CI (``CI=true``) this must run; elsewhere it skips, with the reason, only when
Chromium or Playwright's Python package is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
LAB = "02-your-first-job.ipynb"
SCREENSHOTS = Path(__file__).parent / "screenshots"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(available: bool, reason: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the browser test: apt-get install -y chromium)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, url: str, token: str, process: subprocess.Popen, log: Path) -> None:
        self.url, self.token, self.process, self.log = url, token, process, log

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """``nomadlab lab`` (the README's command) on a copy of labs/, a free port, a token."""
    labs = tmp_path / "labs"
    shutil.copytree(REPO / "labs", labs, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nomadlab", "lab", "--labs", str(labs),
             "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
             f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    running = Lab(f"http://127.0.0.1:{port}", token, process, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            running.api("/api/status")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not start:\n{log.read_text()}") from None
            time.sleep(0.3)
    yield running
    try:  # a clean shutdown closes the kernels, and their agents with them
        running.api("/api/shutdown", method="POST")
        process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        process.terminate()
        process.wait(timeout=10)


def _wait_idle(page: object, timeout_s: float) -> None:
    """Until no cell is queued or running (no ``[*]`` prompt) and the kernel is idle."""
    page.wait_for_function(  # type: ignore[attr-defined]
        """() => {
            const prompts = [...document.querySelectorAll('.jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => !p.textContent.includes('*'));
        }""", timeout=timeout_s * 1000)


def _wait_kernel_idle(page: object, timeout_s: float) -> None:
    """Until the status bar says the notebook's kernel is connected and idle."""
    page.wait_for_function(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('.jp-StatusBar-Item')]
                     .some(item => /\\|\\s*Idle/.test(item.textContent))""",
        timeout=timeout_s * 1000)


def _wait_started(page: object, timeout_s: float) -> None:
    """Until the first code cell is queued, running or done (``[*]`` or ``[1]``)."""
    page.wait_for_function(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('.jp-InputPrompt')]
                     .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""",
        timeout=timeout_s * 1000)


def test_lab02_dashboard_runs_a_job_in_jupyterlab(lab: Lab) -> None:
    _require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _require(False, "Playwright's Python package is not installed (pip install -e '.[test]')")
    assert (REPO / "labs" / LAB).exists(), f"labs/{LAB} is missing"
    SCREENSHOTS.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab.url}/lab/tree/{LAB}?token={lab.token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            _wait_kernel_idle(page, 180)  # connected and ready, however long that takes
            no_news = page.get_by_role("button", name="No", exact=True)
            if no_news.count():  # JupyterLab asks once whether to fetch its news
                no_news.first.click()

            # Run every cell but the lab's last (it shuts the agent down), as "Run All"
            # up to there: the dashboard must have a live agent behind it afterwards.
            page.locator(".jp-Notebook .jp-Cell").last.click()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Above Selected Cell").click()
            _wait_started(page, 60)
            _wait_idle(page, 180)
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.error']")
            error_text = errors.all_inner_texts() if errors.count() else []
            page.screenshot(path=str(SCREENSHOTS / "lab02-after-run-all.png"), full_page=True)
            assert not error_text, f"cells failed:\n{error_text}"

            dashboard = page.locator(".nomadlab-dashboard").first
            dashboard.scroll_into_view_if_needed()
            expect(dashboard).to_be_visible(timeout=30_000)
            # Later cells submitted jobs with c.submit(), not through the dashboard: only the
            # change feed (a background thread in the kernel) can have told it.
            expect(dashboard).to_contain_text("2 job(s)", timeout=30_000)
            dashboard.locator(".lm-TabBar-tab", has_text="Job editor").click()
            run = dashboard.locator(".nomadlab-run")
            expect(run).to_be_visible()
            run.click()
            expect(dashboard.locator("pre", has_text="finished with status")).to_be_visible(
                timeout=30_000)
            dashboard.screenshot(path=str(SCREENSHOTS / "lab02-dashboard-editor.png"))

            dashboard.locator(".lm-TabBar-tab", has_text="Cluster").click()
            jobs = dashboard.locator(".nomadlab-jobs")
            expect(jobs.locator("tr", has_text="hello")).to_contain_text("running",
                                                                         timeout=30_000)
            allocs = dashboard.locator(".nomadlab-allocs", has_text='job "hello"')
            expect(allocs.locator("tr").filter(has_text="running").first).to_be_visible(
                timeout=30_000)
            topology = dashboard.locator("img").first
            expect(topology).to_be_visible()
            dashboard.scroll_into_view_if_needed()
            dashboard.screenshot(path=str(SCREENSHOTS / "lab02-dashboard-cluster.png"))

            dashboard.locator(".lm-TabBar-tab", has_text="Evaluations").click()
            expect(dashboard.locator("text=chosen").first).to_be_visible(timeout=30_000)
            expect(dashboard.locator("text=placement funnel, then why each node")).to_be_visible(
                timeout=30_000)
            dashboard.screenshot(path=str(SCREENSHOTS / "lab02-dashboard-evaluations.png"))

            dashboard.locator(".lm-TabBar-tab", has_text="History").click()
            expect(dashboard.locator("text=at state index").first).to_be_visible(timeout=30_000)
            dashboard.screenshot(path=str(SCREENSHOTS / "lab02-dashboard-history.png"))
            expect(dashboard.locator(".nomadlab-errors .jp-OutputArea-output")).to_have_count(0)
        finally:
            browser.close()
