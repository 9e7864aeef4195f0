"""Python distributions installed in a site directory (site-packages or Debian's
dist-packages): ``NAME-VER.dist-info/METADATA`` (wheels, pip), ``NAME-VER.egg-info/PKG-INFO``
(setuptools) and the single-file ``NAME-VER.egg-info`` (distutils, many Debian packages).

Metadata is RFC 822 headers followed by the long description, so the first 64 KiB hold
every field read here. The files of a distribution come from ``RECORD`` (dist-info; paths
relative to the site directory) or ``installed-files.txt`` (egg-info; relative to the
egg-info directory) when present.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from auditor.filetree import FileTree
from auditor.inventory import Package, cataloger
from auditor.inventory._read import KiB, MiB, find_files, join_inside, read_content
from auditor.model.image import Skipped
from auditor.read.wants import Want

# email.parser, csv and packaging are imported where they are used: most images hold no
# Python distribution, and every scan would pay for importing them.

SITE_DIRS = ("**/site-packages", "**/dist-packages")
METADATA_WANTS = [Want(f"{site}/{tail}", 64 * KiB) for site in SITE_DIRS
                  for tail in ("*.dist-info/METADATA", "*.egg-info/PKG-INFO", "*.egg-info")]
WANTS = [
    *METADATA_WANTS,
    # One line per file: even the largest distributions' lists stay under a few MiB.
    *(Want(f"{site}/*.dist-info/RECORD", 8 * MiB) for site in SITE_DIRS),
    *(Want(f"{site}/*.egg-info/installed-files.txt", 8 * MiB) for site in SITE_DIRS),
]
METADATA_TAILS = (".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info")

# PEP 508's distribution name; anything else is not metadata we can trust.
VALID_NAME = re.compile(r"[A-Z0-9]([A-Z0-9._-]*[A-Z0-9])?", re.IGNORECASE)
VALID_VERSION = re.compile(r"[!-~]{1,128}")  # as written (not normalised), printable ASCII


def parse_metadata(data: bytes) -> tuple[str, str] | str:
    """``(name, version)`` from a METADATA/PKG-INFO prefix, or why they are missing."""
    if b"\0" in data[:4096]:
        return "metadata is binary, not RFC 822 headers"
    from email.parser import HeaderParser

    headers = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    name, version = str(headers.get("Name", "")).strip(), str(headers.get("Version", "")).strip()
    if not name or not version:
        return "metadata has no Name or no Version field"
    if not VALID_NAME.fullmatch(name):
        return f"metadata Name {name[:60]!r} is not a valid distribution name"
    if not VALID_VERSION.fullmatch(version):
        return f"metadata Version {version[:60]!r} is not a version"
    return name, version


def _lines(tree: FileTree, path: str, skipped: list[Skipped], what: str) -> list[str] | None:
    content = read_content(tree, path, skipped, what)
    if content is None:
        return None
    text = content.data.decode("utf-8", "surrogateescape")
    if not content.complete:
        text = text[:text.rfind("\n") + 1]
        skipped.append(Skipped(path, f"{what} is larger than the bytes read; "
                                     "ownership of the files after the cut is unknown"))
    return text.splitlines()


def record_files(tree: FileTree, meta_dir: str, skipped: list[Skipped]) -> list[str]:
    """Absolute paths of the distribution whose metadata directory is ``meta_dir``."""
    if meta_dir.endswith(".dist-info"):
        import csv

        lines = _lines(tree, meta_dir + "/RECORD", skipped, "RECORD")
        base = posixpath.dirname(meta_dir)
        try:
            rels = [row[0] for row in csv.reader(lines or ()) if row and row[0]]
        except csv.Error as exc:
            skipped.append(Skipped(meta_dir + "/RECORD", f"RECORD is not CSV: {exc}"))
            rels = []
    else:
        lines = _lines(tree, meta_dir + "/installed-files.txt", skipped, "installed-files.txt")
        base = meta_dir
        rels = [line for line in lines or () if line.strip()]
    return [join_inside(base, rel) for rel in rels]


def _size(tree: FileTree, files: list[str]) -> int:
    total = 0
    for path in files:
        node = tree.get(path)
        if node is not None and node.is_file:
            total += node.size
    return total


@cataloger("python", wants=WANTS)
def catalog_python(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    for node in find_files(tree, METADATA_WANTS, METADATA_TAILS):
        content = read_content(tree, node.path, skipped, "Python metadata")
        if content is None:
            continue
        parsed = parse_metadata(content.data)
        if isinstance(parsed, str):
            skipped.append(Skipped(node.path, parsed))
            continue
        name, version = parsed
        meta_dir = node.path if node.path.endswith(".egg-info") else posixpath.dirname(
            node.path)
        files = record_files(tree, meta_dir, skipped) if meta_dir != node.path else []
        from packaging.utils import canonicalize_name

        yield Package(name=canonicalize_name(name), version=version, ecosystem="python",
                      files=tuple(files), installed_size=_size(tree, files),
                      location=node.path)
