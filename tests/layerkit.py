"""Build small real layer tars in tests, and read them back through the real code path.

``layer(...)`` writes an uncompressed tar in memory from simple specs; ``tree_of(...)``
scans and squashes a list of such layers exactly as an image source would.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditor.filetree import FileTree, squash_layers
from auditor.model.image import HistoryEntry, Image, ImageConfig, LayerScan
from auditor.read.digests import HashingReader
from auditor.read.layers import CaptureBudget, scan_layer_tar
from auditor.read.wants import ContentWants, Want


@dataclass
class F:
    """A regular file."""
    path: str
    content: bytes | str = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass
class D:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass
class L:
    """A symbolic link."""
    path: str
    target: str


@dataclass
class H:
    """A hard link to an earlier file of the same layer."""
    path: str
    target: str


@dataclass
class W:
    """A whiteout: deletes ``path`` from the layers below."""
    path: str


@dataclass
class Opaque:
    """An opaque-directory marker for ``path``."""
    path: str


Spec = F | D | L | H | W | Opaque


def layer(*specs: Spec, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for spec in specs:
            if isinstance(spec, W | Opaque):
                parent, _, base = spec.path.rstrip("/").rpartition("/")
                name = (f"{parent}/.wh.{base}" if isinstance(spec, W)
                        else f"{spec.path.rstrip('/')}/.wh..wh..opq")
                info = tarfile.TarInfo(name.lstrip("/"))
                tf.addfile(info, io.BytesIO(b""))
                continue
            info = tarfile.TarInfo(spec.path.lstrip("/"))
            data = b""
            if isinstance(spec, F):
                data = spec.content.encode() if isinstance(spec.content, str) else spec.content
                info.size, info.mode, info.uid, info.gid = len(data), spec.mode, spec.uid, spec.gid
            elif isinstance(spec, D):
                info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, spec.mode, spec.uid, \
                    spec.gid
            elif isinstance(spec, L):
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, spec.target, 0o777
            elif isinstance(spec, H):
                info.type, info.linkname = tarfile.LNKTYPE, spec.target.lstrip("/")
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def scan(raw: bytes, index: int = 0, wants: Iterable[Want] = (),
         executable_prefix: int = 1024) -> LayerScan:
    reader = HashingReader(io.BytesIO(raw))
    entries, skipped = scan_layer_tar(io.BufferedReader(reader),  # type: ignore[arg-type]
                                      index, ContentWants(wants, executable_prefix),
                                      CaptureBudget(1 << 30))
    return LayerScan(index=index, digest=reader.digest(), blob_digest=reader.digest(),
                     media_type="application/vnd.oci.image.layer.v1.tar", blob_size=len(raw),
                     tar_size=len(raw), entries=entries, skipped=skipped)


def scans_of(layers: Sequence[bytes | Sequence[Spec]], wants: Iterable[Want] = ()
             ) -> list[LayerScan]:
    wants = list(wants) or [Want("/**", 1 << 20)]  # tests keep every small file whole
    out = []
    for i, item in enumerate(layers):
        raw = item if isinstance(item, bytes) else layer(*item)
        out.append(scan(raw, i, wants))
    return out


def tree_of(*layers: bytes | Sequence[Spec], wants: Iterable[Want] = ()) -> FileTree:
    return squash_layers(scans_of(layers, wants))


def image_of(*layers: bytes | Sequence[Spec], config: ImageConfig | None = None,
             history: Sequence[str] | None = None, wants: Iterable[Want] = ()) -> Image:
    scans = scans_of(layers, wants)
    config = config or ImageConfig()
    if history is not None and not config.history:
        from dataclasses import replace
        config = replace(config, history=tuple(HistoryEntry(h, False) for h in history))
    return Image(reference="test:latest", id="sha256:" + "0" * 64, source="test",
                 config=config, layers=tuple(scans))
