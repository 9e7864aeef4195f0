"""Build a Dockerfile with the legacy builder and remove exactly the images that build made.

The engine is shared (other builds run beside this one), so nothing is removed for being
new: only the tag, and the images the build's own steps printed (``---> <id>`` after a step
that ran, not one that came from the cache or a FROM). Removal is never forced, so an
image that another build has since built on stays.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError

_STEP = re.compile(r"^Step \d+/\d+ : (\S+)", re.M)
_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})$", re.M)


def made_by(output: str) -> list[str]:
    """The images a legacy-builder run made, in the order it made them."""
    made = []
    starts = [m.start() for m in _STEP.finditer(output)] + [len(output)]
    for start, end in itertools.pairwise(starts):
        block = output[start:end]
        step = _STEP.match(block)
        if step is None or step.group(1).upper() == "FROM" or "---> Using cache" in block:
            continue
        ids = _IMAGE.findall(block)
        if ids:
            made.append(ids[-1])
    return made


@contextmanager
def built(engine: Any, tag: str, dockerfile: Path, context: Path) -> Iterator[str]:
    """``docker build`` (legacy builder) tagged ``tag``; its images removed on the way out."""
    if shutil.which("docker") is None:
        if os.environ.get("AUDITOR_REQUIRE_ENGINE") == "1":
            pytest.fail("the docker command line is not installed")
        pytest.skip("the docker command line is not installed")
    made: list[str] = []
    try:
        proc = subprocess.run(["docker", "build", "--force-rm", "--network", "host", "-t", tag,
                               "-f", str(dockerfile), str(context)],
                              env={**os.environ, "DOCKER_BUILDKIT": "0"},
                              capture_output=True, text=True, timeout=900)
        made = made_by(proc.stdout)
        assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr, dockerfile.read_text())
        yield tag
    finally:
        for ref in [tag, *reversed(made)]:
            with contextlib.suppress(APIError):  # gone with its child, or in use: kept
                engine.images.remove(ref)
