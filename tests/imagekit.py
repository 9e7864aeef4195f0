"""Write small real image archives and layouts in tests: docker save (legacy and the
OCI-in-tar form of Docker 25+), OCI layout directories and archives, any compression."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(layers: Sequence[bytes], *, user: str = "", cmd: Sequence[str] = ("sh",),
               history: Sequence[str] | None = None, **extra: Any) -> bytes:
    hist = [{"created_by": h} for h in (history or [f"layer {i}" for i in range(len(layers))])]
    doc = {"architecture": "amd64", "os": "linux",
           "config": {"User": user, "Cmd": list(cmd), **extra},
           "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in layers]},
           "history": hist}
    return json.dumps(doc).encode()


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def docker_save(path: Path, layers: Sequence[bytes], *, tags: Sequence[str] = ("test:latest",),
                oci: bool = False, podman: bool = False, config: bytes | None = None,
                extra_images: Sequence[tuple[Sequence[bytes], Sequence[str]]] = (),
                layers_reversed: bool = False) -> Path:
    """A ``docker save`` archive; ``oci=True`` writes what Docker 25+ writes, ``podman=True``
    what podman's does (``<diff_id>.tar`` members). ``layers_reversed`` writes the layers
    last first (Docker 25+ writes its blobs in digest order, not the image's)."""
    with tarfile.open(path, "w") as tf:
        manifest = []
        for lays, tgs, cfg in [(layers, tags, config), *[(a, b, None) for a, b in extra_images]]:
            cfg = cfg or config_for(lays)
            if oci:
                cfg_name = "blobs/sha256/" + sha(cfg)[7:]
                names = ["blobs/sha256/" + sha(layer)[7:] for layer in lays]
            elif podman:
                cfg_name = sha(cfg)[7:] + ".json"
                names = [f"{sha(layer)[7:]}.tar" for layer in lays]
            else:
                cfg_name = sha(cfg)[7:] + ".json"
                names = [f"{sha(layer)[7:]}/layer.tar" for layer in lays]
            _add(tf, cfg_name, cfg)
            pairs = list(zip(names, lays, strict=True))
            for name, layer in reversed(pairs) if layers_reversed else pairs:
                if name not in tf.getnames():  # two layers of the same bytes: one member
                    _add(tf, name, layer)
            manifest.append({"Config": cfg_name, "RepoTags": list(tgs), "Layers": names})
        if oci:
            _add(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            _add(tf, "index.json", b'{"schemaVersion": 2, "manifests": []}')
        _add(tf, "manifest.json", json.dumps(manifest).encode())
    return path


def compress(data: bytes, how: str) -> tuple[bytes, str]:
    if how == "gzip":
        return gzip.compress(data, mtime=0), OCI_LAYER + "+gzip"
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data), OCI_LAYER + "+zstd"
    return data, OCI_LAYER


class OciLayout:
    """An OCI image layout being written to a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes) -> dict[str, Any]:
        digest = sha(data)
        (self.root / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return {"digest": digest, "size": len(data)}

    def image(self, layers: Sequence[bytes], compression: str = "none",
              config: bytes | None = None, platform: str | None = None,
              ref: str | None = None) -> dict[str, Any]:
        cfg = config or config_for(layers)
        layer_descs = []
        for layer in layers:
            data, media = compress(layer, compression)
            layer_descs.append({"mediaType": media, **self.blob(data)})
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, **self.blob(cfg)}, "layers": layer_descs}
        desc: dict[str, Any] = {"mediaType": OCI_MANIFEST,
                                **self.blob(json.dumps(manifest).encode())}
        if platform:
            os_, arch, *variant = platform.split("/")
            desc["platform"] = {"os": os_, "architecture": arch,
                                **({"variant": variant[0]} if variant else {})}
        if ref:
            desc["annotations"] = {"org.opencontainers.image.ref.name": ref}
        return desc

    def index(self, manifests: Sequence[dict[str, Any]], nested: bool = False,
              ref: str | None = None) -> None:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(manifests)}
        if nested:
            inner = {"mediaType": OCI_INDEX, **self.blob(json.dumps(doc).encode())}
            if ref:
                inner["annotations"] = {"org.opencontainers.image.ref.name": ref}
            doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [inner]}
        (self.root / "index.json").write_text(json.dumps(doc))

    def archive(self, path: Path) -> Path:
        with tarfile.open(path, "w") as tf:
            for dirpath, _dirs, files in os.walk(self.root):
                for name in sorted(files):
                    full = Path(dirpath) / name
                    tf.add(full, arcname=str(full.relative_to(self.root)))
        return path


def containerd_save(path: Path, layers: Sequence[bytes], compression: str = "gzip", *,
                    tag: str = "test:latest", junk: bytes | None = None) -> tuple[Path, str]:
    """What ``docker save`` writes from the containerd image store: compressed blobs in an
    OCI layout, the image's own index (its platform manifest and an ``unknown/unknown``
    attestation manifest) nested in index.json, and a manifest.json naming the blobs.
    Members come in the engine's order (blobs first). ``junk`` is an extra blob no
    manifest names. Returns the archive and the image Id the engine would report (the
    digest of the image's index)."""
    root = path.parent / (path.name + ".layout")
    layout = OciLayout(root)
    desc = layout.image(layers, compression, platform="linux/amd64")
    manifest = json.loads((root / "blobs" / "sha256" / desc["digest"][7:]).read_bytes())
    statement = layout.blob(b'{"_type": "https://in-toto.io/Statement/v0.1"}')
    attestation = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                   "config": {"mediaType": OCI_CONFIG, **layout.blob(b"{}")},
                   "layers": [{"mediaType": "application/vnd.in-toto+json", **statement}]}
    att_desc = {"mediaType": OCI_MANIFEST, **layout.blob(json.dumps(attestation).encode()),
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                "vnd.docker.reference.digest": desc["digest"]}}
    layout.index([desc, att_desc], nested=True, ref=tag.rpartition(":")[2])
    if junk is not None:
        layout.blob(junk)
    image_id = json.loads((root / "index.json").read_text())["manifests"][0]["digest"]
    (root / "manifest.json").write_text(json.dumps([{
        "Config": "blobs/sha256/" + manifest["config"]["digest"][7:], "RepoTags": [tag],
        "Layers": ["blobs/sha256/" + d["digest"][7:] for d in manifest["layers"]]}]))
    with tarfile.open(path, "w") as tf:
        for name in sorted(os.listdir(root / "blobs" / "sha256")):
            tf.add(root / "blobs" / "sha256" / name, arcname=f"blobs/sha256/{name}")
        for name in ("index.json", "manifest.json", "oci-layout"):
            tf.add(root / name, arcname=name)
    return path, image_id
