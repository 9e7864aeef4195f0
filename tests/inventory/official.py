"""Layers shaped like the official images' toolchains, outside any package database:
python:slim's ``/usr/local``, golang's ``/usr/local/go``, eclipse-temurin's
``/opt/java/openjdk``, node's ``/usr/local`` with npm and yarn, busybox's ``/bin/busybox``.
Sizes are small but distinct, so a test can tell a tree's bytes from one file's."""

from __future__ import annotations

from tests.layerkit import F, L, Spec

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 9  # an ELF ident; not a loadable program


def exe(path: str, size: int, head: bytes = ELF) -> F:
    return F(path, head + b"x" * (size - len(head)), mode=0o755)


def script(path: str, interpreter: str, size: int = 200) -> F:
    body = f"#!{interpreter}\n".encode()
    return F(path, body + b"#" * (size - len(body)), mode=0o755)


GO_ROOT = "/usr/local/go"
GO: list[Spec] = [
    F(f"{GO_ROOT}/VERSION", "go1.21.5\ntime 2023-11-29T21:21:27Z\n"),
    exe(f"{GO_ROOT}/bin/go", 15_000),
    exe(f"{GO_ROOT}/bin/gofmt", 3_000),
    exe(f"{GO_ROOT}/pkg/tool/linux_amd64/compile", 40_000),
    F(f"{GO_ROOT}/src/runtime/proc.go", b"package runtime\n" * 1000),
]
GO_BYTES = sum(len(s.content) for s in GO if isinstance(s, F))

JDK_ROOT = "/opt/java/openjdk"
JDK: list[Spec] = [
    F(f"{JDK_ROOT}/release", 'IMPLEMENTOR="Eclipse Adoptium"\nIMPLEMENTOR_VERSION="Temurin-'
                             '17.0.9+9"\nJAVA_VERSION="17.0.9"\nJAVA_VERSION_DATE="2023-10-17"\n'
                             'MODULES="java.base java.compiler"\n'),
    exe(f"{JDK_ROOT}/bin/java", 12_000),
    exe(f"{JDK_ROOT}/bin/javac", 14_000),
    F(f"{JDK_ROOT}/lib/modules", b"m" * 120_000),
    F(f"{JDK_ROOT}/lib/server/libjvm.so", ELF + b"j" * 50_000),
]
JDK_BYTES = sum(len(s.content) for s in JDK if isinstance(s, F))

NODE_VERSION_H = b"""#ifndef SRC_NODE_VERSION_H_
#define SRC_NODE_VERSION_H_
#define NODE_MAJOR_VERSION 20
#define NODE_MINOR_VERSION 10
#define NODE_PATCH_VERSION 0
#define NODE_VERSION_IS_RELEASE 1
#endif
"""
NPM_DIR = "/usr/local/lib/node_modules/npm"
YARN_ROOT = "/opt/yarn-v1.22.22"
NODE: list[Spec] = [
    exe("/usr/local/bin/node", 90_000),
    F("/usr/local/include/node/node_version.h", NODE_VERSION_H),
    F("/usr/local/include/node/v8.h", b"// v8\n" * 500),
    F("/usr/local/share/man/man1/node.1", b".TH NODE\n" * 10),
    F(f"{NPM_DIR}/package.json", '{"name": "npm", "version": "10.2.3"}'),
    script(f"{NPM_DIR}/bin/npm-cli.js", "/usr/bin/env node", 60),
    F(f"{NPM_DIR}/lib/npm.js", b"n" * 2_600),
    F(f"{NPM_DIR}/node_modules/abbrev/package.json", '{"name": "abbrev", "version": "2.0.0"}'),
    F(f"{NPM_DIR}/node_modules/abbrev/lib/index.js", b"a" * 14_000),
    L("/usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
    F(f"{YARN_ROOT}/package.json", '{"name": "yarn", "version": "1.22.22"}'),
    script(f"{YARN_ROOT}/bin/yarn", "/bin/sh", 1_000),
    F(f"{YARN_ROOT}/lib/cli.js", b"y" * 5_000),
    L("/usr/local/bin/yarn", f"{YARN_ROOT}/bin/yarn"),
]
NPM_BYTES = sum(len(s.content) for s in NODE if isinstance(s, F) and s.path.startswith(NPM_DIR))
YARN_BYTES = sum(len(s.content) for s in NODE if isinstance(s, F) and s.path.startswith(YARN_ROOT))

PATCHLEVEL_H = b'#define PY_MAJOR_VERSION 3\n#define PY_VERSION "3.12.1"\n'
PY_SITE = "/usr/local/lib/python3.12/site-packages"
PYTHON: list[Spec] = [
    exe("/usr/local/bin/python3.12", 18_000),
    L("/usr/local/bin/python3", "python3.12"),
    L("/usr/local/bin/python", "python3"),
    script("/usr/local/bin/pydoc3.12", "/usr/local/bin/python3.12"),
    F("/usr/local/lib/libpython3.12.so.1.0", ELF + b"p" * 30_000),
    F("/usr/local/lib/python3.12/os.py", b"# os\n" * 2_000),
    F("/usr/local/include/python3.12/patchlevel.h", PATCHLEVEL_H),
    F(f"{PY_SITE}/pip-23.2.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: pip\n"
                                                  "Version: 23.2.1\n"),
    F(f"{PY_SITE}/pip/__init__.py", b"p" * 4_000),
]

def elf_program(rodata: bytes) -> bytes:
    """A small loadable ELF64 executable: code from offset 0, then ``rodata`` in a
    read-only segment, where a program's banner and identity strings sit."""
    import struct

    text, base = 0x1000, 0x400000
    phdrs = [(1, 5, 0, text), (1, 4, text, len(rodata))]
    head = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, base, 64, 0, 0, 64, 56, len(phdrs), 64, 0, 0)
    for p_type, flags, offset, size in phdrs:
        head += struct.pack("<IIQQQQQQ", p_type, flags, offset, base + offset, base + offset,
                            size, size, 0x1000)
    return head.ljust(text, b"\xcc") + rodata


BUSYBOX_BINARY = elf_program(b"\0usage\0BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) "
                             b"multi-call binary.\0" + b"\0" * 2000)
BUSYBOX: list[Spec] = [
    F("/bin/busybox", BUSYBOX_BINARY, mode=0o755),
    L("/bin/sh", "busybox"),
]
