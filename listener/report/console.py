"""The change report on the terminal, after the job-line table of `receptor-planner solve`."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from constraints.changes import ChangeReport


def change_summary(report: ChangeReport, current_count: int) -> RenderableType:
    if current_count == 0:
        return Text("No current lines: every line is new.")
    t = report.totals()
    head = Text.assemble(
        ("Changes against the current lines: ", "bold"),
        f"{t['kept']} kept, {t['changed']} changed, {t['new']} new, {t['removed']} removed; ",
        (f"{t['changed_rotations']} changed rotations", "bold"),
    )
    parts: list[RenderableType] = [head]
    if report.changed:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("Line", no_wrap=True)
        table.add_column("Term", justify="right")
        table.add_column("Was", no_wrap=True)
        table.add_column("Now", no_wrap=True)
        for change in report.changed:
            label = change.label
            if change.previous_label and change.previous_label != change.label:
                label += f" (was {change.previous_label})"
            for k, term in enumerate(change.terms):
                table.add_row(label if k == 0 else "", str(term.term), term.old or "-", term.new)
        parts.append(table)
    if report.new:
        parts.append(Text("New lines: " + ", ".join(c.label for c in report.new)))
    if report.removed:
        parts.append(Text("Removed lines: " + ", ".join(c.label for c in report.removed)))
    return Group(*parts)
