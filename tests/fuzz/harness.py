"""Run the real command line on one fuzzed input, bounded, and check what it did.

Each run is ``auditor.cli.main(argv)`` in a child forked from the test process (the
modules are imported once, so a run costs what the scan costs, not an interpreter start),
with its own stdin, stdout and stderr files, an address-space limit set in the child
before ``main`` runs, and a wall-clock bound after which the parent kills it. The contract
every run must keep (issue 11): exit 0 or 1 with a parseable report, or exit 2 with
exactly one ``error:`` line on stderr; never a traceback, never past its time bound,
never out of memory.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The bounds of one run. The fuzzing ran each input under `timeout 60` and 3 GiB
# of address space. Every input here is a few kilobytes and every sound run of one takes
# well under a second, so CI's bound is 10 s (a hang costs that much of its budget); a long
# run (AUDITOR_FUZZ_EXAMPLES) uses the 60 s.
LONG_RUN = bool(int(os.environ.get("AUDITOR_FUZZ_EXAMPLES", "0") or "0"))
RUN_SECONDS = float(os.environ.get("AUDITOR_FUZZ_RUN_SECONDS", "60" if LONG_RUN else "10"))
ADDRESS_SPACE = int(os.environ.get("AUDITOR_FUZZ_ADDRESS_SPACE", str(3 << 30)))
TRACEBACK_EXIT = 70  # what the child exits with when main() raised: a traceback


def preload() -> None:
    """Import what every run imports, once, before the first fork."""
    import auditor.audit
    import auditor.cli
    import auditor.fixes.attribution
    import auditor.fixes.rewrite
    import auditor.policy
    import auditor.reports
    from auditor.detectors import load_detectors

    load_detectors()
    del auditor


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    code: int | None  # None: killed at the time bound
    stdout: bytes
    stderr: bytes
    seconds: float
    max_rss_kib: int

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "backslashreplace")

    def signature(self, problem: str) -> str:
        """The problem, the innermost auditor frame and the last stderr line: the same
        defect met by many inputs has one signature."""
        lines = self.err.strip().splitlines()
        frames = [line.strip() for line in lines if line.strip().startswith("File ")
                  and "/auditor/" in line]
        where = frames[-1].split("/auditor/", 1)[1] if frames else ""
        return " | ".join(p for p in (problem, where, lines[-1][:200] if lines else "") if p)

    def describe(self) -> str:
        return (f"auditor {' '.join(self.argv)}: exit {self.code} after {self.seconds:.1f} s, "
                f"{self.max_rss_kib // 1024} MiB; stderr:\n{self.err[-3000:]}")


def _child(argv: Sequence[str], stdin: Path, stdout: Path, stderr: Path) -> None:
    """In the forked child: never returns."""
    code = TRACEBACK_EXIT
    try:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        for fd, path, flags in ((0, stdin, os.O_RDONLY),
                                (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        # the test process's streams are pytest's captures: give main() real ones
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from auditor.cli import main

        code = main(list(argv))
    except SystemExit as exc:  # argparse's --help and the like
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_cli(argv: Sequence[str], stdin: bytes = b"", seconds: float = RUN_SECONDS) -> Outcome:
    preload()
    with tempfile.TemporaryDirectory(prefix="auditor-fuzz-") as tmp:
        paths = [Path(tmp, name) for name in ("stdin", "stdout", "stderr")]
        paths[0].write_bytes(stdin)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _child(argv, *paths)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(seconds, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(pid, 0)
        finally:
            timer.cancel()
        elapsed = time.monotonic() - start
        code = None if killed.is_set() else os.waitstatus_to_exitcode(status)
        return Outcome(tuple(argv), code, paths[1].read_bytes(), paths[2].read_bytes(),
                       elapsed, usage.ru_maxrss)


def contract_problem(out: Outcome, report: str | None = "json") -> str | None:
    """Why ``out`` breaks the contract, or None. ``report``: what stdout holds on exit
    0/1: "json" (an auditor report), "sarif" (a SARIF log), "jsonl" (one JSON document a
    line), or None (any text)."""
    if out.code is None:
        return f"still running after {out.seconds:.0f} s (killed)"
    if "Traceback (most recent call last)" in out.err or out.code == TRACEBACK_EXIT:
        return "a traceback"
    if out.code in (0, 1):
        return _report_problem(out.stdout, report)
    if out.code == 2:
        lines = out.err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return f"exit 2 with {len(lines)} stderr lines, not one `error:` line"
        if "out of memory" in lines[0]:
            return f"ran out of its {ADDRESS_SPACE >> 20} MiB of address space"
        return None
    return f"exit code {out.code}"


def _report_problem(stdout: bytes, report: str | None) -> str | None:
    if report is None:
        return None
    try:
        text = stdout.decode("utf-8")
        docs = [json.loads(text)] if report in ("json", "sarif") else [
            json.loads(line) for line in text.splitlines()]
    except (UnicodeDecodeError, ValueError) as exc:
        return f"exit 0/1 but stdout is not {report}: {exc}"
    if report == "json" and docs[0].get("schema") != "auditor/report/v1":
        return "exit 0/1 but the JSON is not an auditor report"
    if report == "sarif" and docs[0].get("version") != "2.1.0":
        return "exit 0/1 but the JSON is not a SARIF 2.1.0 log"
    return None
