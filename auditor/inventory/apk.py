"""Alpine packages: apk's database, ``/lib/apk/db/installed``.

One paragraph per installed package, one ``X:value`` line per field: ``P`` name, ``V``
version, ``A`` arch, ``I`` installed size in bytes, ``o`` origin (the source package).
Files come as an ``F:`` directory line followed by the ``R:`` file lines inside it, with
no leading slash.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.filetree import FileTree
from auditor.inventory import Package, cataloger
from auditor.inventory._read import MiB, paragraphs, read_text
from auditor.model.image import Skipped
from auditor.read.wants import Want

INSTALLED = "/lib/apk/db/installed"

# With file lists apk's database runs to ~10 KiB a package.
WANTS = [Want(INSTALLED, 32 * MiB)]


def parse_package(lines: list[str], location: str) -> Package | str:
    """One paragraph as a package, or a sentence saying why it is not one."""
    first: dict[str, str] = {}
    files: list[str] = []
    directory = ""
    for line in lines:
        key, colon, value = line.partition(":")
        if not colon or len(key) != 1:
            return f"not an 'X:value' line: {line[:60]!r}"
        if key == "F":
            directory = "/" + value.strip("/")
            if directory != "/":
                files.append(directory)
        elif key == "R":
            if not directory:
                return "a file line (R:) before any directory line (F:)"
            files.append(f"{directory.rstrip('/')}/{value}")
        else:
            first.setdefault(key, value)
    if not first.get("P") or not first.get("V"):
        return "paragraph has no P: (name) or no V: (version) line"
    size = first.get("I", "")
    return Package(name=first["P"], version=first["V"], ecosystem="apk", files=tuple(files),
                   installed_size=int(size) if size.isascii() and size.isdigit() else 0,
                   location=location,
                   source=first.get("o") or None, arch=first.get("A") or None)


@cataloger("apk", wants=WANTS)
def catalog_apk(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    text = read_text(tree, INSTALLED, skipped, "apk database",
                     "the packages after the cut are missing")
    if text is None:
        return
    for number, lines in enumerate(paragraphs(text), 1):
        parsed = parse_package(lines, INSTALLED)
        if isinstance(parsed, str):
            skipped.append(Skipped(f"{INSTALLED} (paragraph {number})", parsed))
        else:
            yield parsed
