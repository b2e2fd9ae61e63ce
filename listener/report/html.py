"""The plan report as one self-contained HTML page: inline CSS, no script, no font, image or
link to fetch, so it opens offline and prints on A4 landscape. Pure: ReportData in, text out.
Every string from the plan goes through `html.escape`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from constraints.changes import ChangeReport
from listener.report.data import Coverage, ReportData, ReportLine, ReportUnit

# Light colours that dark text reads on and that stay apart from each other; specialties
# beyond these get hues a golden angle apart.
PALETTE = (
    "#f4b6b6", "#b7e4c7", "#cdb4f0", "#fbe7a1", "#a9d6f5", "#f7c59f",
    "#d4ecb0", "#f2b5d4", "#b8c0ff", "#9ee0d6", "#e0c3a0", "#d9d9d9",
)  # fmt: skip
GOLDEN_ANGLE = 137.508

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --rule: #cbd2d9; --bad: #c81e1e; --warn: #b7791f; }
* { box-sizing: border-box; }
body { font: 13px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
       margin: 16px 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; border-bottom: 2px solid var(--rule); }
.meta { color: var(--muted); margin: 0 0 8px; }
.totals { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; padding: 0; list-style: none; }
.totals li { border: 1px solid var(--rule); border-radius: 4px; padding: 4px 10px; }
.totals b { font-size: 16px; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--rule); padding: 2px 6px; text-align: left; vertical-align: top; }
thead th { background: #f0f4f8; position: sticky; top: 0; }
.grid td.cell { min-width: 92px; white-space: nowrap; }
.grid th.line { white-space: nowrap; }
.cell.locked { outline: 2px solid var(--ink); outline-offset: -3px; font-weight: bold; }
.cell.changed { box-shadow: inset 0 0 0 2px var(--bad); }
.mark { font-size: 10px; font-weight: bold; margin-left: 4px; }
.mark.lock { color: var(--ink); }
.mark.delta { color: var(--bad); }
.badge { font-size: 10px; border-radius: 3px; padding: 0 4px; margin-left: 6px;
         border: 1px solid var(--muted); color: var(--muted); font-weight: normal; }
.badge.changed, .badge.new { border-color: var(--bad); color: var(--bad); }
.badge.locked, .badge.partial { border-color: var(--ink); color: var(--ink); }
.old { display: block; font-size: 10px; color: var(--muted); }
.was { color: var(--muted); font-size: 11px; font-weight: normal; margin-left: 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 6px 0 10px; padding: 0;
          list-style: none; }
.swatch { display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
          border: 1px solid var(--rule); margin-right: 4px; }
.cov td.num { text-align: right; white-space: nowrap; }
.cov td.short { background: #fde8e8; color: var(--bad); font-weight: bold; }
.cov td.over { background: #fefcbf; color: var(--warn); font-weight: bold; }
.cov td.closed { color: var(--rule); }
.bar { display: inline-block; height: 12px; background: #7b93db; vertical-align: -1px; }
.fair td { white-space: nowrap; }
ul.plain { padding-left: 18px; }
.shortfall { color: var(--bad); font-weight: bold; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  body { font-size: 8pt; margin: 0; }
  h1 { font-size: 13pt; }
  h2 { font-size: 11pt; margin-top: 0; }
  section + section { break-before: page; }
  thead { display: table-header-group; }
  thead th { position: static; }
  tr { break-inside: avoid; }
  th, td { padding: 1px 4px; }
  .grid td.cell { min-width: 0; overflow: hidden; text-overflow: ellipsis; }
  /* two grids side by side per page, each with its header: half the pages of one column */
  .gridwrap { columns: 2; column-gap: 6mm; column-fill: auto; }
  .gridwrap table.grid { width: 100%; table-layout: fixed; }
  .mark, .badge, .was, .old { font-size: 6pt; }
}
"""


def render(data: ReportData) -> str:
    colours = specialty_colours(data.units)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(data.title)} - job lines</title>",
        f"<style>{CSS}{_colour_css(colours)}</style>",
        "</head><body>",
        _header(data),
        _grid_section(data, colours),
        _coverage_section(data),
        _fairness_section(data),
        _changes_section(data),
        _explanation_section(data),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def specialty_colours(units: Sequence[ReportUnit]) -> dict[str, int]:
    """Specialty -> palette index, alphabetical: the same colours whatever the unit order
    (a plan file's, or the database's by code)."""
    return {s: k for k, s in enumerate(sorted({u.specialty for u in units}))}


def _colour_css(colours: dict[str, int]) -> str:
    return "".join(f".sp{k} {{ background: {_colour(k)}; }}\n" for k in colours.values())


