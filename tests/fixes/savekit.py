"""Test-only: ELF facts of a real image, read back from its ``docker save`` archive.

Until the layer reader calls :func:`auditor.read.elf.read_elf_facts` itself, the closure tests
get facts by streaming each layer of the archive once through the same forward-only tar
reader the scan uses, and keeping, per path, the facts of the version that survives in the
squashed tree.
"""

from __future__ import annotations

import gzip
import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from auditor.filetree import FileTree
from auditor.read.elf import ELF_MAGIC, ElfFacts, read_elf_facts
from auditor.read.layers import image_path
from auditor.read.tarstream import TarStream

HEAD = 1024
_TYPES = (b"0", b"\0", b"7")


@dataclass
class ElfScan:
    facts: dict[str, ElfFacts] = field(default_factory=dict)
    calls: int = 0
    seconds: float = 0.0  # spent inside read_elf_facts (its own reads included)
    incomplete: list[tuple[str, str]] = field(default_factory=list)


def _layer_stream(outer: tarfile.TarFile, name: str) -> IO[bytes]:
    member = outer.extractfile(name)
    assert member is not None
    if member.peek(2)[:2] == b"\x1f\x8b":  # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=member)  # type: ignore[return-value]
    return member


def scan_elf(archive: Path, tree: FileTree | None = None) -> ElfScan:
    """Facts of every ELF regular file of every layer; with ``tree``, only the surviving
    version of each path (hard links in the tree get their target's facts)."""
    out = ElfScan()
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for index, name in enumerate(manifest[0]["Layers"]):
            tar = TarStream(_layer_stream(outer, name))
            for header in tar:
                path = image_path(header.name)
                if path is None or header.type not in _TYPES or header.size < 64:
                    continue
                if tree is not None:
                    node = tree.get(path)
                    if node is None or node.layer != index or node.kind != "file":
                        continue
                head = tar.read(min(header.size, HEAD))
                if not head.startswith(ELF_MAGIC):
                    continue
                start = time.perf_counter()
                facts = read_elf_facts(head, tar.read, header.size)
                out.seconds += time.perf_counter() - start
                out.calls += 1
                if facts is not None:
                    out.facts[path] = facts
                    if facts.incomplete:
                        out.incomplete.append((path, facts.incomplete))
    if tree is not None:
        for node in tree:
            if node.kind == "hardlink" and node.link in out.facts:
                out.facts[node.path] = out.facts[node.link]
    return out
