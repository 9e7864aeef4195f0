"""The command line: parsing, progress, and the one place errors become exit codes.

Exit codes: 0 passed (or nothing to judge), 1 failed the policy (``--exit-code N`` changes
it; 0 makes a report-only run), 2 could not run, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TextIO

from auditor import __version__
from auditor.errors import AuditorError, UsageError
from auditor.model.text import inert

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, tip=f"see `{self.prog} --help`")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="auditor", description="Audit a built container image: what it carries "
                "that production does not need, and how to build it smaller and safer.")
    p.add_argument("--version", action="version", version=f"auditor {__version__}",
                   help="print auditor's version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("version", help="print auditor's version")

    def source_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("source", help="an image: NAME[:TAG] in the Docker Engine, "
                        "docker-archive:PATH[:TAG], oci-dir:PATH[:REF], oci-archive:PATH[:REF], "
                        "registry:HOST[:PORT]/REPO[:TAG|@DIGEST], or a path to any of those")
        sp.add_argument("--platform", help="os/arch[/variant] of a multi-platform image "
                        "(default linux/amd64, or the only one); a single-platform image "
                        "built for another platform is refused")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        sp.add_argument("--config", metavar="PATH", help="the project file (default "
                        "./.auditor.toml when there is one): flags' values, below "
                        "AUDITOR_* variables and the command line")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress and no "
                        "notes on stderr; the report is written all the same (for the "
                        "terminal format: the verdict line alone)")
        checks = sp.add_mutually_exclusive_group()
        checks.add_argument("--verify", dest="verify", action="store_const", const=True,
                            help="check every layer's digest, whatever the source (OCI "
                            "layouts always are; docker save archives and the engine's "
                            "stream are not by default)")
        checks.add_argument("--no-verify", dest="verify", action="store_const", const=False,
                            help="check no layer digest, not even an OCI layout's")
        from auditor.source_flags import add_registry_args

        add_registry_args(sp)

    scan = sub.add_parser("scan", help="audit an image and report what it should not carry")
    source_args(scan)
    from auditor.reports import FORMATS

    scan.add_argument("--format", "-f", default="terminal", type=str.lower,
                      metavar="FORMAT", help=f"the report on stdout: {', '.join(FORMATS)} "
                      "(default terminal)")
    scan.add_argument("--output", "-o", action="append", default=[],
                      metavar="[FORMAT=]PATH", help="also write a report to a file, its "
                      "format named or told by the extension (.sarif, .json, .cdx.json, "
                      ".md, .html, .xml for junit); PATH - is stdout; repeatable")
    scan.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      type=str.lower, help="colour in the terminal report: auto (when "
                      "stdout is a terminal and NO_COLOR is unset), always, never")
    scan.add_argument("--severity", metavar="LIST", type=str.lower,
                      help="show only findings of these severities (e.g. HIGH,CRITICAL) in "
                      "every format; the gate still counts every finding")
    gate = scan.add_argument_group("the gate")
    gate.add_argument("--policy", "-p", default="default", help="a built-in policy name "
                      "(default, strict, dev) or a policy file; see docs/policy.md")
    gate.add_argument("--fail-under", type=int, metavar="SCORE",
                      help="fail when the score is under SCORE (overrides the policy)")
    gate.add_argument("--fail-on", metavar="SEVERITY", type=str.lower, help="fail on any "
                      "finding of this severity or worse: critical, high, medium, low, info "
                      "(or none)")
    gate.add_argument("--ignore", action="append", default=[], metavar="RULE[,RULE]",
                      help="ignore these rules as if the policy said so: not counted, not "
                      "failing, listed as suppressed (repeatable)")
    gate.add_argument("--exit-code", type=int, default=EXIT_FAILED, metavar="N",
                      help="the exit code when the image fails the policy (default 1; 0 "
                      "makes a report-only run); 2 stays could-not-run, 130 interrupted")
    gate.add_argument("--baseline", metavar="REPORT", help="a previous JSON or SARIF report: "
                      "gate only on findings that are new since it")
    build = scan.add_argument_group("the build")
    build.add_argument("--dockerfile", metavar="PATH", help="the Dockerfile that built the "
                       "image: ties each finding to its instruction line")
    build.add_argument("--target", metavar="STAGE", help="the build stage that made the image")
    build.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                       help="build arguments used for the build (repeatable)")
    scan.add_argument("--sarif-category", metavar="ID", help="SARIF runAutomationDetails id "
                      "(default: from the image name)")

    fix = sub.add_parser("fix", help="write the multi-stage Dockerfile that removes what the "
                         "image should not carry")
    source_args(fix)
    fix.add_argument("--dockerfile", required=True, metavar="PATH",
                     help="the Dockerfile that built the image")
    fix.add_argument("--output", "-o", metavar="PATH", help="write the rewritten Dockerfile "
                     "here (default: stdout, or -)")
    fix.add_argument("--target", metavar="STAGE", help="the build stage that made the image")
    fix.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                     help="build arguments used for the build (repeatable)")
    fix.add_argument("--runtime-base", metavar="IMAGE", help="the final stage's base (default: "
                     "the smallest the runtime closure allows among images present here; "
                     "scratch always works)")
    fix.add_argument("--policy", "-p", default="default", help="policy for the expected score")

    policy = sub.add_parser("policy", help="show or check a policy")
    psub = policy.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    show = psub.add_parser("show", help="print a policy with everything it extends resolved")
    show.add_argument("policy", help="a built-in policy name or a policy file")
    check = psub.add_parser("check", help="validate a policy file")
    check.add_argument("policy", help="a policy file (or built-in name)")

    rules = sub.add_parser("rules", help="list every rule auditor reports, with its severity")
    rules.add_argument("--markdown", action="store_true", help="the full reference: every "
                       "detector's documentation and its rules (docs/rules.md)")

    ls = sub.add_parser("ls", help="list the squashed file tree of an image")
    source_args(ls)
    ls.add_argument("glob", nargs="?", help="only paths matching this glob (e.g. '/usr/bin/*')")
    ls.add_argument("--format", "-f", choices=("text", "json"), default="text",
                    help="text (default) or json (one object per line)")
    ls.add_argument("--output", "-o", metavar="PATH", help="write the listing here "
                    "(default: stdout, or -)")
    return p


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


def _build_args(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not name:
            raise UsageError(f"--build-arg wants NAME=VALUE; got {item!r}")
        out[name] = value if sep else os.environ.get(name, "")
    return out


def _read_dockerfile(path: str | None) -> str | None:
    from auditor.inputs import DOCKERFILE, read_text

    return None if path is None else read_text(path, DOCKERFILE)


def _cmd_scan(args: argparse.Namespace) -> int:
    from auditor.read.engine_wire import engine_reference, start_early

    reference = engine_reference(args.source)
    if reference is not None:
        # Ask the engine for the save before anything else is imported: it prepares the
        # stream for seconds, which pass while the policy and the detectors load. Never
        # raises; argument errors below still come first.
        start_early(reference)
    from auditor.audit import AuditRequest, audit
    from auditor.cli_outputs import parse_outputs
    from auditor.outputs import STDOUT, written
    from auditor.policy import Baseline
    from auditor.reports import FORMATS, WriteOptions, writer

    if args.format not in FORMATS:
        raise UsageError(f"unknown format {args.format!r}; choose one of {', '.join(FORMATS)}")
    outputs = parse_outputs(args.output, FORMATS)
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code wants 0 to 255, not {args.exit_code}")
    shown = _severities(args.severity)
    # Everything that can be wrong with the arguments is found before the image is read.
    request = AuditRequest(
        args.source, platform=_platform(args.platform), verify=args.verify,
        policy=_policy(args.policy),
        baseline=Baseline.load(args.baseline) if args.baseline else None,
        fail_under=args.fail_under, fail_on=args.fail_on, ignore=_ignored(args.ignore),
        dockerfile_text=_read_dockerfile(args.dockerfile), dockerfile=args.dockerfile,
        target=args.target, build_args=_build_args(args.build_arg),
        sarif_category=args.sarif_category)
    with _progress(not (args.no_progress or args.quiet)) as progress:
        report = audit(replace(request, progress=progress))
    if shown is not None:
        report = report.showing(shown)
    to_stdout = [fmt for fmt, path in outputs if path == STDOUT]
    for fmt, path in outputs:
        if path != STDOUT:
            with written(path) as fh:
                writer(fmt)(report, fh, WriteOptions(color=False, width=100))
    fmt = to_stdout[0] if to_stdout else args.format
    quiet = args.quiet and fmt == "terminal"
    options = WriteOptions(color=_color(args.color, sys.stdout), quiet=quiet)
    writer(fmt)(report, sys.stdout, options)
    passed = report.verdict is None or report.verdict.passed
    return EXIT_PASSED if passed else int(args.exit_code)


def _severities(text: str | None) -> tuple[str, ...] | None:
    from auditor.model.findings import SEVERITIES

    if text is None:
        return None
    chosen = tuple(dict.fromkeys(w.strip() for w in text.split(",") if w.strip()))
    bad = [w for w in chosen if w not in SEVERITIES]
    if bad or not chosen:
        raise UsageError(f"--severity wants a list of {', '.join(SEVERITIES)}; got {text!r}")
    return chosen


def _ignored(items: Sequence[str]) -> tuple[str, ...]:
    rules = tuple(dict.fromkeys(r.strip().upper() for item in items for r in item.split(",")
                                if r.strip()))
    if not rules:
        return ()
    from auditor.detectors import iter_rules
    from auditor.policy import POLICY_RULES

    known = {r.id for r in iter_rules()} | set(POLICY_RULES)
    unknown = [r for r in rules if r not in known]
    if unknown:
        raise UsageError(f"--ignore: no rule {', '.join(unknown)}",
                         tip="`auditor rules` lists them")
    return rules


def _policy(value: Any) -> Any:
    """A policy name or file, or the Policy written inline in .auditor.toml."""
    from auditor.policy import Policy, load_policy

    return value if isinstance(value, Policy) else load_policy(value)


def _platform(text: str | None) -> str | None:
    from auditor.model.platform import parse_platform

    return None if text is None else parse_platform(text)


def _cmd_fix(args: argparse.Namespace) -> int:
    from auditor.audit import AuditRequest, fix
    from auditor.outputs import STDOUT, check_target, written
    from auditor.reports import human_bytes

    to_file = args.output not in (None, STDOUT)
    if to_file:
        check_target(args.output)  # before the image is read
    policy = _policy(args.policy)
    request = AuditRequest(args.source, platform=_platform(args.platform), verify=args.verify,
                           policy=policy, dockerfile_text=_read_dockerfile(args.dockerfile),
                           dockerfile=args.dockerfile, target=args.target,
                           build_args=_build_args(args.build_arg))
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
    from auditor.policy import load_policy

    policy = load_policy(args.policy)
    if args.policy_command == "show":
        sys.stdout.write(policy.to_toml())
    else:
        print(f"{args.policy}: valid policy {policy.name!r} ({policy.source})")
    return EXIT_PASSED


def _cmd_rules(args: argparse.Namespace) -> int:
    from auditor.detectors import iter_rules, rules_markdown

    if args.markdown:
        sys.stdout.write(rules_markdown())
        return EXIT_PASSED
    for rule in sorted(iter_rules(), key=lambda r: (r.category, r.id)):
        print(f"{rule.id:<28} {rule.severity:<9} {rule.category:<16} {rule.title}")
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
        _image, tree = read_tree(args.source, platform=_platform(args.platform),
                                 progress=progress,
                                 verify=args.verify)
    nodes = (n for n in tree if rx is None or rx.match(n.path))
    with written(path) as out:
        (write_json_lines if args.format == "json" else write_text)(nodes, out)
    return EXIT_PASSED


def _cmd_version(_args: argparse.Namespace) -> int:
    print(f"auditor {__version__}")
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

        parser = _parser()
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
