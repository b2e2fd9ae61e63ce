"""Headless Debian `chromium` for the report tests: load a file with the network cut off,
and return the DOM, a screenshot or a PDF, with the console messages the page logged."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian chromium is not installed (scripts/bootstrap installs it)",
)
# Console output arrives on stderr as "...:INFO:CONSOLE:1] "message", source: ..."
CONSOLE = re.compile(r":CONSOLE[:(]")


@dataclass(frozen=True)
class Page:
    stdout: str
    console: list[str]  # every console message (errors, uncaught exceptions, logs)


def open_page(url: str, profile: Path, *extra: str) -> Page:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: the page must not need it
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    console = [line for line in done.stderr.splitlines() if CONSOLE.search(line)]
    return Page(done.stdout, console)
