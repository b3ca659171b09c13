"""``nomadlab lab``: JupyterLab on the labs folder, every kernel with the ``%nomad`` magics.

Kernels get the magics through a ``python3`` kernelspec of our own, put first on
``JUPYTER_PATH`` for this server only; it starts ipykernel with
``--ext=nomadlab.notebook.magics``.  That extension registers the magics but starts no
agent, so the first ``%nomad`` (or the lab's ``%load_ext nomadlab``) starts it and says
what it started in the notebook, where the learner reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main", "find_labs", "kernelspec", "write_kernelspec", "lab_environment",
           "lab_command"]

KERNEL_NAME = "python3"


def find_labs(explicit: Optional[str] = None) -> Path:
    """The labs folder: ``--labs``, else ``./labs``, else the ``labs/`` beside this package
    (a source checkout or an editable install)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"--labs {explicit}: no such folder")
        return path.resolve()
    for path in (Path.cwd() / "labs", Path(__file__).resolve().parents[2] / "labs"):
        if path.is_dir() and any(path.glob("*.ipynb")):
            return path.resolve()
    raise FileNotFoundError("no labs folder found: run `nomadlab lab` in the nomadlab "
                            "checkout, or give one with --labs DIR")


def kernelspec(python: str = sys.executable) -> dict:
    """ipykernel's own spec plus the magics extension."""
    return {"argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--ext=nomadlab.notebook.magics"],
            "display_name": "Python 3 (nomadlab)", "language": "python",
            "metadata": {"debugger": True}}


def write_kernelspec(jupyter_dir: Path) -> Path:
    kernel_dir = jupyter_dir / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps(kernelspec(), indent=1))
    return kernel_dir


def lab_environment(jupyter_dir: Path, base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The server's (and so every kernel's) environment: our kernelspec first on
    ``JUPYTER_PATH``, and this Python's scripts first on ``PATH``, so ``!nomadlab status``
    in a cell finds the command even when ``.venv/bin/nomadlab lab`` was run without
    activating the virtual environment."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(jupyter_dir), env.get("JUPYTER_PATH", "")) if p)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in (scripts, env.get("PATH", "")) if p)
    return env


def lab_command(labs: Path, extra: Sequence[str]) -> list[str]:
    """``jupyter lab`` on ``labs``; as root (a container) with ``--allow-root``, which
    JupyterLab otherwise refuses to start without."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={labs}", *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")
    return command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nomadlab lab",
        description="Open JupyterLab on the labs folder with the %nomad magics in every "
                    "kernel. Other options (--no-browser, --port N, ...) go to jupyter lab.")
    p.add_argument("--labs", metavar="DIR", help="the folder to open (default: labs/)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run JupyterLab until it exits; returns its exit code."""
    opts, extra = _parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    try:
        labs = find_labs(opts.labs)
    except FileNotFoundError as e:
        print(f"nomadlab lab: {e}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="nomadlab-jupyter-") as jupyter_dir:
        write_kernelspec(Path(jupyter_dir))
        env = lab_environment(Path(jupyter_dir))
        command = lab_command(labs, extra)
        print(f"nomadlab lab: JupyterLab on {labs} (kernels load the nomadlab magics)",
              flush=True)
        process = subprocess.Popen(command, env=env)
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # JupyterLab got the Ctrl-C too and decides
                continue


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
