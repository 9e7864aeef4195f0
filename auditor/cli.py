"""The command line: running the commands, progress, writing the reports, and the one place
errors become exit codes. The flags are built in ``cli_parser``, their values checked in
``cli_values``.

Exit codes: 0 passed (or nothing to judge), 1 failed the policy (``--exit-code N`` changes
it; 0 makes a report-only run), 2 could not run, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from auditor import __version__
from auditor.cli_parser import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PASSED, build_parser
from auditor.cli_values import (
    build_args,
    dockerfile_text,
    ignored_rules,
    platform_of,
    policy_of,
    severities,
)
from auditor.errors import AuditorError, UsageError
from auditor.model.text import inert

if TYPE_CHECKING:
    from auditor.model.result import Report


class _Bar:
    """A bytes-read bar on stderr (rich), fed by the sources' byte counts."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._task = bar.add_task("reading image", total=None)

    def __call__(self, nbytes: int) -> None:
        self._bar.advance(self._task, nbytes)

    def set_total(self, total: int) -> None:
        self._bar.update(self._task, total=total or None)


# While a helper thread hands over chunks (the engine's stream read ahead, layer digests
# hashed beside the walk), the GIL is passed on after 0.5 ms instead of the default 5 ms:
# a thread waiting out the interval after every chunk slows the read tenfold. With one
# thread running, the interval changes nothing, so it is set for the whole command.
GIL_HANDOFF = 0.0005


@contextmanager
def _process_settings() -> Iterator[None]:
    """The process-wide settings a command runs under, set here and only here (library
    code never changes them):

    - No cyclic garbage collection. A command builds hundreds of thousands of objects
      (a node per tree entry, a header per tar member) that live until it ends and form
      no garbage cycles; the cyclic collector, which their allocation keeps triggering,
      would only walk them again and again (a quarter of the squash of a large image,
      tens of milliseconds a scan). Plain reference counting still frees the rest.
    - The short GIL switch interval above.
    """
    collecting = gc.isenabled()
    interval = sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(min(interval, GIL_HANDOFF))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()


