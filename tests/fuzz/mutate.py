"""Hypothesis strategies that turn a small valid input into a hostile one: bytes flipped,
tar header fields set to what no tar writer writes (checksums fixed or not), JSON nodes
replaced by values of the wrong type or by nesting thousands deep, files truncated."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from typing import Any

from hypothesis import strategies as st

# Values a tar header field may hold in a hostile archive: empty, not octal, negative,
# base-256 (0x80/0xff first byte), huge, NaN and infinity as PAX would spell them.
TAR_VALUES = [b"", b"\x00", b"-1", b"77777777777", b"99999999", b"\xff" * 12,
              b"\x80" + b"\xff" * 11, b"\x80" + b"\x00" * 10 + b"\x01", b"nan", b"1e999",
              b" 0", b"0x10", b"\xc2\xb2",
              b"/", b"/etc/passwd", b"../../x", b"a/" * 60, b"\x1b[31m", b"ustar\x00", b"5"]
# (offset, length) of the fields of a ustar header block
TAR_FIELDS = {"name": (0, 100), "mode": (100, 8), "uid": (108, 8), "gid": (116, 8),
              "size": (124, 12), "mtime": (136, 12), "chksum": (148, 8), "type": (156, 1),
              "linkname": (157, 100), "magic": (257, 6), "version": (263, 2),
              "prefix": (345, 155)}
TYPES = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"g", b"x", b"L", b"K", b"S", b"Z"]
PAX_KEYS = ["path", "linkpath", "size", "uid", "gid", "mtime", "uname", "gname",
            "SCHILY.xattr.security.capability", "GNU.sparse.size", "hdrcharset"]
PAX_VALUES = ["nan", "1e999", "-5", "x", "", "99999999999999999999999", "/" * 3000,
              "a/" * 2000 + "f", "\udcff", "0.5", "/bin/sh"]

# Strings an image may hold where text is shown or parsed: control sequences, rich markup,
# digits that are not ASCII, digests, media types, paths.
HOSTILE_TEXT = ["", "sha256:" + "0" * 64, "sha256:../x", "/", "../x", "\x1b]0;t\x07", "[/x]",
                "[link=https://e.x]y[/link]", "²", "0:²", "\udcff", "a\nRUN touch /tmp/x",
                "application/vnd.oci.image.index.v1+json", "x" * 5000]
JSON_LEAVES = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
               | st.floats(allow_nan=False) | st.text(max_size=20))
JSON_VALUES = st.sampled_from(HOSTILE_TEXT) | st.recursive(
    JSON_LEAVES, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c,
                                                                      max_size=3), max_leaves=6)
DEEP = "\x00DEEP\x00"  # a placeholder a serialized document swaps for deep nesting


class Blob(bytes):
    """A mutated input: hypothesis prints every draw, and a whole archive is no help in a
    report (the failing input is kept on disk instead: harness.keep)."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes, sha256 {hashlib.sha256(self).hexdigest()[:16]}>"


def header_offsets(tar: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return [m.offset for m in tf.getmembers()]


def fix_checksum(block: bytearray, at: int) -> None:
    header = block[at:at + 512]
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    block[at:at + 512] = header


@st.composite
def mutated_tar(draw: st.DrawFn, tar: bytes) -> bytes:
    """``tar`` with a few header fields set to hostile values, or bytes flipped, or cut."""
    data = bytearray(tar)
    offsets = header_offsets(tar)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["field", "field", "type", "flip", "truncate", "pax"]))
        at = draw(st.sampled_from(offsets))
        if kind == "field":
            start, length = TAR_FIELDS[draw(st.sampled_from(sorted(TAR_FIELDS)))]
            value = draw(st.sampled_from(TAR_VALUES) | st.binary(max_size=length))
            data[at + start:at + start + length] = value[:length].ljust(length, b"\x00")
        elif kind == "type":
            data[at + 156:at + 157] = draw(st.sampled_from(TYPES))
        elif kind == "flip":
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data) - 1)):]
            break
        else:
            data[at:at] = _pax_block(draw(st.sampled_from(PAX_KEYS)),
                                     draw(st.sampled_from(PAX_VALUES)))
            offsets = header_offsets_or(bytes(data), offsets)
        if kind in ("field", "type") and draw(st.booleans()) and at + 512 <= len(data):
            fix_checksum(data, at)
    return Blob(data)


def header_offsets_or(tar: bytes, fallback: list[int]) -> list[int]:
    try:
        return header_offsets(tar) or fallback
    # the standard library's tarfile overflows on a huge base-256 size: the mutator's
    # problem, not the input's (auditor reads it with its own walk)
    except (tarfile.TarError, ValueError, OverflowError, OSError, RecursionError):
        return fallback


def _pax_block(key: str, value: str) -> bytes:
    """One PAX extended header (type x) whose record is ``key=value``."""
    raw = value.encode("utf-8", "surrogateescape")
    body = b"%s=%s\n" % (key.encode(), raw)
    length = len(body) + 1
    while len(b"%d " % length) + len(body) != length:
        length += 1
    record = b"%d %s" % (length, body)
    info = tarfile.TarInfo("PaxHeaders/x")
    info.type, info.size = tarfile.XHDTYPE, len(record)
    block = info.tobuf(tarfile.USTAR_FORMAT)
    padding = b"\x00" * (-len(record) % 512)
    return block + record + padding


@st.composite
def mutated_json(draw: st.DrawFn, doc: Any) -> bytes:
    """``doc`` serialized after one to three of its nodes were replaced or deleted, or
    nested thousands deep, or its text cut or flipped."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        doc = _replace_somewhere(draw, doc)
    text = json.dumps(doc)
    depth = draw(st.sampled_from([10, 3000, 100_000]))
    text = text.replace(json.dumps(DEEP), "[" * depth + "]" * depth)
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    if draw(st.integers(0, 9)) == 0 and data:
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.integers(0, 9)) == 0:
        data.extend(draw(st.sampled_from([b"9" * 5000, b"1e999", b"\xff", b"{"])))
    return Blob(data)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node's path (keys and indexes from the root), the root included."""
    out, stack = [], [(prefix, doc)]
    while stack:
        path, node = stack.pop()
        out.append(path)
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
    return out


def _replace_somewhere(draw: st.DrawFn, doc: Any) -> Any:
    """One node, each as likely as any other, replaced (by a value of any type, deep
    nesting or a 5,000-digit number) or deleted."""
    path = draw(st.sampled_from(sorted(_paths(doc), key=repr)))
    value = draw(JSON_VALUES | st.just(DEEP) | st.just("9" * 5000))
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.integers(0, 5)) == 0:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, within: int | None = None) -> bytes:
    """Bytes flipped (in the first ``within`` bytes, where the structure is), a run
    repeated, or the end cut off."""
    out = bytearray(data)
    limit = min(len(out), within or len(out))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "repeat", "truncate"]))
        pos = draw(st.integers(0, max(0, limit - 1)))
        if kind == "flip":
            out[pos] = draw(st.integers(0, 255))
        elif kind == "repeat":
            out[pos:pos] = out[pos:pos + draw(st.integers(1, 64))] * draw(st.integers(2, 50))
        else:
            del out[pos:]
            break
    return Blob(out)
