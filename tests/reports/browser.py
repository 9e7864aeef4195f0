"""A real headless browser for the HTML report: Debian's ``chromium``.

Tests that need it skip when it is not installed, except where AUDITOR_REQUIRE_BROWSER=1
(CI sets it): there a missing browser fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

# What chromium's --enable-logging=stderr prints for a console message, an uncaught
# exception or a Content Security Policy refusal.
_CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught|Refused to|violates the following Content")


def chromium() -> str:
    path = os.environ.get("AUDITOR_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("AUDITOR_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass(frozen=True)
class Rendered:
    console: list[str]  # console messages, uncaught errors, CSP refusals
    dom: str  # the document after its script ran


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=3000", *args],
        capture_output=True, text=True, timeout=120, check=False)


def render(page: Path, workdir: Path, screenshot: Path | None = None,
           size: tuple[int, int] = (1100, 1800)) -> Rendered:
    """Open ``page`` from disk: its DOM after the script ran, what its console said, and
    optionally a screenshot."""
    profile = workdir / "chromium-profile"
    dom = _run(["--dump-dom", page.as_uri()], profile)
    assert dom.returncode == 0, dom.stderr[-2000:]
    logs = dom.stderr
    if screenshot is not None:
        shot = _run([f"--screenshot={screenshot}", f"--window-size={size[0]},{size[1]}",
                     page.as_uri()], profile)
        assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
        logs += shot.stderr
    return Rendered([line for line in logs.splitlines() if _CONSOLE.search(line)], dom.stdout)
