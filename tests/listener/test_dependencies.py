"""pyproject.toml declares exactly what the code imports.

Runtime: every third-party import of `listener/` and `constraints/` is a runtime dependency,
and every runtime dependency is imported there. Dev: what only `tests/` and `benchmarks/`
import is in the dev group, and nothing in it is unused (pytest plugins and tools aside).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"listener", "constraints", "tests", "benchmarks", "small_plans"}
# Used by pytest or run from the shell, never imported; scipy is imported by the independent
# validator (../shared/benchmark/validate.py), which the tests and benchmarks run as a script.
DEV_TOOLS = {"mypy", "pytest-asyncio", "pytest-timeout", "ruff", "scipy"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {_name(r) for r in project["project"]["dependencies"]}
    dev = {_name(r) for r in project["dependency-groups"]["dev"]}
    return runtime, dev


def _imported(*folders: str) -> set[str]:
    """Distributions providing the third-party modules imported under `folders`."""
    modules: set[str] = set()
    # a script beside another imports it by its file name (benchmarks/naive_baseline.py)
    siblings = {path.stem for folder in folders for path in (ROOT / folder).rglob("*.py")}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    distributions = packages_distributions()
    found: set[str] = set()
    for module in modules - FIRST_PARTY - siblings - set(sys.stdlib_module_names):
        names = distributions.get(module)
        assert names, f"{module} is imported but installed by no distribution"
        found |= {_name(name) for name in names}
    return found


def test_runtime_dependencies_are_exactly_what_the_service_imports():
    runtime, _ = _declared()
    # psycopg[binary] is imported as psycopg; the binary wheel is what makes it installable.
    assert _imported("listener", "constraints") == runtime


def test_dev_group_covers_what_tests_import_and_nothing_more():
    runtime, dev = _declared()
    needed = _imported("tests", "benchmarks") - runtime
    assert needed <= dev
    assert dev - DEV_TOOLS <= needed
