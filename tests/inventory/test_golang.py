"""Go modules from a Go binary's build info, both formats, read as the layer streams."""

from __future__ import annotations

import struct

import pytest

from auditor.inventory.golang import go_release, parse_modinfo
from auditor.read.gobuildinfo import MAGIC, read_blob, strip_sentinels
from tests.inventory.kit import catalog
from tests.layerkit import F, tree_of

START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
MODINFO = (b"path\texample.com/app/cmd/app\n"
           b"mod\texample.com/app\tv1.4.0\th1:abc=\n"
           b"dep\tgithub.com/spf13/cobra\tv1.8.0\th1:def=\n"
           b"dep\tgolang.org/x/sys\tv0.15.0\th1:ghi=\n"
           b"=>\tgolang.org/x/sys\tv0.16.0\th1:jkl=\n"
           b"dep\tgolang.org/x/net\tv0.0.0-20231201-abcdef123456\th1:mno=\n"
           b"build\t-compiler=gc\nbuild\tCGO_ENABLED=0\nbuild\tGOARCH=arm64\n")
BASE = 0x400000


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def go_elf(version: bytes = b"go1.21.5", modinfo: bytes = MODINFO, inline: bool = True,
           rodata_pad: int = 0) -> bytes:
    """A small ELF64 laid out as Go's linker lays one out: text (R+X) from offset 0, then
    rodata (R), then data (RW) that starts with the build info header."""
    text = 0x1000
    info = START + modinfo + END
    rodata = b"\0" * rodata_pad + version + info
    ro_off = text
    data_off = (ro_off + len(rodata) + 0xFFF) & ~0xFFF
    if inline:
        data = (MAGIC + bytes([8, 2]) + b"\0" * 16 + _uvarint(len(version)) + version
                + _uvarint(len(info)) + info)
    else:
        v_addr, m_addr = BASE + ro_off + rodata_pad, BASE + ro_off + rodata_pad + len(version)
        headers = BASE + data_off + 32
        data = (MAGIC + bytes([8, 0]) + struct.pack("<QQ", headers, headers + 16)
                + struct.pack("<QQQQ", v_addr, len(version), m_addr, len(info)))
    data += b"\0" * 64
    note_off = 0x200  # Go's build-id note, as every Go binary has it early in the file
    note = struct.pack("<III", 4, 8, 4) + b"Go\0\0" + b"buildid!"
    phdrs = [(4, 4, note_off, len(note)), (1, 5, 0, text), (1, 4, ro_off, len(rodata)),
             (1, 6, data_off, len(data))]
    head = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, BASE, 64, 0, 0, 64, 56, len(phdrs), 64, 0, 0)
    for p_type, flags, offset, size in phdrs:
        head += struct.pack("<IIQQQQQQ", p_type, flags, offset, BASE + offset, BASE + offset,
                            size, size, 0x1000)
    body = (head.ljust(note_off, b"\0") + note).ljust(text, b"\xcc") + rodata
    return body.ljust(data_off, b"\0") + data


def modules(binary: bytes, path: str = "/app") -> dict[str, tuple[str, str | None]]:
    packages, skipped = catalog("golang", tree=tree_of([F(path, binary, mode=0o755)]))
    assert {p.ecosystem for p in packages} <= {"golang"}
    assert all(p.location == path and p.version_from == "Go build info" for p in packages)
    found: dict[str, tuple[str, str | None]] = {p.name: (p.version, p.arch) for p in packages}
    assert len(skipped) <= 1
    if skipped:
        found["!skipped"] = (skipped[0].reason, None)
    return found


EXPECTED = {"stdlib": ("1.21.5", "arm64"), "example.com/app": ("v1.4.0", "arm64"),
            "github.com/spf13/cobra": ("v1.8.0", "arm64"),
            "golang.org/x/sys": ("v0.16.0", "arm64"),  # the replacement is what was built
            "golang.org/x/net": ("v0.0.0-20231201-abcdef123456", "arm64")}


def test_inline_build_info_since_go_1_18() -> None:
    assert modules(go_elf()) == EXPECTED


def test_pointer_build_info_before_go_1_18() -> None:
    assert modules(go_elf(version=b"go1.16.15", inline=False)) == {
        **EXPECTED, "stdlib": ("1.16.15", "arm64")}


def test_pointer_strings_the_stream_has_passed_are_incomplete_not_wrong() -> None:
    # the strings lie 3 MiB before the data segment: past the prefix the reader keeps
    found = modules(go_elf(inline=False, rodata_pad=3 << 20))
    assert found == {"!skipped": ("Go build info not read: Go version and module list lie "
                                  "where the stream has passed", None)}


def test_a_go_binary_without_build_info_is_recorded() -> None:
    binary = go_elf().replace(MAGIC, b"\xff not buildinf")
    assert modules(binary) == {"!skipped": ("Go binary without readable build info", None)}


def test_a_binary_that_is_not_go_gives_nothing() -> None:
    binary = go_elf().replace(MAGIC, b"\xff not buildinf").replace(b"Go\0\0build",
                                                                  b"XX\0\0build")
    assert modules(binary) == {}


@pytest.mark.parametrize("window", [
    MAGIC + bytes([8, 2]) + b"\0" * 16 + b"\xff\xff\xff\xff\x0f",  # a length past the end
    MAGIC + bytes([8, 2]) + b"\0" * 16 + b"\x80" * 12,  # a varint that never ends
    MAGIC + bytes([3, 0]) + b"\0" * 16,  # an impossible pointer size
], ids=["length-past-end", "endless-varint", "pointer-size"])
def test_malformed_blobs_never_raise(window: bytes) -> None:
    blob = read_blob(window, lambda address, n: None)
    assert blob is not None and blob.incomplete


def test_an_unaligned_magic_is_not_a_header() -> None:
    assert read_blob(b"\0" * 3 + MAGIC + b"\0" * 32, lambda a, n: None) is None


def test_modinfo_lines() -> None:
    info = parse_modinfo(strip_sentinels(START + MODINFO + END))
    assert info.path == "example.com/app/cmd/app"
    assert info.main == ("example.com/app", "v1.4.0")
    assert info.settings["CGO_ENABLED"] == "0"
    assert go_release("go1.21.5 X:boringcrypto") == "1.21.5"


def test_random_access_reaches_pointer_strings_the_stream_would_have_passed() -> None:
    from auditor.read.elf import read_elf_facts

    binary = go_elf(inline=False, rodata_pad=3 << 20)
    facts = read_elf_facts(binary[:1024], lambda n: b"", len(binary),
                           read_at=lambda offset, n: binary[offset:offset + n])
    assert facts is not None and facts.go_buildinfo is not None
    assert facts.go_buildinfo.version == "go1.21.5" and not facts.go_buildinfo.inline
    assert parse_modinfo(facts.go_buildinfo.modinfo).main == ("example.com/app", "v1.4.0")
    assert facts.incomplete is None

