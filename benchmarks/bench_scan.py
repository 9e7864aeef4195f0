#!/usr/bin/env python3
"""Time `auditor scan` against dive and `docker save` on the same image; print the numbers.

    DOCKER_HOST=unix:///tmp/auditor-engine/docker.sock python3 benchmarks/bench_scan.py

Goals (issue "Read any built image"): on a Go toolchain image of about 750-900 MB saved
with `docker save`, `auditor scan docker-archive:X --format json` takes at most dive's
wall time (`dive --ci --source docker-archive X`), with peak memory under 150 MB; from the
engine, `auditor scan IMAGE` takes at most 1.1 x `docker save IMAGE > /dev/null`.
Each command runs --repeat times (default 3); the median wall time and the largest peak
RSS are reported. The image is built from benchmarks/go-toolchain/ when it is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE = "auditor-bench/go-toolchain:latest"


def measure(label: str, cmd: list[str] | str, repeat: int, cwd: str | None = None
            ) -> dict[str, float]:
    """Median and least wall time over ``repeat`` runs, and the largest peak RSS."""
    walls, peak_kib = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, shell=isinstance(cmd, str), cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # wait4 gives this child's own resource use, its peak memory included
        _pid, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # 1 is a scan whose image failed its policy: a result
            err = proc.stderr.read().decode() if proc.stderr else ""
            sys.exit(f"bench: {label} failed ({code}): {err[-500:]}")
        peak_kib = max(peak_kib, usage.ru_maxrss)
    result = {"median_s": statistics.median(walls), "min_s": min(walls),
              "peak_mb": peak_kib / 1024}
    print(f"{label:<44} median {result['median_s']:6.2f} s  min {result['min_s']:6.2f} s  "
          f"peak {result['peak_mb']:6.1f} MB", flush=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--image", default=IMAGE)
    args = ap.parse_args()
    if subprocess.run(["docker", "image", "inspect", args.image], capture_output=True).returncode:
        print(f"building {args.image} from benchmarks/go-toolchain/", flush=True)
        subprocess.run(["docker", "build", "-q", "--network", "host", "-t", args.image,
                        str(HERE / "go-toolchain")], check=True, stdout=subprocess.DEVNULL)
    auditor = [sys.executable, "-m", "auditor"]
    with tempfile.TemporaryDirectory(prefix="auditor-bench.") as tmp:
        archive = os.path.join(tmp, "image.tar")
        subprocess.run(["docker", "save", args.image, "-o", archive], check=True)
        size = os.path.getsize(archive)
        print(f"image {args.image}: docker save archive {size / 1e6:.0f} MB; "
              f"{os.cpu_count()} cores; repeat {args.repeat}", flush=True)
        ours = measure("auditor scan docker-archive:X --format json",
                       [*auditor, "scan", f"docker-archive:{archive}", "--format", "json",
                        "--no-progress"], args.repeat)
        tree = measure("auditor ls docker-archive:X (no detectors)",
                       [*auditor, "ls", archive, "--no-progress"], args.repeat)
        dive = None
        if shutil.which("dive"):
            dive = measure("dive --ci --source docker-archive X",
                           ["dive", "--ci", "--source", "docker-archive", archive],
                           args.repeat, cwd=tmp)
        save = measure("docker save IMAGE > /dev/null",
                       f"docker save {args.image} > /dev/null", args.repeat)
        engine = measure("auditor scan IMAGE --format json (engine)",
                         [*auditor, "scan", args.image, "--format", "json", "--no-progress"],
                         args.repeat)
    print()
    if dive:
        ratio = ours["median_s"] / dive["median_s"]
        print(f"archive: auditor/dive wall ratio {ratio:.2f} (goal <= 1.00): "
              f"{'met' if ratio <= 1 else 'NOT met'}")
    print(f"archive: auditor peak memory {ours['peak_mb']:.0f} MB (goal < 150 MB): "
          f"{'met' if ours['peak_mb'] < 150 else 'NOT met'}")
    ratio = engine["median_s"] / save["median_s"]
    print(f"engine: auditor/docker-save wall ratio {ratio:.2f} (goal <= 1.10): "
          f"{'met' if ratio <= 1.1 else 'NOT met'}")
    print(f"tree only (no detectors): {tree['median_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
