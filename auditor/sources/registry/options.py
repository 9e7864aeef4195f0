"""The command line's registry flags, and handing them to the sources."""

from __future__ import annotations

import argparse
import sys

from auditor.errors import UsageError
from auditor.sources.registry.client import Settings


def add_registry_args(sp: argparse.ArgumentParser) -> None:
    group = sp.add_argument_group("registries")
    group.add_argument("--image-src", metavar="LIST", default="engine,podman,registry",
                       help="where a bare NAME[:TAG] is looked for, in order (default "
                       "engine,podman,registry; podman is skipped until it is supported)")
    group.add_argument("--username", metavar="USER", help="registry user name (the password "
                       "comes from --password-stdin)")
    group.add_argument("--password-stdin", action="store_true",
                       help="read the registry password or token from standard input")
    group.add_argument("--ca-cert", metavar="FILE", help="trust this CA for the registry "
                       "(besides /etc/docker/certs.d/HOST/ and /etc/containers/certs.d/HOST/)")
    group.add_argument("--insecure", action="store_true", help="do not check the "
                       "registry's certificate, and allow plain HTTP (loopback registries "
                       "may speak HTTP without it)")
    group.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                       help="give up on a registry silent this long (default 60)")


def configure_sources(args: argparse.Namespace) -> None:
    from auditor.sources import set_order
    from auditor.sources.registry import configure

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
    if args.timeout <= 0:
        raise UsageError("--timeout wants a positive number of seconds")
    configure(Settings(insecure=args.insecure, ca_cert=args.ca_cert, username=args.username,
                       password=password, timeout=args.timeout,
                       announce=not getattr(args, "quiet", False)))
