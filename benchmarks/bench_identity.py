#!/usr/bin/env python3
"""What recognising tools by content costs a scan; print the numbers.

    python3 benchmarks/bench_identity.py IMAGE.tar [--repeat 3]

IMAGE.tar is a `docker save` archive (a big one: `docker save auditor-fixture/go-single`,
1.3 GB with gcc, Go, Python and Node). The scan runs in this process, alternately as it
ships and with the identity search switched off (`read.elf.SCAN_BYTES = 0`: no read-only
data collected), and prints the median wall and CPU time of each, their difference, and what
the search itself did: executables searched, bytes searched and the seconds spent matching.
Goal (issue 12): the search adds at most a few percent to a scan of such an image.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import auditor.read.elf as elf
from auditor.cli import main

SHIPPED = elf.SCAN_BYTES
# auditor writes reports only to regular files (not /dev/null): one thrown-away file.
REPORT = Path(tempfile.mkdtemp(prefix="bench-identity-")) / "report.json"


class Counted:
    """Wraps read.elf's identify: how many calls, bytes and seconds."""

    def __init__(self) -> None:
        self.calls = 0
        self.bytes = 0
        self.seconds = 0.0
        self.inner = elf.identify

    def __call__(self, data: bytes) -> tuple[tuple[str, str], ...]:
        start = time.perf_counter()
        found = self.inner(data)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.bytes += len(data)
        return found


def scan(archive: str, scan_bytes: int) -> tuple[float, float]:
    """Wall and CPU seconds (all of this process's threads) of one scan."""
    elf.SCAN_BYTES = scan_bytes
    start, cpu = time.perf_counter(), time.process_time()
    code = main(["scan", f"docker-archive:{archive}", "-o", f"json={REPORT}"])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if code not in (0, 1):
        sys.exit(f"bench: scan failed ({code})")
    return wall, cpu


def main_bench() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("archive")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counted = Counted()
    elf.identify = counted  # type: ignore[assignment]
    scan(args.archive, SHIPPED)  # warm the page cache and the imports
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    for _ in range(args.repeat):
        off.append(scan(args.archive, 0))
        counted.calls = counted.bytes = 0
        counted.seconds = 0.0
        on.append(scan(args.archive, SHIPPED))
    for what, i in (("wall", 0), ("CPU", 1)):
        with_search = statistics.median(r[i] for r in on)
        without = statistics.median(r[i] for r in off)
        print(f"{what}: {without:.2f} s without the identity search, {with_search:.2f} s "
              f"with it (medians of {args.repeat}): {with_search - without:+.2f} s, "
              f"{(with_search - without) / without * 100:+.1f} %")
    print(f"one scan searched {counted.calls} executables, {counted.bytes / 1e6:.1f} MB of "
          f"read-only data, in {counted.seconds:.2f} s of matching")


if __name__ == "__main__":
    try:
        main_bench()
    finally:
        shutil.rmtree(REPORT.parent, ignore_errors=True)
