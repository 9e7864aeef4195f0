#!/usr/bin/env python3
"""Memory per tar entry: the peak RSS of ``auditor scan`` on an image of N entries.

    python3 benchmarks/bench_entries.py [--entries 1000000] [--layers 2] [--command scan]

Builds a ``docker save`` archive in a temporary directory whose layers hold N entries in
all (directories of 1,000 small files with package-like names, as a big node_modules or
site-packages has, plus a few links), scans it in a child process (``-f json``, report
to /dev/null; the archive on its standard input by default, ``--via file`` to read it
mapped) and prints the child's peak RSS, and the same for a small image of the same
shape; the difference over the difference in entries is the memory one entry costs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PER_DIR = 1000
BLOCK = 512


def _header(name: str, kind: bytes, size: int = 0, link: str = "", mode: int = 0o644) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode, info.mtime = kind, size, link, mode, 1700000000
    return info.tobuf(tarfile.PAX_FORMAT)


def layer_tar(path: Path, first: int, count: int, index: int) -> str:
    """A layer of ``count`` entries written to ``path``; its sha256 (the diff_id)."""
    h = hashlib.sha256()
    with open(path, "wb") as out:
        def put(data: bytes) -> None:
            out.write(data)
            h.update(data)

        content = b"x" * 100
        padded = content + bytes(-len(content) % BLOCK)
        for i in range(first, first + count):
            directory = f"usr/lib/node_modules/pkg-{index}-{i // PER_DIR:05d}"
            if i % PER_DIR == 0:
                put(_header(directory, tarfile.DIRTYPE, mode=0o755))
                continue
            name = f"{directory}/lib/module-{i % PER_DIR:04d}.js"
            if i % 50 == 1:
                put(_header(name, tarfile.SYMTYPE, link="../index.js", mode=0o777))
            else:
                put(_header(name, tarfile.REGTYPE, size=len(content)))
                put(padded)
        put(bytes(2 * BLOCK))
    return "sha256:" + h.hexdigest()


def build_archive(where: Path, entries: int, layers: int) -> Path:
    per_layer = -(-entries // layers)
    diff_ids, names = [], []
    for n in range(layers):
        blob = where / f"layer{n}.tar"
        count = min(per_layer, entries - n * per_layer)
        diff_ids.append(layer_tar(blob, n * per_layer, count, n))
        names.append(f"{diff_ids[-1][7:]}/layer.tar")
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"User": "1000", "Cmd": ["node"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"layer {n}"} for n in range(layers)]}
                        ).encode()
    archive = where / "image.tar"
    with tarfile.open(archive, "w") as tf:
        def add(name: str, data: bytes | None = None, file: Path | None = None) -> None:
            if file is not None:
                tf.add(file, arcname=name)
                return
            assert data is not None
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        cfg_name = hashlib.sha256(config).hexdigest() + ".json"
        add(cfg_name, config)
        for n, name in enumerate(names):
            add(name, file=where / f"layer{n}.tar")
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": ["bench:entries"],
                                          "Layers": names}]).encode())
    for n in range(layers):
        (where / f"layer{n}.tar").unlink()
    return archive


def peak_rss(archive: Path, command: str, via: str) -> tuple[int, float]:
    """The peak RSS (bytes) and wall time of one auditor run on ``archive``."""
    source = "docker-archive:-" if via == "stdin" else str(archive)
    argv = [sys.executable, "-m", "auditor", command, source, "--no-progress"]
    if command == "scan":
        argv += ["-f", "json", "--policy", "dev"]
    stdin = str(archive) if via == "stdin" else os.devnull
    # a fresh process for each run: ru_maxrss of the children is the largest child's
    code = (f"import resource, subprocess, sys; p = subprocess.run({argv!r}, "
            f"stdin=open({stdin!r}, 'rb'), stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.exit(0 if p.returncode in (0, 1) else p.returncode)")
    start = time.perf_counter()
    # run where the archive is: ``-m`` puts the working directory first on sys.path, and
    # the auditor measured is the one PYTHONPATH (or the installed package) names
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=archive.parent)
    return int(out.stdout.strip()) * 1024, time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000, help="entries of the baseline image")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--command", choices=("scan", "ls"), default="scan")
    ap.add_argument("--via", choices=("stdin", "file"), default="stdin",
                    help="read the archive as a stream (default: what entries cost, with "
                    "no mapped file pages in the RSS) or as a file (memory-mapped: the "
                    "RSS also holds the archive's pages the walk has not handed back)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-entries-") as tmp:
        rows = []
        for n in (args.small, args.entries):
            where = Path(tmp, str(n))
            where.mkdir()
            archive = build_archive(where, n, args.layers)
            rss, took = peak_rss(archive, args.command, args.via)
            rows.append((n, rss, took))
            print(f"{n:>9} entries: peak RSS {rss / 1e6:7.1f} MB, {took:5.1f} s "
                  f"({os.path.getsize(archive) / 1e6:.0f} MB archive)")
            archive.unlink()
    (small, small_rss, _), (big, big_rss, _) = rows
    per_entry = (big_rss - small_rss) / (big - small)
    print(f"memory per entry: {per_entry:.0f} bytes ({args.command}, {args.layers} layers, "
          f"read from {args.via})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
