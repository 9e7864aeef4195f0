#!/usr/bin/env python3
"""Time `auditor scan registry:...` against what a user does today and against syft.

    python3 benchmarks/bench_registry.py [--archive /work/snap/go-single.tar] [--repeat 3]

A loopback registry (Debian's docker-registry, as the tests run it) gets the Go toolchain
image pushed with gzip layers by skopeo. Goals (issue 15), measured in the same run:
`auditor scan registry:R` at most 0.7 x (`skopeo copy docker://R oci:DIR` then
`auditor scan oci-dir:DIR`), at most 0.5 x `syft scan registry:R`, peak memory < 150 MB.
Ratios are medians of neighbouring pairs (as bench_scan.py pairs its runs). The image is
saved from the engine (benchmarks/go-toolchain, built when missing) unless --archive.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench_scan import IMAGE, Series, paired  # noqa: E402
from tests.registry.kit import running  # noqa: E402


def image_archive(args: argparse.Namespace, tmp: str) -> str:
    if args.archive:
        return str(args.archive)
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        print(f"building {IMAGE} from benchmarks/go-toolchain/", flush=True)
        subprocess.run(["docker", "build", "-q", "--network", "host", "-t", IMAGE,
                        str(HERE / "go-toolchain")], check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(tmp, "image.tar")
    subprocess.run(["docker", "save", IMAGE, "-o", path], check=True)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--archive", type=Path, help="a docker save archive to push instead")
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "auditor")],
                   check=True)
    auditor = [sys.executable, "-m", "auditor"]
    with tempfile.TemporaryDirectory(prefix="auditor-bench-registry.") as tmp, \
            running(Path(tmp), "plain") as registry:
        archive = image_archive(args, tmp)
        source = registry.push(archive, "bench/go:gzip", "v2s2", "gzip")
        remote = source.removeprefix("registry:")
        pushed = sum(f.stat().st_size for f in (registry.storage).rglob("data"))
        print(f"pushed {archive} to {remote}: {pushed / 1e6:.0f} MB stored; "
              f"{os.cpu_count()} cores; repeat {args.repeat}", flush=True)
        ours_cmd = [*auditor, "scan", source, "--format", "json", "--no-progress"]
        layout = os.path.join(tmp, "layout")
        today = (f"rm -rf {layout} && skopeo copy -q --src-tls-verify=false docker://{remote} "
                 f"oci:{layout} && {' '.join(auditor)} scan oci-dir:{layout} --format json "
                 "--no-progress")
        ours = Series("auditor scan registry:R --format json")
        copied = Series("skopeo copy + auditor scan oci-dir:")
        ours.run(ours_cmd)  # warm-up: the registry's blobs into the page cache
        today_ratio = paired(ours, copied, ours_cmd, today, args.repeat)
        syft_ratio = None
        syft = Series("syft scan registry:R -o json")
        if shutil.which("syft"):
            env = "SYFT_REGISTRY_INSECURE_USE_HTTP=true SYFT_CHECK_FOR_APP_UPDATE=false"
            theirs = f"{env} syft scan -q registry:{remote} -o json > /dev/null"
            syft_ratio = paired(ours, syft, ours_cmd, theirs, args.repeat)
    for series in (ours, copied, syft):
        if series.walls:
            print(series.line())
    print()
    print(f"auditor registry / (skopeo copy + scan oci-dir) wall ratio {today_ratio:.2f} "
          f"(goal <= 0.70): {'met' if today_ratio <= 0.7 else 'NOT met'}")
    if syft_ratio is not None:
        print(f"auditor registry / syft wall ratio {syft_ratio:.2f} (goal <= 0.50): "
              f"{'met' if syft_ratio <= 0.5 else 'NOT met'}")
    print(f"auditor registry peak memory {ours.peak_mb:.0f} MB (goal < 150 MB): "
          f"{'met' if ours.peak_mb < 150 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
