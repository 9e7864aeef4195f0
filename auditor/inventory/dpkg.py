"""Debian packages: dpkg's status database, distroless's status.d, and dpkg's file lists.

``/var/lib/dpkg/status`` holds one paragraph per package dpkg knows about, including
removed ones whose configuration files remain; ``/var/lib/dpkg/info/NAME.list`` (or
``NAME:ARCH.list`` for Multi-Arch: same packages) lists every path a package unpacked.
Distroless images have no dpkg: each package is one paragraph file in
``/var/lib/dpkg/status.d/`` and, in newer ones, a ``NAME.md5sums`` beside it that names
its files.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.filetree import FileTree
from auditor.inventory import Package, cataloger
from auditor.inventory._read import MiB, paragraphs, read_text
from auditor.model.image import Skipped
from auditor.read.wants import Want

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"
INFO = "/var/lib/dpkg/info"

WANTS = [
    # ~1.5 KiB a package: 16 MiB is over ten thousand packages.
    Want(STATUS, 16 * MiB),
    Want(STATUS_D + "/*", 1 * MiB),
    # The largest lists (kernel headers, texlive) stay under a few MiB.
    Want(INFO + "/*.list", 8 * MiB),
]

# The third word of ``Status:`` once dpkg has unpacked every file of the package; a package
# selected for removal ("deinstall ok installed") still has its files on disk until then.
# Left out: not-installed, config-files (only conffiles remain) and half-installed (an
# interrupted unpack or removal: which files exist is unknown).
FILES_PRESENT = frozenset({"installed", "triggers-pending", "triggers-awaiting",
                           "half-configured", "unpacked"})


def parse_paragraph(lines: list[str]) -> dict[str, str] | str:
    """The fields of one control paragraph, or a sentence saying why it is malformed."""
    fields: dict[str, str] = {}
    key = ""
    for line in lines:
        if line[0] in " \t":
            if not key:
                return "continuation line before any field"
            fields[key] += "\n" + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name:
            return f"not a 'Field: value' line: {line[:60]!r}"
        key = name
        fields[key] = value.strip()
    return fields


def _package(fields: dict[str, str], files: tuple[str, ...], location: str) -> Package:
    size = fields.get("Installed-Size", "")
    source = fields.get("Source", "").split("(")[0].strip() or None
    return Package(
        name=fields["Package"], version=fields["Version"], ecosystem="deb", files=files,
        installed_size=int(size) * 1024 if size.isascii() and size.isdigit() else 0,
        location=location,
        source=source, arch=fields.get("Architecture") or None)


def _paragraphs_of(tree: FileTree, path: str, skipped: list[Skipped]
                   ) -> Iterator[dict[str, str]]:
    text = read_text(tree, path, skipped, "dpkg status", "the packages after the cut are "
                     "missing", errors="replace")
    if text is None:
        return
    for number, lines in enumerate(paragraphs(text), 1):
        fields = parse_paragraph(lines)
        if isinstance(fields, str):
            skipped.append(Skipped(f"{path} (paragraph {number})", fields))
        elif not fields.get("Package") or not fields.get("Version"):
            skipped.append(Skipped(f"{path} (paragraph {number})",
                                   "paragraph has no Package or no Version field"))
        else:
            yield fields


def _installed(fields: dict[str, str]) -> bool:
    status = fields.get("Status")
    if status is None:  # status.d paragraphs carry none: everything there is installed
        return True
    words = status.split()
    return len(words) == 3 and words[2] in FILES_PRESENT


def _read_list(tree: FileTree, path: str, skipped: list[Skipped]) -> tuple[str, ...]:
    text = read_text(tree, path, skipped, "dpkg file list", "ownership of the files after "
                     "the cut is unknown", unit="\n")
    if text is None:
        return ()
    # a list first: tuple() of a generator is slower, and lists run to tens of thousands
    return tuple([line for line in text.split("\n") if line.startswith("/") and line != "/."])


def _read_md5sums(tree: FileTree, path: str, skipped: list[Skipped]) -> tuple[str, ...]:
    text = read_text(tree, path, skipped, "dpkg md5sums", "ownership of the files after "
                     "the cut is unknown", unit="\n")
    if text is None:
        return ()
    files = []
    for line in text.split("\n"):
        _digest, sep, rel = line.partition("  ")
        if sep and rel:
            files.append("/" + rel.lstrip("/"))
    return tuple(files)


def _lists_by_stem(tree: FileTree, directory: str, suffix: str) -> dict[str, str]:
    """``{stem: path}`` of the files named ``STEM + suffix`` directly in ``directory``."""
    out: dict[str, str] = {}
    for node in tree.children(directory):
        base = node.path.rsplit("/", 1)[1]
        if base.endswith(suffix) and node.is_file:
            out[base[:-len(suffix)]] = node.path
    return out


def _owned(fields: dict[str, str], lists: dict[str, str]) -> str | None:
    name, arch = fields["Package"], fields.get("Architecture", "")
    return lists.get(f"{name}:{arch}") or lists.get(name)


@cataloger("dpkg", wants=WANTS)
def catalog_dpkg(tree: FileTree, skipped: list[Skipped]) -> Iterator[Package]:
    seen: set[tuple[str, str, str]] = set()
    lists = _lists_by_stem(tree, INFO, ".list")
    for fields in _paragraphs_of(tree, STATUS, skipped):
        if not _installed(fields):
            continue
        key = (fields["Package"], fields["Version"], fields.get("Architecture", ""))
        if key in seen:
            continue
        seen.add(key)
        list_path = _owned(fields, lists)
        files = _read_list(tree, list_path, skipped) if list_path else ()
        yield _package(fields, files, STATUS)

    md5sums = _lists_by_stem(tree, STATUS_D, ".md5sums")
    for node in tree.children(STATUS_D):
        if not node.is_file or node.path.endswith(".md5sums"):
            continue
        for fields in _paragraphs_of(tree, node.path, skipped):
            key = (fields["Package"], fields["Version"], fields.get("Architecture", ""))
            if not _installed(fields) or key in seen:
                continue
            seen.add(key)
            sums_path = _owned(fields, md5sums) or md5sums.get(node.path.rsplit("/", 1)[1])
            files = _read_md5sums(tree, sums_path, skipped) if sums_path else ()
            yield _package(fields, files, node.path)
