"""What every source produces: the image config, its history, and its scanned layers.

A source reads each layer exactly once, as a stream, and keeps only the tar headers plus
the bounded content prefixes that later steps declared up front (see ``ContentWants``).
That single pass is what lets the engine source parse ``docker save`` while it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import FormatError
from auditor.model.documents import load_object, opt_dict, opt_list, opt_str

# Entry kinds, as the tar header says them, in words.
FILE, DIR, SYMLINK, HARDLINK, CHAR, BLOCK, FIFO = (
    "file", "dir", "symlink", "hardlink", "char", "block", "fifo",
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool
    created: str | None = None
    comment: str | None = None


def _str_tuple(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # some builders write a bare string
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"image config: {what} is not a list of strings")
    return tuple(value)


def _keys(value: Any) -> tuple[str, ...]:
    return tuple(sorted(value)) if isinstance(value, dict) else ()


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of the OCI/Docker image config that auditing uses."""

    user: str = ""
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    shell: tuple[str, ...] | None = None
    os: str = ""
    architecture: str = ""
    history: tuple[HistoryEntry, ...] = ()
    diff_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: bytes) -> ImageConfig:
        doc = load_object(raw, "image config")
        what = "image config"
        conf = doc.get("config") or doc.get("container_config") or {}
        if not isinstance(conf, dict):
            raise FormatError("image config: 'config' is not an object")
        history = []
        for item in opt_list(doc, "history", what):
            if not isinstance(item, dict):
                raise FormatError("image config: a history entry is not an object")
            entry = "image config: a history entry"
            history.append(HistoryEntry(
                created_by=opt_str(item, "created_by", entry) or "",
                empty_layer=bool(item.get("empty_layer", False)),
                created=opt_str(item, "created", entry),
                comment=opt_str(item, "comment", entry),
            ))
        rootfs = opt_dict(doc, "rootfs", what)
        health = conf.get("Healthcheck")
        health_test = _str_tuple(health.get("Test"), "Healthcheck.Test") if isinstance(
            health, dict) else None
        labels = conf.get("Labels") or {}
        return cls(
            user=opt_str(conf, "User", what) or "",
            entrypoint=_str_tuple(conf.get("Entrypoint"), "Entrypoint"),
            cmd=_str_tuple(conf.get("Cmd"), "Cmd"),
            env=_str_tuple(conf.get("Env"), "Env") or (),
            working_dir=opt_str(conf, "WorkingDir", what) or "",
            exposed_ports=_keys(conf.get("ExposedPorts")),
            volumes=_keys(conf.get("Volumes")),
            healthcheck=health_test,
            labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
            stop_signal=opt_str(conf, "StopSignal", what),
            shell=_str_tuple(conf.get("Shell"), "Shell"),
            os=opt_str(doc, "os", what) or "",
            architecture=opt_str(doc, "architecture", what) or "",
            history=tuple(history),
            diff_ids=_str_tuple(rootfs.get("diff_ids"), "rootfs.diff_ids") or (),
        )

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            name, _, value = item.partition("=")
            out[name] = value
        return out

    def layer_history(self, layer_count: int) -> list[HistoryEntry | None]:
        """The history entry that produced each layer, or None where history cannot tell.

        Non-empty history entries map to layers in order. When their count differs from the
        number of layers (squashed or hand-made images) we match nothing rather than guess.
        """
        producing = [h for h in self.history if not h.empty_layer]
        if len(producing) != layer_count:
            return [None] * layer_count
        return list(producing)


@dataclass(slots=True)
class RawEntry:
    """One tar header of one layer, path normalised to an absolute image path.

    The squashed tree keeps these same objects as its entries (``filetree.Node``), its
    ``layer`` set to the layer that wrote it: one object an entry, not two (an image may
    hold millions; docs/guide.md, "Speed and memory"). The tree never changes one after
    it is in the tree, so a layer's entries stay as the layer read them."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    link: str | None
    mtime: int
    data: bytes | None = None  # the captured content prefix, if one was wanted
    elf: Any = None  # auditor.read.elf.ElfFacts for an ELF file, read as it streamed by
    # the index of the layer that wrote it, once squashed (-1: not in a tree yet)
    layer: int = field(default=-1, compare=False)
    # auditor.read.zipstream.ArchiveMembers for a Java archive: its manifests and
    # pom.properties, nested archives' included, read as it streamed by
    archive: Any = field(default=None, compare=False)

    @property
    def is_file(self) -> bool:
        """A regular file, reached by its own name or by a hard link."""
        return self.kind in (FILE, HARDLINK)


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something that could not be read; the scan went on without it (shown in reports)."""

    where: str
    reason: str


@dataclass(slots=True)
class LayerScan:
    """One layer as read: its headers in tar order, and its sizes."""

    index: int
    digest: str  # the diff_id: sha256 of the uncompressed tar
    blob_digest: str
    media_type: str
    blob_size: int
    tar_size: int
    entries: list[RawEntry]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def content_bytes(self) -> int:
        return sum(e.size for e in self.entries if e.kind == FILE)


@dataclass(frozen=True, slots=True)
class Image:
    reference: str
    id: str  # the config digest, as `docker images --no-trunc` shows it
    source: str  # which kind of source it came from (docker, docker-archive, oci-dir, ...)
    config: ImageConfig
    layers: tuple[LayerScan, ...]
    skipped: tuple[Skipped, ...] = ()
    # Digest checks still running in the background (ScanOptions.defer_checks): call
    # wait_checks() before reporting anything about the image.
    pending: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def wait_checks(self) -> None:
        """Return once every layer digest is checked; raise the first mismatch."""
        if self.pending is not None:
            self.pending()

    @property
    def size_bytes(self) -> int:
        return sum(layer.content_bytes for layer in self.layers)
