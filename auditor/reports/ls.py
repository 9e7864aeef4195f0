"""``auditor ls``: the squashed tree one entry a line, for people (text) or scripts (JSON).

Names are bytes in a tar; any name, including ones with newlines or bytes that are not
UTF-8, must come out unambiguous: text escapes them C-style, JSON adds ``path_b64``.
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterable
from typing import TextIO

from auditor.filetree import Node
from auditor.model.image import BLOCK, CHAR, DIR, FIFO, HARDLINK, SYMLINK

_TYPE_CHAR = {DIR: "d", SYMLINK: "l", CHAR: "c", BLOCK: "b", FIFO: "p", HARDLINK: "h"}
_TYPE_BITS = {DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK, CHAR: stat.S_IFCHR,
              BLOCK: stat.S_IFBLK, FIFO: stat.S_IFIFO}


def mode_string(node: Node) -> str:
    text = stat.filemode(_TYPE_BITS.get(node.kind, stat.S_IFREG) | node.mode)
    return _TYPE_CHAR.get(node.kind, "-") + text[1:]


def quote_name(name: str) -> str:
    """C-style escapes for anything not printable UTF-8, and for the backslash itself."""
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a raw byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _raw_bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def entry_json(node: Node) -> dict[str, object]:
    obj: dict[str, object] = {
        "path": node.path, "type": node.kind, "mode": f"{node.mode:04o}", "uid": node.uid,
        "gid": node.gid, "size": node.size, "layer": node.layer, "link": node.link,
    }
    try:
        node.path.encode("utf-8")
    except UnicodeEncodeError:
        obj["path"] = _raw_bytes(node.path).decode("utf-8", "replace")
        obj["path_b64"] = base64.b64encode(_raw_bytes(node.path)).decode("ascii")
    return obj


def write_text(nodes: Iterable[Node], stream: TextIO) -> None:
    for node in nodes:
        link = ""
        if node.kind == SYMLINK:
            link = " -> " + quote_name(node.link or "")
        elif node.kind == HARDLINK:
            link = " link to " + quote_name(node.link or "")
        stream.write(f"{mode_string(node)} {node.uid:>5}:{node.gid:<5} {node.size:>11} "
                     f"L{node.layer:<3} {quote_name(node.path)}{link}\n")


def write_json_lines(nodes: Iterable[Node], stream: TextIO) -> None:
    for node in nodes:
        stream.write(json.dumps(entry_json(node)) + "\n")
