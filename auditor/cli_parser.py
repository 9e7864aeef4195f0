"""The command line's grammar: every command, its flags and their help, as argparse builds
them; ``auditor --help`` and docs/guide.md tell the same."""

from __future__ import annotations

import argparse

from auditor import __version__
from auditor.errors import UsageError

# The exit codes: the parser gives --exit-code its default, the CLI returns them.
EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """A parser whose errors are UsageErrors: one ``error:`` line and exit 2, as every
    other error of the command line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, tip=f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    p = Parser(prog="auditor", description="Audit a built container image: what it carries "
               "that production does not need, and how to build it smaller and safer.")
    p.add_argument("--version", action="version", version=f"auditor {__version__}",
                   help="print auditor's version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("version", help="print auditor's version")
    _add_scan(sub)
    _add_fix(sub)
    _add_policy(sub)
    _add_rules(sub)
    _add_ls(sub)
    return p


def _add_source_flags(sp: argparse.ArgumentParser) -> None:
    """The image to read and how: the flags every command that reads an image takes."""
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


def _add_scan(sub: argparse._SubParsersAction[Parser]) -> None:
    """``auditor scan``: the reports, the gate, the build the image came from."""
    scan = sub.add_parser("scan", help="audit an image and report what it should not carry")
    _add_source_flags(scan)
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
    _add_gate_flags(scan)
    _add_build_flags(scan)
    scan.add_argument("--sarif-category", metavar="ID", help="SARIF runAutomationDetails id "
                      "(default: from the image name)")


def _add_gate_flags(scan: argparse.ArgumentParser) -> None:
    """The flags that decide whether the image passes."""
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


def _add_build_flags(scan: argparse.ArgumentParser) -> None:
    """The Dockerfile and build that made the image."""
    build = scan.add_argument_group("the build")
    build.add_argument("--dockerfile", metavar="PATH", help="the Dockerfile that built the "
                       "image: ties each finding to its instruction line")
    build.add_argument("--target", metavar="STAGE", help="the build stage that made the image")
    build.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                       help="build arguments used for the build (repeatable)")


def _add_fix(sub: argparse._SubParsersAction[Parser]) -> None:
    """``auditor fix``: the rewritten Dockerfile."""
    fix = sub.add_parser("fix", help="write the multi-stage Dockerfile that removes what the "
                         "image should not carry")
    _add_source_flags(fix)
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


def _add_policy(sub: argparse._SubParsersAction[Parser]) -> None:
    """``auditor policy show|check``."""
    policy = sub.add_parser("policy", help="show or check a policy")
    psub = policy.add_subparsers(dest="policy_command", required=True, parser_class=Parser)
    show = psub.add_parser("show", help="print a policy with everything it extends resolved")
    show.add_argument("policy", help="a built-in policy name or a policy file")
    check = psub.add_parser("check", help="validate a policy file")
    check.add_argument("policy", help="a policy file (or built-in name)")


def _add_rules(sub: argparse._SubParsersAction[Parser]) -> None:
    """``auditor rules``."""
    rules = sub.add_parser("rules", help="list every rule auditor reports, with its severity")
    rules.add_argument("--markdown", action="store_true", help="the full reference: every "
                       "detector's documentation and its rules (docs/rules.md)")


def _add_ls(sub: argparse._SubParsersAction[Parser]) -> None:
    """``auditor ls``: the squashed file tree."""
    ls = sub.add_parser("ls", help="list the squashed file tree of an image")
    _add_source_flags(ls)
    ls.add_argument("glob", nargs="?", help="only paths matching this glob (e.g. '/usr/bin/*')")
    ls.add_argument("--format", "-f", choices=("text", "json"), default="text",
                    help="text (default) or json (one object per line)")
    ls.add_argument("--output", "-o", metavar="PATH", help="write the listing here "
                    "(default: stdout, or -)")
