"""The small valid inputs the fuzz targets mutate: one synthetic image (as layer tars, a
config, a docker save archive and an OCI layout), a policy, a baseline, a Dockerfile.

Small on purpose: a mutation of a few kilobytes lands in a header, a manifest or a
database far more often than in file content nobody parses.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from tests.imagekit import OciLayout, docker_save, sha
from tests.layerkit import D, F, H, L, Opaque, W, layer

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
DPKG = ("Package: busybox\nStatus: install ok installed\nInstalled-Size: 12\n"
        "Version: 1:1.35\nArchitecture: amd64\n\n"
        "Package: gcc-12\nStatus: install ok installed\nInstalled-Size: 40\nVersion: 12.2\n\n")
APK = "C:Q1x=\nP:curl\nV:8.0\nI:4096\nF:usr/bin\nR:curl\n\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + b"\x00" * 40


def layers() -> list[bytes]:
    return [
        layer(D("/bin"), F("/bin/busybox", ELF, mode=0o755), L("/bin/sh", "busybox"),
              H("/bin/ash", "/bin/busybox"), D("/etc"), F("/etc/passwd", PASSWD),
              F("/etc/group", "root:x:0:\n"), F("/var/lib/dpkg/status", DPKG),
              F("/lib/apk/db/installed", APK), F("/usr/bin/gcc-12", ELF, mode=0o4755),
              F("/app/.env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
              F("/usr/lib/python3/site-packages/x-1.0.dist-info/METADATA",
                "Name: x\nVersion: 1.0\n"),
              F("/app/node_modules/y/package.json", '{"name": "y", "version": "2.0.0"}'),
              F("/var/cache/apt/archives/a.deb", "x" * 300)),
        layer(W("/var/cache/apt"), Opaque("/app"), F("/app/run.sh", "#!/bin/sh\nexec true\n",
                                                     mode=0o755), F("/etc/passwd", PASSWD)),
    ]


def config(lays: list[bytes]) -> dict[str, Any]:
    return {"architecture": "amd64", "os": "linux",
            "config": {"User": "app", "Entrypoint": ["/bin/sh", "/app/run.sh"], "Cmd": ["x"],
                       "Env": ["PATH=/bin", "TOKEN=ghp_" + "a" * 36],
                       "ExposedPorts": {"22/tcp": {}}, "WorkingDir": "/app",
                       "Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
            "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in lays]},
            "history": [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
                        {"created_by": "RUN /bin/sh -c rm -rf /var/cache/apt # buildkit"},
                        {"created_by": "USER app", "empty_layer": True}]}


def docker_archive(path: Path, lays: list[bytes], cfg: dict[str, Any] | bytes) -> Path:
    raw = cfg if isinstance(cfg, bytes) else json.dumps(cfg).encode()
    return docker_save(path, lays, config=raw)


def oci_layout(root: Path, lays: list[bytes], cfg: bytes, compression: str) -> Path:
    """A layout of one image whose config is whatever bytes it is given."""
    out = OciLayout(root)
    out.index([out.image(lays, compression, config=cfg, ref="latest")])
    return root


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers()  # type: ignore[union-attr]
                if m.isfile()}


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


POLICY = """\
name = "fuzz"
extends = "default"
description = "the seed of the policy fuzz target"

[thresholds]
fail_under = 50
fail_on = "critical"
max_image_bytes = "150 MB"
max_wasted_percent = 20

[score]
scale = 100
points = { critical = 40, high = 15, medium = 5, low = 1.5, info = 0 }

[allow]
paths = ["/usr/share/doc/**", "/bin/*"]
packages = ["tzdata"]

[categories.shell]
action = "warn"
severity = "low"
weight = 0.5
allow_paths = ["/bin/busybox"]
packaged = { action = "warn", weight = 0.2 }

[rules.AUD-SHELL]
enabled = true

[[packages]]
name = "openssl"
versions = "<3.0.7"
ecosystem = "deb"
reason = "CVE"

[[waivers]]
rule = "AUD-SHELL"
path = "/bin/*"
reason = "the app is a shell script"
expires = 2099-01-01
"""

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
ARG VERSION=1.36
FROM ${BASE}:${VERSION:-latest} AS build
ENV APP=/app PATH=/bin
WORKDIR ${APP}
COPY --chown=1000:1000 app.sh /app/run.sh
RUN set -eux; \\
    apt-get update && apt-get install -y gcc-12 \\
    && rm -rf /var/cache/apt
RUN <<EOF
echo hi > /tmp/x
EOF
FROM build AS final
USER app
EXPOSE 22/tcp 8080
HEALTHCHECK --interval=30s CMD ["/bin/sh", "-c", "true"]
STOPSIGNAL SIGTERM
LABEL a=b "c d"=e
VOLUME ["/data"]
SHELL ["/bin/sh", "-c"]
ONBUILD RUN true
ENTRYPOINT ["/bin/sh", "/app/run.sh"]
CMD ["x"]
"""
