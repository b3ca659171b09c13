"""Every lab notebook runs top to bottom in a real kernel; its own asserts check what it teaches."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LABS = sorted((Path(__file__).parent.parent / "labs").glob("*.ipynb"))


def test_there_are_labs() -> None:
    assert LABS, "labs/ holds no notebooks"


@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_lab_runs_top_to_bottom(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{path.name} is committed with outputs"
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
