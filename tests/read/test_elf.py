"""ELF facts from real gcc-built binaries and from hand-built ELF images, read forward only."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from auditor.read.elf import ElfFacts, read_elf_facts

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
LIB_C = "int answer(void) { return 42; }\n"


@dataclass
class ForwardReader:
    """A file as the layer reader offers it: ``read(n)`` gives the next bytes, never earlier
    ones. Records every read so tests can check how far the parser went."""

    data: bytes
    pos: int = 0
    reads: list[tuple[int, int]] = field(default_factory=list)

    def read(self, n: int) -> bytes:
        assert n >= 0, "a negative read would go backwards"
        start = self.pos
        chunk = self.data[start:start + n]
        self.pos += len(chunk)
        assert self.pos >= start
        self.reads.append((start, len(chunk)))
        return chunk

    def skip(self, n: int) -> int:
        assert n >= 0, "a negative skip would go backwards"
        passed = max(0, min(n, len(self.data) - self.pos))
        self.pos += passed
        return passed


def facts_of(data: bytes, head: int = 1024, keep: int | None = None, identify_as: bool = False
             ) -> tuple[ElfFacts | None, ForwardReader]:
    reader = ForwardReader(data, pos=min(head, len(data)))
    kwargs = {} if keep is None else {"keep": keep}
    facts = read_elf_facts(data[:head], reader.read, len(data), identify_as=identify_as,
                           **kwargs)
    return facts, reader


# -- real binaries built with the machine's gcc ----------------------------------------------

def _gcc(tmp: Path, name: str, source: str, *flags: str) -> Path | None:
    src = tmp / f"{name}.c"
    src.write_text(source)
    out = tmp / name
    done = subprocess.run(["gcc", *flags, "-o", str(out), str(src)], capture_output=True)
    return out if done.returncode == 0 else None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | None]:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc on this machine")
    tmp = tmp_path_factory.mktemp("elf")
    return {
        "dynamic": _gcc(tmp, "dynamic", HELLO_C),
        "static": _gcc(tmp, "static", HELLO_C, "-static"),
        "static-pie": _gcc(tmp, "static-pie", HELLO_C, "-static-pie"),
        "shared-runpath": _gcc(tmp, "libanswer.so", LIB_C, "-shared", "-fPIC",
                               "-Wl,-soname,libanswer.so.1", "-Wl,-rpath,$ORIGIN/../lib"),
        "shared-rpath": _gcc(tmp, "libold.so", LIB_C, "-shared", "-fPIC",
                             "-Wl,--disable-new-dtags", "-Wl,-rpath,/opt/a/lib:$ORIGIN"),
        "object": _gcc(tmp, "hello.o", HELLO_C, "-c"),
        "m32": _gcc(tmp, "m32", HELLO_C, "-m32"),
    }


def _binary(built: dict[str, Path | None], name: str) -> bytes:
    path = built[name]
    if path is None:
        pytest.skip(f"gcc cannot build the {name} case here")
    return path.read_bytes()


def test_dynamic_executable(built: dict[str, Path | None]) -> None:
    data = _binary(built, "dynamic")
    facts, reader = facts_of(data)
    assert facts is not None and facts.incomplete is None
    assert (facts.elf_class, facts.endian, facts.elf_type) == (64, "little", "dyn")
    assert facts.machine in ("x86_64", "aarch64")
    assert facts.interpreter is not None and "ld-linux" in facts.interpreter
    assert "libc.so.6" in facts.needed
    assert facts.dynamic and not facts.is_static and not facts.is_go
    # it stopped at the dynamic section, well before the section headers at the end
    assert reader.pos < len(data)


@pytest.mark.parametrize("name", ["static", "static-pie"])
def test_static_binaries_need_nothing(built: dict[str, Path | None], name: str) -> None:
    facts, _ = facts_of(_binary(built, name))
    assert facts is not None and facts.incomplete is None
    assert facts.interpreter is None and facts.needed == ()
    assert facts.is_static
    assert facts.dynamic == (name == "static-pie")
    assert facts.elf_type == ("exec" if name == "static" else "dyn")


def test_shared_library_soname_and_runpath(built: dict[str, Path | None]) -> None:
    facts, _ = facts_of(_binary(built, "shared-runpath"))
    assert facts is not None and facts.incomplete is None
    assert facts.soname == "libanswer.so.1"
    assert facts.runpath == ("$ORIGIN/../lib",)
    assert facts.rpath == ()
    assert facts.interpreter is None


def test_old_style_rpath_keeps_origin_and_splits_dirs(built: dict[str, Path | None]) -> None:
    facts, _ = facts_of(_binary(built, "shared-rpath"))
    assert facts is not None
    assert facts.rpath == ("/opt/a/lib", "$ORIGIN")
    assert facts.runpath == ()


def test_relocatable_object_loads_nothing(built: dict[str, Path | None]) -> None:
    facts, reader = facts_of(_binary(built, "object"))
    assert facts is not None
    assert facts.elf_type == "rel" and not facts.is_static and facts.needed == ()
    assert reader.reads == []  # the header was enough


def test_32_bit_build(built: dict[str, Path | None]) -> None:
    facts, _ = facts_of(_binary(built, "m32"))
    assert facts is not None and facts.incomplete is None
    assert facts.elf_class == 32 and facts.machine == "i386"
    assert "libc.so.6" in facts.needed


@pytest.mark.parametrize("keep", [64, 4096], ids=["keep-64-bytes", "keep-4-KiB"])
@pytest.mark.parametrize("name", ["dynamic", "shared-runpath", "shared-rpath"])
def test_strings_past_the_kept_prefix_are_still_found(built: dict[str, Path | None], name: str,
                                                      keep: int) -> None:
    data = _binary(built, name)
    full, _ = facts_of(data)
    small, _ = facts_of(data, head=64, keep=keep)
    assert small == full


@pytest.mark.parametrize("head", [64, 200, 1024, 1 << 30], ids=["64", "200", "1k", "whole"])
def test_any_head_length_gives_the_same_facts(built: dict[str, Path | None], head: int) -> None:
    data = _binary(built, "dynamic")
    assert facts_of(data, head=head)[0] == facts_of(data)[0]


def test_truncated_real_binaries_never_raise(built: dict[str, Path | None]) -> None:
    data = _binary(built, "dynamic")
    cuts = sorted({0, 4, 16, 51, 52, 63, 64, 100, 500, 1000, 2000, 4096, 8192,
                   len(data) // 2, len(data) - 100, len(data) - 1})
    for cut in cuts:
        facts, _ = facts_of(data[:cut])
        if cut < 64:
            assert facts is None
        elif cut < len(data) // 2:
            assert facts is None or facts.incomplete or facts.needed == ()


# -- hand-built ELF images: layouts gcc does not make here --------------------------------

def synth_elf(*, is64: bool = True, big: bool = False, machine: int = 62, etype: int = 3,
              interp: bytes | None = b"/lib/ld-musl-x86_64.so.1",
              needed: tuple[str, ...] = ("libc.musl-x86_64.so.1",),
              soname: str | None = None, runpath: str | None = None,
              strings_after_dynamic: bool = False, gap: int = 0, go_note: bool = False,
              strtab_outside: bool = False) -> bytes:
    """A minimal ELF: header, program headers, interp, note, strings, dynamic, one PT_LOAD
    mapping the whole file at 0x10000 (so addresses differ from offsets)."""
    o = ">" if big else "<"
    ehsize, phent = (64, 56) if is64 else (52, 32)
    strtab = b"\0"
    offsets: dict[str, int] = {}
    for name in (*needed, soname, runpath):
        if name is not None and name not in offsets:
            offsets[name] = len(strtab)
            strtab += name.encode() + b"\0"
    note = b""
    if go_note:
        note = struct.pack(o + "III", 4, 8, 4) + b"Go\0\0" + b"buildid!"
    dyn_fmt = o + ("qQ" if is64 else "iI")
    n_dyn = len(needed) + (soname is not None) + (runpath is not None) + 3
    dyn_size = n_dyn * struct.calcsize(dyn_fmt)
    phnum = 3 + bool(interp) + bool(note)
    cursor = ehsize + phnum * phent
    interp_off = cursor
    cursor += len(interp or b"")
    note_off = cursor
    cursor += len(note)
    if strings_after_dynamic:
        dyn_off = cursor + gap
        str_off = dyn_off + dyn_size
    else:
        str_off = cursor
        dyn_off = str_off + len(strtab) + gap
    total = max(dyn_off + dyn_size, str_off + len(strtab))
    vbase = 0x10000
    entries = [(1, offsets[n]) for n in needed]
    if soname is not None:
        entries.append((14, offsets[soname]))
    if runpath is not None:
        entries.append((29, offsets[runpath]))
    entries += [(5, (0x900000 if strtab_outside else vbase + str_off)), (10, len(strtab)), (0, 0)]
    dynamic = b"".join(struct.pack(dyn_fmt, t, v) for t, v in entries)

    def phdr(ptype: int, off: int, size: int, align: int = 8) -> bytes:
        if is64:
            return struct.pack(o + "IIQQQQQQ", ptype, 4, off, vbase + off, vbase + off,
                               size, size, align)
        return struct.pack(o + "IIIIIIII", ptype, off, vbase + off, vbase + off, size, size,
                           4, align)

    phdrs = phdr(1, 0, total, 0x1000) + phdr(2, dyn_off, dyn_size) + phdr(0x6474E551, 0, 0)
    if interp:
        phdrs += phdr(3, interp_off, len(interp), 1)
    if note:
        phdrs += phdr(4, note_off, len(note), 4)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + bytes(9)
    if is64:
        header = struct.pack(o + "16sHHIQQQIHHHHHH", ident, etype, machine, 1, 0, ehsize, 0, 0,
                             ehsize, phent, phnum, 0, 0, 0)
    else:
        header = struct.pack(o + "16sHHIIIIIHHHHHH", ident, etype, machine, 1, 0, ehsize, 0, 0,
                             ehsize, phent, phnum, 0, 0, 0)
    image = bytearray(total)
    for off, blob in ((0, header), (ehsize, phdrs), (interp_off, interp or b""),
                      (note_off, note), (str_off, strtab), (dyn_off, dynamic)):
        image[off:off + len(blob)] = blob
    return bytes(image)


@pytest.mark.parametrize(("is64", "big", "machine", "name"), [
    (True, False, 183, "aarch64"),
    (True, True, 22, "s390x"),
    (False, True, 20, "ppc"),
    (False, False, 40, "arm"),
    (True, False, 243, "riscv64"),
    (True, False, 9999, "machine-9999"),
], ids=["aarch64-le64", "s390x-be64", "ppc-be32", "arm-le32", "riscv64", "unknown-machine"])
def test_classes_endians_and_machines(is64: bool, big: bool, machine: int, name: str) -> None:
    facts, _ = facts_of(synth_elf(is64=is64, big=big, machine=machine, soname="libx.so.2",
                                  runpath="$ORIGIN:/usr/lib/x"))
    assert facts is not None and facts.incomplete is None
    assert facts.elf_class == (64 if is64 else 32)
    assert facts.endian == ("big" if big else "little")
    assert facts.machine == name
    assert facts.interpreter == "/lib/ld-musl-x86_64.so.1"
    assert facts.needed == ("libc.musl-x86_64.so.1",)
    assert facts.soname == "libx.so.2"
    assert facts.runpath == ("$ORIGIN", "/usr/lib/x")


def test_strings_after_the_dynamic_section_are_read_forward() -> None:
    data = synth_elf(strings_after_dynamic=True, gap=3 << 20, needed=("liba.so.1", "libb.so"))
    facts, reader = facts_of(data)
    assert facts is not None and facts.incomplete is None
    assert facts.needed == ("liba.so.1", "libb.so")
    assert reader.pos <= len(data)


def test_strings_long_before_a_deep_dynamic_section_come_from_the_kept_prefix() -> None:
    data = synth_elf(gap=5 << 20, needed=("libz.so.1",))
    facts, reader = facts_of(data)
    assert facts is not None and facts.needed == ("libz.so.1",)
    assert reader.pos == len(data)  # the dynamic section is the last thing in this file


def test_unnamed_strings_past_the_prefix_make_facts_incomplete() -> None:
    # names with none of the shapes the index looks for, past a tiny kept prefix
    data = synth_elf(gap=4096, needed=("weird-name",), interp=None)
    facts, _ = facts_of(data, head=64, keep=64)
    assert facts is not None
    assert facts.needed == ()
    assert facts.incomplete is not None and "beyond the first" in facts.incomplete
    assert not facts.is_static  # a DT_NEEDED was there, even if unnamed


def test_string_table_outside_the_loaded_segments_is_reported() -> None:
    facts, _ = facts_of(synth_elf(strtab_outside=True))
    assert facts is not None and facts.needed == ()
    assert facts.incomplete == "dynamic string table is outside the loaded segments"


def test_go_build_id_note() -> None:
    facts, _ = facts_of(synth_elf(go_note=True, interp=None, needed=()))
    assert facts is not None and facts.is_go and facts.is_static


def test_go_buildinfo_magic_in_the_bytes_read() -> None:
    data = bytearray(synth_elf(interp=None, needed=(), gap=4096))
    data[2000:2014] = b"\xff Go buildinf:"
    facts, _ = facts_of(bytes(data))
    assert facts is not None and facts.is_go


def test_a_dynamic_section_past_the_end_of_the_file() -> None:
    data = synth_elf(gap=10000)
    facts, _ = facts_of(data[:5000])
    assert facts is not None
    assert facts.incomplete is not None and "past the end" in facts.incomplete
    assert not facts.is_static


@pytest.mark.parametrize("data", [
    b"\x7fELF", b"\x7fELF" + bytes(60), b"\x7fELF\x03\x01" + bytes(100),
    b"\x7fELF\x02\x01\x01" + b"\xff" * 200, b"not an elf at all" * 10,
], ids=["magic-only", "zeros", "bad-class", "all-ones", "not-elf"])
def test_garbage_is_not_an_elf_or_says_incomplete(data: bytes) -> None:
    facts, _ = facts_of(data)
    assert facts is None or facts.incomplete is not None or facts.needed == ()


def test_random_corruption_never_raises() -> None:
    rng = random.Random(4)
    seeds = [synth_elf(), synth_elf(is64=False, big=True, go_note=True),
             synth_elf(strings_after_dynamic=True, soname="libq.so")]
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(4, len(data))
            data[pos] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(4, len(data)):]
        facts_of(bytes(data), head=rng.choice([64, 128, 1024]), identify_as=rng.random() < 0.5)


# -- the three ways the layer reader offers a file give the same facts ------------------------

def facts_three_ways(data: bytes, identify_as: bool = False) -> tuple[ElfFacts | None, ...]:
    forward = facts_of(data, identify_as=identify_as)[0]
    skipping = ForwardReader(data, pos=min(1024, len(data)))
    skipped = read_elf_facts(data[:1024], skipping.read, len(data), skip=skipping.skip,
                             identify_as=identify_as)
    random_access = read_elf_facts(data[:1024], ForwardReader(data).read, len(data),
                                   read_at=lambda off, n: data[off:off + n],
                                   identify_as=identify_as)
    return forward, skipped, random_access


def _host_elf_files(limit: int = 2000) -> list[Path]:
    found = []
    for root in ("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec"):
        for path in sorted(Path(root).rglob("*")) if Path(root).is_dir() else []:
            if len(found) >= limit:
                return found
            try:
                if path.is_file() and not path.is_symlink() and path.open("rb").read(4) \
                        == b"\x7fELF":
                    found.append(path)
            except OSError:
                continue
    return found


def test_forward_skipping_and_random_access_agree_on_this_machines_binaries() -> None:
    files = _host_elf_files()
    if len(files) < 50:
        pytest.skip("too few ELF files on this machine")
    complete = 0
    for path in files:
        forward, skipped, random_access = facts_three_ways(path.read_bytes())
        assert skipped == forward, path
        # Random access reaches strings a forward read had to pass (an old-layout library
        # with its strings deep in one big segment): it may be complete where they are not.
        assert random_access == forward or (
            forward is not None and forward.incomplete and random_access is not None
            and random_access.incomplete is None), path
        complete += forward is not None and forward.incomplete is None
    assert complete > len(files) * 0.9


def test_identity_is_the_same_read_three_ways_and_leaves_other_facts_alone() -> None:
    files = [p for p in _host_elf_files() if p.parent.name in ("bin", "sbin")][:300]
    if len(files) < 50:
        pytest.skip("too few ELF programs on this machine")
    for path in files:
        data = path.read_bytes()
        ways = facts_three_ways(data, identify_as=True)
        assert len({(f.identity, f.applets) if f else None for f in ways}) == 1, path
        plain = facts_three_ways(data)[1]
        if ways[1] is not None and plain is not None:
            assert replace(ways[1], identity=(), applets=()) == plain, path


def test_forward_skipping_and_random_access_agree_on_built_binaries(
        built: dict[str, Path | None]) -> None:
    for name, path in built.items():
        if path is not None:
            forward, skipped, random_access = facts_three_ways(path.read_bytes())
            assert skipped == forward == random_access, name
