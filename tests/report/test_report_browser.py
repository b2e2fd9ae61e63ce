"""The HTML plan report opened in a real headless browser: it loads offline without a
console message, shows every line and unit, takes a screenshot and prints A4 landscape."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from constraints.changes import relabel_and_report
from constraints.loading import load_plan
from constraints.solution import SolutionLine
from constraints.solver import solve
from listener.report.data import gather
from listener.report.html import render
from tests.report.benchmark import benchmark_dir, missing
from tests.report.chromium import needs_chromium, open_page

pytestmark = needs_chromium
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """s_pgy2_current (the public plan with current lines that loads today) solved, relabelled
    and rendered once for the module."""
    path = benchmark_dir() / "plans" / "s_pgy2_current.json"
    if not path.exists():
        missing(f"plan {path.name}")
    doc = json.loads(path.read_text())
    doc["params"]["time_limit_s"] = 10
    plan = load_plan(doc)
    result = solve(plan)
    lines, changes = relabel_and_report(plan, result.lines)
    data = gather(
        plan,
        lines,
        status=result.status,
        objective=result.objective.to_json(),
        explanation=result.explanation,
        changes=changes,
        origin="solved from s_pgy2_current.json",
    )
    out = tmp_path_factory.mktemp("report") / "plan.html"
    out.write_text(render(data), encoding="utf-8")
    return plan, lines, changes, out


class _Links(HTMLParser):
    """Every attribute that could make the browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data"):
                self.fetches.append(f"{tag} {name}={value}")


def test_report_is_self_contained(solved):
    _, _, _, out = solved
    text = out.read_text()
    links = _Links()
    links.feed(text)
    assert links.fetches == []
    assert not links.tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert "url(" not in text and "@import" not in text and "@font-face" not in text


def test_dom_shows_every_line_and_unit_without_console_messages(solved, tmp_path):
    plan, lines, changes, out = solved
    page = open_page(out.as_uri(), tmp_path / "profile", "--dump-dom")
    assert page.console == []
    dom = page.stdout
    cells = re.findall(r'<th scope="row" class="line">([^<]+)<', dom)
    assert cells == [line.label for line in lines]
    for unit in plan.units:
        assert f">{unit.code}</th>" in dom  # its coverage row
    # every changed cell of the change report is marked in the grid
    assert dom.count('title="changed"') == sum(len(c.terms) for c in changes.changed) + (
        plan.term_count * len(changes.new)
    )
    for section in ("lines", "coverage", "fairness", "changes", "explanation"):
        assert f'<section id="{section}">' in dom


def test_screenshot_is_taken(solved, tmp_path):
    _, _, _, out = solved
    shot = tmp_path / "plan.png"
    page = open_page(
        out.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1600,1000"
    )
    assert page.console == []
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 20_000  # a blank 1600x1000 page compresses to a few KB


def test_prints_on_a4_landscape_one_section_per_page_or_more(solved, tmp_path):
    _, _, _, out = solved
    pdf = tmp_path / "plan.pdf"
    page = open_page(
        out.as_uri(), tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer"
    )
    assert page.console == []
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf.read_bytes())
    assert len(boxes) >= 5  # five sections, each from a new page
    for width, height in boxes:  # A4 landscape: 297 x 210 mm = 842 x 595 pt
        assert abs(float(width) - 842) < 2 and abs(float(height) - 595) < 2


def test_console_check_catches_a_page_error(tmp_path):
    """The console capture the tests above rely on does see an uncaught error."""
    bad = tmp_path / "bad.html"
    bad.write_text("<p>x</p><script>undefined_function();</script>")
    page = open_page(bad.as_uri(), tmp_path / "profile", "--dump-dom")
    assert any("Uncaught" in line for line in page.console)


def test_hostile_names_are_text_not_markup(solved, tmp_path):
    plan, lines, changes, _ = solved
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    unit = replace(plan.units[0], name=evil, specialty=evil)
    hostile = replace(plan, name=evil, units=(unit, *plan.units[1:]))
    bad_lines = [replace(lines[0], label=evil), *lines[1:]]
    data = gather(
        hostile,
        bad_lines,
        status="OPTIMAL",
        objective={},
        explanation=[evil],
        changes=changes,
        origin=evil,
    )
    out = tmp_path / "evil.html"
    out.write_text(render(data))
    page = open_page(out.as_uri(), tmp_path / "profile", "--dump-dom")
    assert page.console == []
    assert "<script" not in page.stdout and "<img" not in page.stdout
    assert "&lt;script&gt;" in page.stdout


def test_lines_without_changes_render(tmp_path):
    """A plan with no current lines, and a line whose rotations are partly locked."""
    doc = json.loads((benchmark_dir() / "plans" / "s_pgy2_current.json").read_text())
    doc["current_lines"] = []
    plan = load_plan(doc)
    lines = [
        SolutionLine("LK-1", {1: plan.units[0].code}, frozenset({1}), "partial"),
    ]
    data = gather(
        plan, lines, status="FEASIBLE", objective={}, explanation=[], changes=None, origin="t"
    )
    out: Path = tmp_path / "plain.html"
    out.write_text(render(data))
    page = open_page(out.as_uri(), tmp_path / "profile", "--dump-dom")
    assert page.console == []
    assert re.search(r'class="cell sp\d+ locked"', page.stdout)
    assert 'title="changed"' not in page.stdout and 'class="badge new"' not in page.stdout
