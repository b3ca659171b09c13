"""The job editor: a job spec in a text area and the Validate, Plan and Run buttons, each
running the same command the CLI and the ``%%nomad`` magic run."""

from __future__ import annotations

import html
import io
from importlib import resources
from typing import Any, Callable

import ipywidgets as widgets
import traitlets

__all__ = ["JobEditor", "sample_spec", "SAMPLE"]

#: The job spec the editor starts with: ``nomad job init -short``'s exec web server.
SAMPLE = "short.nomad.hcl"

COMMANDS = {"Validate": ["job", "validate", "-"], "Plan": ["job", "plan", "-"],
            "Run": ["job", "run", "-"]}


def sample_spec(name: str = SAMPLE) -> str:
    return resources.files("nomadlab.jobspec").joinpath("examples", name).read_text()


class JobEditor(widgets.VBox):
    """``spec`` is the text; ``exit_code`` and ``output`` what the last button printed."""

    spec = traitlets.Unicode("")
    exit_code = traitlets.Int(0)
    output = traitlets.Unicode("")

    def __init__(self, cluster: Any, guard: Callable[[str], Callable],
                 on_change: Callable[[], None]) -> None:
        self.cluster = cluster
        self._on_change = on_change
        self.text = widgets.Textarea(value=sample_spec(), rows=18,
                                     layout=widgets.Layout(width="100%"))
        self.buttons = {label: widgets.Button(description=label, tooltip=f"nomad job "
                                              f"{label.lower()} (this spec)")
                        for label in COMMANDS}
        self.buttons["Run"].button_style = "primary"
        for label, button in self.buttons.items():
            button.add_class(f"nomadlab-{label.lower()}")
        self.result = widgets.HTML()
        super().__init__([self.text, widgets.HBox(list(self.buttons.values())), self.result])
        traitlets.link((self.text, "value"), (self, "spec"))
        for label, button in self.buttons.items():
            button.on_click(guard(f"job {label.lower()}")(
                lambda _b, label=label: self.press(label)))

    def set_cluster(self, cluster: Any) -> None:
        """Show another cluster (the kernel's agent was replaced)."""
        self.cluster = cluster

    def press(self, label: str) -> int:
        """What clicking ``label`` does: run the command on the spec, show its output."""
        from ...commands import run
        out, err = io.StringIO(), io.StringIO()
        self.result.value = f"<i>{html.escape(label)}...</i>"
        code = run(self.cluster, COMMANDS[label], stdin=self.spec, out=out, err=err)
        text = out.getvalue()
        self.output = text + err.getvalue()
        self.exit_code = code
        colour = "#b00" if code == 1 else ("#a60" if code else "inherit")
        self.result.value = (f"<pre>{html.escape(text)}</pre>" if text else "") + (
            f"<pre style='color:{colour}'>{html.escape(err.getvalue())}</pre>"
            if err.getvalue() else "")
        if label == "Run":
            self._on_change()
        return code