@contextmanager
def _progress(enabled: bool) -> Iterator[_Bar | None]:
    """Progress on stderr only when stderr is a terminal; nothing in pipes and CI logs."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with Progress(*Progress.get_default_columns()[:-1], DownloadColumn(),
                  TransferSpeedColumn(), transient=True, console=Console(stderr=True)) as bar:
        yield _Bar(bar)


def _color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def _cmd_scan(args: argparse.Namespace) -> int:
    from auditor.read.engine_wire import start_early

    # Ask the engine for the save before anything else is imported: it prepares the stream
    # for seconds, which pass while the policy and the detectors load. Never raises;
    # argument errors below still come first.
    start_early(args.source)
    from auditor.audit import AuditRequest, audit
    from auditor.cli_outputs import parse_outputs
    from auditor.policy import Baseline
    from auditor.reports import FORMATS

    if args.format not in FORMATS:
        raise UsageError(f"unknown format {args.format!r}; choose one of {', '.join(FORMATS)}")
    # A --format other than the default is what a bare -o FILE or -o - writes.
    outputs = parse_outputs(args.output, FORMATS,
                            None if args.format == "terminal" else args.format)
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code wants 0 to 255, not {args.exit_code}")
    shown = severities(args.severity)
    from auditor.reports import writer

    for fmt in dict.fromkeys([args.format, *(fmt for fmt, _path in outputs)]):
        writer(fmt)  # loaded now, while the engine's first bytes are read ahead
    # Everything that can be wrong with the arguments is found before the image is read.
    request = AuditRequest(
        args.source, platform=platform_of(args.platform), verify=args.verify,
        policy=policy_of(args.policy),
        baseline=Baseline.load(args.baseline) if args.baseline else None,
        fail_under=args.fail_under, fail_on=args.fail_on, ignore=ignored_rules(args.ignore),
        dockerfile_text=dockerfile_text(args.dockerfile), dockerfile=args.dockerfile,
        target=args.target, build_args=build_args(args.build_arg),
        sarif_category=args.sarif_category)
    with _progress(not (args.no_progress or args.quiet)) as progress:
        report = audit(replace(request, progress=progress))
    if report.attribution is not None and report.attribution.mismatch is not None:
        # in every report too (as skipped); here for the person at the terminal
        print(inert(" ".join(f"warning: {args.dockerfile}: {report.attribution.mismatch}"
                             .split())), file=sys.stderr)
    if shown is not None:
        report = report.showing(shown)
    _write_reports(report, outputs, args)
    passed = report.verdict is None or report.verdict.passed
    return EXIT_PASSED if passed else int(args.exit_code)


def _write_reports(report: Report, outputs: Sequence[tuple[str, str]],
                   args: argparse.Namespace) -> None:
    """Each ``-o`` file (plain, 100 columns), then stdout: the ``-o -`` report, else the
    ``--format`` one."""
    from auditor.outputs import STDOUT, written
    from auditor.reports import WriteOptions, writer

    to_stdout = [fmt for fmt, path in outputs if path == STDOUT]
    for fmt, path in outputs:
        if path != STDOUT:
            with written(path) as fh:
                writer(fmt)(report, fh, WriteOptions(color=False, width=100))
    fmt = to_stdout[0] if to_stdout else args.format
    quiet = args.quiet and fmt == "terminal"
    options = WriteOptions(color=_color(args.color, sys.stdout), quiet=quiet)
    with written(STDOUT) as fh:
        writer(fmt)(report, fh, options)


def _cmd_fix(args: argparse.Namespace) -> int:
    from auditor.audit import AuditRequest, fix
    from auditor.outputs import STDOUT, check_target, written
    from auditor.reports import human_bytes

    to_file = args.output not in (None, STDOUT)
    if to_file:
        check_target(args.output)  # before the image is read
    policy = policy_of(args.policy)
    request = AuditRequest(args.source, platform=platform_of(args.platform), verify=args.verify,
                           policy=policy, dockerfile_text=dockerfile_text(args.dockerfile),
                           dockerfile=args.dockerfile, target=args.target,
                           build_args=build_args(args.build_arg))
    with _progress(not (args.no_progress or args.quiet)) as progress:
        done = fix(replace(request, progress=progress), runtime_base=args.runtime_base)
    fixed, result, now = done.rewrite, done.report.result, done.report.verdict
    assert now is not None  # a policy was given
    with written(args.output if to_file else STDOUT) as fh:
        fh.write(fixed.text)
    info = sys.stdout if to_file else sys.stderr
    line = (f"expected: {human_bytes(fixed.expected_bytes)} on {fixed.base} (now "
            f"{human_bytes(result.tree.size_bytes)}, score {now.score} {now.grade})")
    then = done.expected
    if then is not None:
        line += (f"; expected score {then.score} {then.grade}, "
                 f"{'passes' if then.passed else 'fails'} policy {policy.name}")
    print(inert(line), file=info)  # the base's name and the notes may quote the image
    for note in fixed.notes:
        print(inert(" ".join(f"note: {note}".split())), file=info)
    return EXIT_PASSED


def _cmd_policy(args: argparse.Namespace) -> int:
    from auditor.outputs import STDOUT, written
    from auditor.policy import load_policy

    policy = load_policy(args.policy)
    with written(STDOUT) as out:
        if args.policy_command == "show":
            out.write(policy.to_toml())
        else:
            print(f"{args.policy}: valid policy {policy.name!r} ({policy.source})", file=out)
    return EXIT_PASSED


def _cmd_rules(args: argparse.Namespace) -> int:
    from auditor.detectors import iter_rules, rules_markdown
    from auditor.outputs import STDOUT, written

    with written(STDOUT) as out:
        if args.markdown:
            out.write(rules_markdown())
            return EXIT_PASSED
        for rule in sorted(iter_rules(), key=lambda r: (r.category, r.id)):
            print(f"{rule.id:<28} {rule.severity:<9} {rule.category:<16} {rule.title}",
                  file=out)
    return EXIT_PASSED


def _cmd_ls(args: argparse.Namespace) -> int:
    from auditor.audit import read_tree
    from auditor.outputs import STDOUT, check_target, written
    from auditor.read.globs import compile_globs
    from auditor.reports.ls import write_json_lines, write_text

    try:
        rx = compile_globs([args.glob]) if args.glob else None
    except (ValueError, Exception) as exc:
        raise UsageError(f"bad glob {args.glob!r}: {exc}") from None
    path = args.output or STDOUT
    if path != STDOUT:
        check_target(path)  # before the image is read
    with _progress(not (args.no_progress or args.quiet)) as progress:
        _image, tree = read_tree(args.source, platform=platform_of(args.platform),
                                 progress=progress,
                                 verify=args.verify)
    nodes = (n for n in tree if rx is None or rx.match(n.path))
    with written(path) as out:
        (write_json_lines if args.format == "json" else write_text)(nodes, out)
    return EXIT_PASSED


def _cmd_version(_args: argparse.Namespace) -> int:
    from auditor.outputs import STDOUT, written

    with written(STDOUT) as out:
        print(f"auditor {__version__}", file=out)
    return EXIT_PASSED


# An error line holds at most this many characters of its message (and of its tip): the
# message may quote what an image or a server sent, which must not flood a CI log.
MAX_ERROR_TEXT, MAX_TIP_TEXT = 400, 200


def _capped(text: str, most: int) -> str:
    """``text`` on one line, inert, cut at ``most`` characters with a marker saying so."""
    text = inert(" ".join(text.split()))
    if len(text) <= most:
        return text
    return f"{text[:most]} [... {len(text) - most} more characters]"


def error_line(exc: AuditorError) -> str:
    """The one line a fatal error shows: scripts grep it and CI logs show it whole."""
    tip = f" (tip: {_capped(exc.tip, MAX_TIP_TEXT)})" if exc.tip else ""
    return f"error: {_capped(str(exc), MAX_ERROR_TEXT)}{tip}"


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": _cmd_scan, "version": _cmd_version, "ls": _cmd_ls, "fix": _cmd_fix,
    "policy": _cmd_policy, "rules": _cmd_rules,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Reports may hold any name an image has: write undecodable bytes back as they were.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape" if stream is sys.stdout
                               else "backslashreplace")
    try:
        from auditor.cli_config import apply

        parser = build_parser()
        argv = list(sys.argv[1:] if argv is None else argv)
        apply(parser, argv, os.environ)
        args = parser.parse_args(argv)
        if hasattr(args, "source"):
            from auditor.source_flags import configure_sources

            configure_sources(args)
        with _process_settings():
            return COMMANDS[args.command](args)
    except AuditorError as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl-C: 128 + SIGINT, as shells report it
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `auditor ls IMAGE | head`: the reader left; that is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PASSED
    except MemoryError:
        print("error: out of memory while reading the image", file=sys.stderr)
        return EXIT_ERROR


def run() -> NoReturn:
    """The ``auditor`` command: :func:`main`, then an exit that skips the interpreter's
    teardown. A scan leaves a few hundred modules and, on a big image, hundreds of
    thousands of objects, which Python would free one by one on its way out: tens of
    milliseconds after the report is written, for nothing (the command starts no thread
    that must finish, holds no temporary file and registers nothing to run at exit). The
    output is flushed first; anything main() did not catch still ends the usual way."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`auditor ls IMAGE | head`)
        pass
    except OSError as exc:  # what the commands wrote did not all reach stdout
        print(f"error: cannot write to standard output: {exc.strerror or exc}",
              file=sys.stderr)
        code = EXIT_ERROR
    with suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
