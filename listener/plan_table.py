"""Job lines as a terminal table: lines down, terms across (what a rota coordinator reads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.table import Table


def lines_table(
    terms: Iterable[tuple[int, str]],
    lines: Mapping[str, Mapping[int, str]],
    *,
    locked: Mapping[str, set[int]] | None = None,
    title: str | None = None,
) -> Table:
    """`terms`: (ordinal, name); `lines`: label -> {term: unit code}; `locked`: label ->
    locked terms (shown in bold with a padlock)."""
    terms = list(terms)
    locked = locked or {}
    table = Table(title=title, show_lines=False, header_style="bold")
    table.add_column("Line", style="cyan", no_wrap=True)
    for _, name in terms:
        table.add_column(name, no_wrap=True)
    # Locked and partly locked lines first (they are the fixed frame), then the rest by label.
    for label in sorted(lines, key=lambda label: (not locked.get(label), label)):
        cells = []
        for ordinal, _ in terms:
            unit = lines[label].get(ordinal, "")
            cells.append(f"[bold]{unit} 🔒[/bold]" if ordinal in locked.get(label, ()) else unit)
        table.add_row(label, *cells)
    return table
