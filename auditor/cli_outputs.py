"""``-o``/``--output``: which format goes where, named or told by the file's extension.

``-o FORMAT=PATH`` names the format; ``-o PATH`` infers it from the extension
(``.cdx.json`` before ``.json``); ``PATH`` ``-`` is standard output, which then holds that
report instead of the ``--format`` one.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.errors import UsageError
from auditor.outputs import STDOUT, check_target

# Longest first: a CycloneDX SBOM is a .json file too.
EXTENSIONS = ((".cdx.json", "cyclonedx"), (".sarif.json", "sarif"), (".sarif", "sarif"),
              (".json", "json"), (".md", "markdown"), (".markdown", "markdown"),
              (".html", "html"), (".htm", "html"), (".xml", "junit"), (".txt", "terminal"))


def parse_outputs(items: Sequence[str], formats: Sequence[str], fallback: str | None = None
                  ) -> list[tuple[str, str]]:
    """(format, path) for each ``-o``: the format it names, else the one its extension
    tells, else ``fallback`` (a ``--format`` the user chose, as Trivy's ``-o`` takes its
    ``--format``); a UsageError when none of them says."""
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name.lower() in formats:
            fmt = name.lower()
        else:
            fmt, path = _inferred(item, formats, fallback), item
        if not path:
            raise UsageError(f"--output {item!r} names no file (FORMAT=PATH, or - for "
                             "standard output)")
        if path != STDOUT:
            check_target(path)  # before the image is read
        out.append((fmt, path))
    if sum(path == STDOUT for _fmt, path in out) > 1:
        raise UsageError("only one --output can go to standard output (-)")
    return out


def _inferred(path: str, formats: Sequence[str], fallback: str | None) -> str:
    lower = path.lower()
    for ext, fmt in EXTENSIONS:
        if lower.endswith(ext):
            return fmt
    if fallback is not None:
        return fallback
    raise UsageError(f"--output {path!r}: cannot tell the format from the file name; say "
                     f"FORMAT=PATH with FORMAT one of {', '.join(formats)}",
                     tip="extensions: " + ", ".join(f"{e} ({f})" for e, f in EXTENSIONS))
