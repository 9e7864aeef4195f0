"""The bounds on what one image may make the reader hold or do, and the ``AUDITOR_*``
variables that move them (docs/guide.md, "Limits on what an image holds").

Each is a whole number (ASCII digits); ``0`` lifts the bound. A bound passed stops the
read with one error line naming the variable.
"""

from __future__ import annotations

import os

from auditor.errors import UsageError

GIB = 1 << 30
MIB = 1 << 20

# Decompressed bytes of all of an image's compressed layers together. The largest real
# images (CUDA, ML toolkits) hold a few tens of GB; a bomb holds whatever it likes.
MAX_INFLATE_BYTES = ("AUDITOR_MAX_INFLATE_BYTES", 128 * GIB)
# Bytes of member names and link targets the reader keeps for one image, all layers
# together: about 2.5 million entries of 100-byte paths.
MAX_NAME_BYTES = ("AUDITOR_MAX_NAME_BYTES", 256 * MIB)
# Bytes of PAX and GNU long-name headers one image's layers may hold in all (BuildKit
# writes a PAX header of about 100 bytes for most entries).
MAX_PAX_BYTES = ("AUDITOR_MAX_PAX_BYTES", 256 * MIB)


def env_limit(limit: tuple[str, int]) -> int:
    """The bound ``limit`` names (its variable, else its default); 0 means none."""
    name, default = limit
    text = os.environ.get(name, "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):  # not "²"
        raise UsageError(f"{name}={text[:40]!r} is not a whole number")
    return int(text)


def unbounded(value: int) -> int:
    """A bound read as 0 (none) made a count no image reaches."""
    return value if value > 0 else 1 << 62
