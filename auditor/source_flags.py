"""The command line's flags for the sources (registries, --image-src), and what they set.

Kept apart from ``auditor.sources`` and light on imports: the command line builds its parser
and reads these before it asks the engine for a save (``engine_wire.start_early``), and
importing the sources package would load every source first.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from auditor.errors import UsageError
from auditor.read import engine_wire

DEFAULT_REGISTRY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """What the command line says about registries."""

    insecure: bool = False  # no certificate check, and plain HTTP allowed
    ca_cert: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0  # seconds without a byte before a request fails
    announce: bool = True  # one line on stderr naming the credential source


# The sources that know images by name, as --image-src names them (auditor.sources has the
# table of those that exist); the order a bare reference is asked of them.
KNOWN_NAMED = ("engine", "podman", "registry")
ORDER: list[str] = ["engine", "podman", "registry"]
REGISTRY: list[RegistrySettings] = [RegistrySettings()]  # the last one wins


def set_order(names: str) -> None:
    """``--image-src engine,registry``: which sources a bare reference is asked of."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in KNOWN_NAMED]
    if unknown or not chosen:
        raise UsageError(f"--image-src wants a list of {', '.join(KNOWN_NAMED)}; got {names!r}")
    ORDER[:] = chosen


def announce(line: str) -> None:
    """One line on stderr for the user, unless the command line said -q."""
    if REGISTRY[-1].announce:
        from auditor.model.text import inert

        print(inert(line), file=sys.stderr)  # it may quote a reference or a registry's name


def add_registry_args(sp: argparse.ArgumentParser) -> None:
    group = sp.add_argument_group("registries")
    group.add_argument("--image-src", metavar="LIST", default="engine,podman,registry",
                       help="where a bare NAME[:TAG] is looked for, in order (default "
                       "engine,podman,registry)")
    group.add_argument("--username", metavar="USER", help="registry user name (the password "
                       "comes from --password-stdin)")
    group.add_argument("--password-stdin", action="store_true",
                       help="read the registry password or token from standard input")
    group.add_argument("--ca-cert", metavar="FILE", help="trust this CA for the registry "
                       "(besides /etc/docker/certs.d/HOST/ and /etc/containers/certs.d/HOST/)")
    group.add_argument("--insecure", action="store_true", help="do not check the "
                       "registry's certificate, and allow plain HTTP (loopback registries "
                       "may speak HTTP without it)")
    group.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="give up on an engine, a registry or standard input that sends "
                       "nothing for this long (default: 120 for an engine, which prepares a "
                       "save before its first byte, and for standard input; 60 for a "
                       "registry)")


def configure_sources(args: argparse.Namespace) -> None:
    set_order(args.image_src)
    password = None
    if args.password_stdin:
        if args.username is None:
            raise UsageError("--password-stdin needs --username")
        if args.source.startswith("docker-archive:-"):
            raise UsageError("--password-stdin and an image on standard input exclude "
                             "each other")
        password = sys.stdin.readline().rstrip("\r\n")
    elif args.username is not None:
        raise UsageError("--username needs --password-stdin (a password on the command "
                         "line would show in the process list)")
    timeout = DEFAULT_REGISTRY_TIMEOUT
    engine_wire.set_timeout(engine_wire.TIMEOUT)
    if args.timeout is not None:
        if not 0 < args.timeout < float("inf"):
            raise UsageError("--timeout wants a positive number of seconds")
        timeout = args.timeout
        engine_wire.set_timeout(args.timeout)
    REGISTRY.append(RegistrySettings(
        insecure=args.insecure, ca_cert=args.ca_cert, username=args.username,
        password=password, timeout=timeout, announce=not getattr(args, "quiet", False)))
