"""Running cells in a real kernel (jupyter_client), as a notebook front end does."""

from __future__ import annotations

from jupyter_client.manager import KernelManager


def execute(km: KernelManager, code: str, timeout: float = 60,
            displayed: list[dict] | None = None) -> tuple[str, str]:
    """Run ``code`` in the kernel; (stdout, stderr) of the cell; rich outputs (widgets)
    are appended to ``displayed``."""
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=30)
    out: list[str] = []
    err: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            (out if msg["content"]["name"] == "stdout" else err).append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            err.append("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "display_data" and displayed is not None:
            displayed.append(msg["content"]["data"])
    try:
        client.execute_interactive(code, output_hook=hook, timeout=timeout)
    finally:
        client.stop_channels()
    return "".join(out), "".join(err)