def _colour(k: int) -> str:
    if k < len(PALETTE):
        return PALETTE[k]
    return f"hsl({(k * GOLDEN_ANGLE) % 360:.0f} 70% {86 - 6 * (k % 3)}%)"


def _header(data: ReportData) -> str:
    objective = data.objective
    totals = [
        ("lines", objective.get("lines", len(data.lines))),
        ("most service/nights rotations on a line", objective.get("max_service_nights", 0)),
        ("changed rotations", objective.get("changed_rotations", 0)),
    ]
    if objective.get("shortfall"):
        totals.insert(0, ("missing minimum demand", objective["shortfall"]))
    rules = ", ".join(data.constraints) if data.constraints else "none"
    return (
        f"<header><h1>{escape(data.title)}</h1>"
        f'<p class="meta">{escape(data.origin)} · status {escape(data.status)} · '
        f"rule sets: {escape(rules)} · {len(data.terms)} terms · {len(data.units)} units</p>"
        f'<ul class="totals">{"".join(f"<li><b>{v}</b> {escape(k)}</li>" for k, v in totals)}</ul>'
        "</header>"
    )


def _grid_section(data: ReportData, colours: dict[str, int]) -> str:
    units = {u.code: u for u in data.units}
    head = "".join(
        f'<th scope="col">{escape(t.name)}<br><small>{t.weeks} wk</small></th>' for t in data.terms
    )
    rows = "\n".join(_grid_row(line, data, units, colours) for line in data.lines)
    return (
        '<section id="lines"><h2>Job lines</h2>'
        f"{_legend(data, colours)}"
        '<div class="gridwrap"><table class="grid"><thead><tr><th scope="col">Line</th>'
        f"{head}</tr></thead><tbody>\n{rows}\n</tbody></table></div></section>"
    )


def _legend(data: ReportData, colours: dict[str, int]) -> str:
    items = [
        f'<li><span class="swatch sp{k}"></span>{escape(specialty)}</li>'
        for specialty, k in colours.items()
    ]
    items.append('<li><span class="mark lock">L</span> locked rotation (kept as entered)</li>')
    if data.changes is not None:
        items.append('<li><span class="mark delta">Δ</span> changed against the current lines</li>')
    return f'<ul class="legend">{"".join(items)}</ul>'


def _grid_row(
    line: ReportLine, data: ReportData, units: dict[str, ReportUnit], colours: dict[str, int]
) -> str:
    badge = line.change if line.change is not None else line.source
    if line.source == "new" and line.change is None:
        badge = ""
    head = escape(line.label)
    if badge:
        head += f'<span class="badge {escape(badge)}">{escape(badge)}</span>'
    if line.previous_label and line.previous_label != line.label:
        head += f'<span class="was">was {escape(line.previous_label)}</span>'
    cells = "".join(_grid_cell(line, t.ordinal, units, colours) for t in data.terms)
    return f'<tr><th scope="row" class="line">{head}</th>{cells}</tr>'


def _grid_cell(
    line: ReportLine, term: int, units: dict[str, ReportUnit], colours: dict[str, int]
) -> str:
    code = line.rotations.get(term)
    if code is None:
        return '<td class="cell">-</td>'
    unit = units.get(code)
    classes = ["cell"]
    if unit is not None:
        classes.append(f"sp{colours[unit.specialty]}")
    marks = ""
    if term in line.locked_terms:
        classes.append("locked")
        marks += '<span class="mark lock" title="locked">L</span>'
    if term in line.changed_terms:
        classes.append("changed")
        marks += '<span class="mark delta" title="changed">Δ</span>'
        if term in line.previous_units:
            marks += f'<span class="old">was {escape(line.previous_units[term] or "none")}</span>'
    title = f"{unit.name} ({unit.specialty})" if unit else code
    return f'<td class="{" ".join(classes)}" title="{escape(title)}">{escape(code)}{marks}</td>'


