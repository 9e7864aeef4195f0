"""A docker-save archive that puts one payload into every field an image controls.

The config (USER, Entrypoint, Cmd, Env, Labels, WorkingDir, ExposedPorts, Volumes,
StopSignal, Healthcheck), every layer's ``created_by``, the tag, file and directory names,
symlink targets, a secret's and a setuid file's name, and the names and versions of
packages in a dpkg status database and in an npm ``package.json``. Built with
tests/imagekit.py and tests/layerkit.py, read through the real pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.imagekit import config_for, docker_save
from tests.layerkit import D, F, L, layer

# One of each class of text an image could use to reach a screen or a comment as
# something other than text. "bytes" is text that is not UTF-8 (a surrogate-escaped byte
# in names; the JSON config holds a lone surrogate escape instead).
PAYLOADS = {
    "csi": "\x1b[2J\x1b[H\x1b[31mRED\x1b[0m",
    "osc8": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "osc-title": "\x1b]0;pwned\x07\x1b]2;pwned\x1b\\",
    "bel": "ding\x07\x07",
    "cr": "FAILED\rPASSED fake",
    "bs": "FAILED\x08\x08\x08\x08\x08\x08PASSED",
    "c1": "\x9b2J\x9d0;t\x9c\x85next\x90q\x9c",
    "rich": "[link=https://evil.example]x[/link] [/x] [bold red]loud",
    "markdown": "[x](https://evil.example/a) ![](https://evil.example/i.png) **b** `c`",
    "html": "<img src=https://evil.example/i.png><script>alert(1)</script><b>x</b>"
            "<sub>PWN</sub></summary></details>PWN",
    "github": "@octocat www.evil.example mail@evil.example http://evil.example #1 :octocat:",
    "newline": "one\ntwo\n# three\n- four\n\n    five\n| a | b |",
    "long": "L" * 100_000,
    "bytes": "bad\udcff\udcfebyte",
}
# Names for the payload-carrying file: a payload with "/" in it names no single file.
_SECRET_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57


def _name(payload: str, limit: int = 200) -> str:
    """The payload as one path component (no "/", no NUL), cut to a length a name may be."""
    return payload.replace("/", "_").replace("\0", "_")[:limit]


def _json_text(payload: str) -> str:
    """What a JSON document can hold of the payload: surrogate-escaped bytes become a lone
    surrogate escape (raw bytes would make the document not UTF-8 and refused whole)."""
    return payload.replace("\udcff", "\ud800").replace("\udcfe", "\udfff")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dpkg_status(name: str, version: str) -> str:
    # one line per field: a newline in the payload would make a continuation line
    flat = version.replace("\n", " ")
    return (f"Package: {name}\nStatus: install ok installed\nVersion: {flat}\n"
            f"Architecture: amd64\nInstalled-Size: 7\nDescription: {flat}\n\n"
            "Package: bash\nStatus: install ok installed\nVersion: 5.2\n"
            "Architecture: amd64\nInstalled-Size: 9\n\n"
            f"Package: {flat}\nStatus: install ok installed\nVersion: {flat}\n"
            f"Architecture: amd64\nSource: {flat}\n\n")


def layers(payload: str) -> list[bytes]:
    name = _name(payload)
    package = "p" + "".join(c for c in name if c.isalnum() or c in "+-.")[:40] or "p"
    package = package.lower()
    base = layer(
        D("/usr"), D("/usr/bin"), F("/usr/bin/bash", ELF + b"bash", mode=0o755),
        F("/usr/bin/gcc", ELF + b"gcc", mode=0o755), L("/usr/bin/sh", payload[:1000]),
        D("/var/lib/dpkg/info"),
        F("/var/lib/dpkg/status", _bytes(_dpkg_status(package, payload[:2000]))),
        # not a control paragraph: skipped, with a reason that quotes it
        D("/var/lib/dpkg/status.d"), F("/var/lib/dpkg/status.d/bad", _bytes(payload[:500])),
        F(f"/var/lib/dpkg/info/{package}.list", "/usr/bin/gcc\n"),
        F("/var/lib/dpkg/info/bash.list", "/usr/bin/bash\n"),
        D("/usr/lib/node_modules/evil"),
        F("/usr/lib/node_modules/evil/package.json", json.dumps(
            {"name": _json_text(payload[:2000]), "version": _json_text(payload[:2000])})),
    )
    app = layer(
        D("/app"), F(f"/app/{name}.pem", _SECRET_PEM), F(f"/app/{name}", b"x"),
        D(f"/app/{name}.d"), F(f"/app/{name}.d/main.c", "int main(void){return 0;}\n"),
        F(f"/usr/bin/{name}", ELF + b"suid", mode=0o4755),
        L(f"/app/{name}.link", payload[:4000]),
        F("/app/.env", _bytes(f"TOKEN={payload[:200]}\n")),
    )
    return [base, app]


def config(payload: str, layer_blobs: list[bytes]) -> bytes:
    text = _json_text(payload)
    doc = json.loads(config_for(
        layer_blobs, user=text, cmd=[text, "--flag"], history=[text, f"RUN {text}"],
        Entrypoint=[text], Env=["PATH=/usr/bin", f"A={text}", f"{_name(text, 500)}=v",
                                f"AWS_SECRET_ACCESS_KEY={text}"],
        Labels={text: text, "maintainer": text}, WorkingDir=text,
        ExposedPorts={text: {}, "80/tcp": {}}, Volumes={text: {}}, StopSignal=text,
        Healthcheck={"Test": ["CMD", text]}))
    return json.dumps(doc).encode()


def archive(directory: Path, payload_name: str) -> Path:
    payload = PAYLOADS[payload_name]
    blobs = layers(payload)
    tag = f"hostile/{payload_name}:latest"
    return docker_save(directory / f"{payload_name}.tar", blobs, tags=(tag,),
                       config=config(payload, blobs))


DOCKERFILE = "FROM scratch\nCOPY . /\nRUN make\nUSER app\nCMD [\"/app/run\"]\n"
