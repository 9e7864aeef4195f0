#!/usr/bin/env python3
"""Time `auditor scan` against dive and `docker save` on the same image; print the numbers.

    DOCKER_HOST=unix:///tmp/auditor-engine/docker.sock python3 benchmarks/bench_scan.py

Goals (issue "Read any built image"): on a Go toolchain image of about 750-900 MB saved
with `docker save`, `auditor scan docker-archive:X --format json` takes at most dive's
wall time (`dive --ci --source docker-archive X`), with peak memory under 150 MB; from the
engine, `auditor scan IMAGE` takes at most 1.1 x `docker save IMAGE > /dev/null`.
Each command runs --repeat times (default 3), alternating with the peer it is compared
with; the ratio reported is the median of those neighbouring pairs (the engine's time to
its first byte drifts by seconds from run to run). Median and least wall time and the
largest peak RSS of each command are printed too. The image is built from
benchmarks/go-toolchain/ when it is missing.
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


def run_once(label: str, cmd: list[str] | str, cwd: str | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=isinstance(cmd, str), cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait4 gives this child's own resource use, its peak memory included
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1 is a scan whose image failed its policy: a result
        err = proc.stderr.read().decode() if proc.stderr else ""
        sys.exit(f"bench: {label} failed ({code}): {err[-500:]}")
    return wall, usage.ru_maxrss / 1024


class Series:
    """Every run of one command: median and least wall time, largest peak RSS."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.walls: list[float] = []
        self.peak_mb = 0.0

    def run(self, cmd: list[str] | str, cwd: str | None = None) -> float:
        wall, peak = run_once(self.label, cmd, cwd)
        self.walls.append(wall)
        self.peak_mb = max(self.peak_mb, peak)
        return wall

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def line(self) -> str:
        return (f"{self.label:<44} median {self.median:6.2f} s  min {min(self.walls):6.2f} s  "
                f"peak {self.peak_mb:6.1f} MB")


def paired(a: Series, b: Series, cmd_a: list[str] | str, cmd_b: list[str] | str,
           repeat: int, cwd: str | None = None) -> float:
    """Run a and b in alternation ``repeat`` times; the median of the a/b ratios. The
    engine's time to its first byte drifts by seconds between runs, so each ratio
    compares neighbours, not runs minutes apart."""
    ratios = []
    for _ in range(repeat):
        ratios.append(a.run(cmd_a, cwd) / b.run(cmd_b, cwd))
    return statistics.median(ratios)


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
    # Bytecode, as an installed package has it: this checkout is an editable install, and
    # with PYTHONDONTWRITEBYTECODE set (as on the development machines) every run would
    # compile every module from source again (about 0.1 s).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "auditor")],
                   check=True)
    with tempfile.TemporaryDirectory(prefix="auditor-bench.") as tmp:
        archive = os.path.join(tmp, "image.tar")
        subprocess.run(["docker", "save", args.image, "-o", archive], check=True)
        size = os.path.getsize(archive)
        print(f"image {args.image}: docker save archive {size / 1e6:.0f} MB; "
              f"{os.cpu_count()} cores; repeat {args.repeat}", flush=True)
        scan_archive = [*auditor, "scan", f"docker-archive:{archive}", "--format", "json",
                        "--no-progress"]
        run_once("warm-up", scan_archive)  # the archive into the page cache, as for dive
        ours = Series("auditor scan docker-archive:X --format json")
        dive = Series("dive --ci --source docker-archive X")
        dive_ratio = None
        if shutil.which("dive"):
            dive_ratio = paired(ours, dive, scan_archive,
                                ["dive", "--ci", "--source", "docker-archive", archive],
                                args.repeat, cwd=tmp)
        else:
            for _ in range(args.repeat):
                ours.run(scan_archive)
        verified = Series("auditor scan ... --verify (layer digests)")
        for _ in range(args.repeat):
            verified.run([*scan_archive, "--verify"])
        tree = Series("auditor ls docker-archive:X (no detectors)")
        for _ in range(args.repeat):
            tree.run([*auditor, "ls", archive, "--no-progress"])
        engine = Series("auditor scan IMAGE --format json (engine)")
        save = Series("docker save IMAGE > /dev/null")
        engine_ratio = paired(engine, save,
                              [*auditor, "scan", args.image, "--format", "json", "--no-progress"],
                              f"docker save {args.image} > /dev/null", args.repeat)
    for series in (ours, dive, verified, tree, save, engine):
        if series.walls:
            print(series.line())
    print()
    if dive_ratio is not None:
        print(f"archive: auditor/dive wall ratio {dive_ratio:.2f} (median of paired runs; "
              f"goal <= 1.00): {'met' if dive_ratio <= 1 else 'NOT met'}")
    print(f"archive: auditor peak memory {ours.peak_mb:.0f} MB (goal < 150 MB): "
          f"{'met' if ours.peak_mb < 150 else 'NOT met'}")
    print(f"engine: auditor/docker-save wall ratio {engine_ratio:.2f} (median of paired runs; "
          f"goal <= 1.10): {'met' if engine_ratio <= 1.1 else 'NOT met'}")
    print(f"tree only (no detectors): {tree.median:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