def _coverage_section(data: ReportData) -> str:
    colours = specialty_colours(data.units)
    by_key = {(c.unit, c.term): c for c in data.coverage}
    missing = sum(c.missing for c in data.coverage)
    head = "".join(f'<th scope="col">{escape(t.name)}</th>' for t in data.terms)
    rows = []
    for unit in data.units:
        cells = "".join(_coverage_cell(by_key.get((unit.code, t.ordinal))) for t in data.terms)
        rows.append(
            f'<tr><th scope="row" title="{escape(unit.name)}">{escape(unit.code)}</th>'
            f'<td><span class="swatch sp{colours[unit.specialty]}"></span>'
            f"{escape(unit.specialty)}</td>{cells}</tr>"
        )
    if not data.lines:
        note = (
            f'<p class="shortfall">No lines: the solve ended {escape(data.status)}; '
            "the explanations say why.</p>"
        )
    elif missing:
        note = f'<p class="shortfall">{missing} minimum place(s) are not filled (red).</p>'
    else:
        note = '<p class="meta">Every minimum demand is met.</p>'

    return (
        '<section id="coverage"><h2>Demand coverage</h2>'
        '<p class="meta">Lines placed / minimum-maximum, per unit and term; '
        "a dash is a term the unit is closed.</p>"
        f"{note}"
        f'<table class="cov"><thead><tr><th scope="col">Unit</th><th scope="col">Specialty</th>'
        f"{head}</tr></thead><tbody>\n{chr(10).join(rows)}\n</tbody></table></section>"
    )


def _coverage_cell(row: Coverage | None) -> str:
    if row is None:
        return '<td class="num closed">-</td>'
    css = "num short" if row.missing else "num over" if row.over else "num"
    text = f"{row.placed} / {row.min}-{row.max}"
    if row.missing:
        text += f" (-{row.missing})"
    return f'<td class="{css}">{text}</td>'


def _fairness_section(data: ReportData) -> str:
    most = max((n for _, n in data.fairness), default=0) or 1
    rows = "".join(
        f"<tr><td>{k}</td><td>{n}</td>"
        f'<td><span class="bar" style="width:{round(240 * n / most)}px"></span></td></tr>'
        for k, n in data.fairness
    )
    return (
        '<section id="fairness"><h2>Fairness: service and nights rotations per line</h2>'
        '<p class="meta">How many lines carry 0, 1, 2... rotations that are service (relief) '
        "or nights; the engine keeps the largest as small as possible.</p>"
        '<table class="fair"><thead><tr><th scope="col">Service/nights rotations</th>'
        '<th scope="col">Lines</th><th scope="col"></th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _changes_section(data: ReportData) -> str:
    report = data.changes
    if report is None:
        body = '<p class="meta">No change report for this plan.</p>'
    elif data.current_line_count == 0 and not report.removed:
        body = '<p class="meta">There were no current lines: every line is new.</p>'
    else:
        body = _change_body(report, data.current_line_count)
    return f'<section id="changes"><h2>Changes against the current lines</h2>{body}</section>'


def _change_body(report: ChangeReport, current_count: int) -> str:
    totals = report.totals()
    summary = (
        f'<p class="meta">{current_count} current line(s) compared with the new ones, paired '
        "so that as few rotations as possible change; a changed rotation is a term whose unit "
        "differs, and every term of a new or removed line counts.</p>"
        '<ul class="totals">'
        + "".join(
            f"<li><b>{totals[k]}</b> {label}</li>"
            for k, label in (
                ("kept", "kept unchanged"),
                ("changed", "changed"),
                ("new", "new"),
                ("removed", "removed"),
                ("changed_rotations", "changed rotations"),
            )
        )
        + "</ul>"
    )
    parts = [summary]
    if report.changed:
        rows = "".join(
            f'<tr><th scope="row">{escape(c.label)}{_was(c.label, c.previous_label)}</th><td>'
            + "; ".join(
                f"term {t.term}: {escape(t.old or 'none')} → {escape(t.new)}" for t in c.terms
            )
            + "</td></tr>"
            for c in report.changed
        )
        parts.append(
            '<h3>Changed lines</h3><table><thead><tr><th scope="col">Line</th>'
            '<th scope="col">What changed (old → new)</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append(_label_list("New lines", (c.label for c in report.new)))
    parts.append(_label_list("Removed lines", (c.label for c in report.removed)))
    return "".join(parts)


def _was(label: str, previous: str | None) -> str:
    return (
        f'<span class="was">was {escape(previous)}</span>' if previous and previous != label else ""
    )


def _label_list(title: str, labels: Iterable[str]) -> str:
    items = [escape(label) for label in labels]
    if not items:
        return ""
    return f"<h3>{escape(title)} ({len(items)})</h3><p>{', '.join(items)}</p>"


def _explanation_section(data: ReportData) -> str:
    if not data.explanation:
        body = '<p class="meta">The engine gave no further explanation.</p>'
    else:
        body = (
            '<ul class="plain">'
            + "".join(f"<li>{escape(e)}</li>" for e in data.explanation)
            + "</ul>"
        )
    return f'<section id="explanation"><h2>Explanations</h2>{body}</section>'
