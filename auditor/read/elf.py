"""ELF facts read while a layer streams past: what a binary needs to load and run.

The layer pass reads each file once, forward only. The program headers and ``PT_INTERP``
sit in the first KiB, but ``PT_DYNAMIC`` (``DT_NEEDED``, ``DT_RPATH``, ``DT_RUNPATH``,
``DT_SONAME``) usually sits in the last writable segment, deep in the file, and the string
table its entries point into (``DT_STRTAB``, a virtual address) usually lies *before* it, in
the first read-only segment. So the reader keeps a bounded prefix of the file (2 MiB by
default, where GNU ld puts ``.dynstr``) while it walks forward to the dynamic section, then
maps the string table's address to a file offset through the ``PT_LOAD`` segments and reads
the names from that prefix, or further ahead when the strings come after. Strings that were
already passed and not kept make the facts ``incomplete``, never wrong.

An executable (not a library) may also be asked who it is: its read-only data, up to
``SCAN_BYTES``, is collected as it streams by (or read where it lies) and searched for the
identity strings of ``identity`` (``GNU bash, version %s``, BusyBox's banner and applet
table). The read-only segments are the ones after the first (which holds the headers and
the dynamic symbol names: a program that links libcurl names ``curl_easy_init`` there);
where a linker put ``.rodata`` into the code segment, those non-writable segments instead.
A runtime's binary or library (``bin/node``, ``libpython3.11.so``) has the same bytes
searched for its release literal (``ElfFacts.releases``), when the caller passes the
pattern ``identity.release_pattern`` gives for its path.

Malformed input never raises here: it gives None (not an ELF file at all) or facts whose
``incomplete`` says what could not be read. Only the ``read`` callable may raise (a tar that
ends early is the layer reader's error, not this file's).
"""

from __future__ import annotations

import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

from auditor.read import gobuildinfo
from auditor.read.elf_bytes import ForwardBytes, RandomBytes
from auditor.read.gobuildinfo import GoBuildInfoBlob
from auditor.read.identity import MULTICALL, applets_of, identify, releases

ELF_MAGIC = b"\x7fELF"
KEEP_BYTES = 2 * 1024 * 1024  # prefix kept while walking to PT_DYNAMIC
NOTE_SCAN_END = 64 * 1024  # notes later than this are read only if we pass them anyway
MAX_PHNUM = 4096
MAX_DYNAMIC = 64 * 1024  # a dynamic section is a few hundred bytes; refuse to hold more
MAX_STRING = 4096
# What a DT_NEEDED, DT_SONAME or run path string nearly always contains.
GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"
SCAN_BYTES = 1024 * 1024  # read-only data searched for identity strings, per file

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
PF_X, PF_W = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ = 0, 1, 5, 10
DT_SONAME, DT_RPATH, DT_RUNPATH = 14, 15, 29
NT_GO_BUILDID = 4

ELF_TYPES = {1: "rel", 2: "exec", 3: "dyn", 4: "core"}
# e_machine numbers from the System V gABI registry; 64-bit variants named by class below.
MACHINES = {2: "sparc", 3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390",
            40: "arm", 43: "sparcv9", 50: "ia64", 62: "x86_64", 183: "aarch64",
            243: "riscv", 258: "loongarch"}
_BY_CLASS = {("s390", 64): "s390x", ("riscv", 64): "riscv64", ("riscv", 32): "riscv32",
             ("loongarch", 64): "loongarch64", ("loongarch", 32): "loongarch32"}


@dataclass(frozen=True, slots=True)
class ElfFacts:
    """What one ELF file needs from its image. Kept per file in memory, so small.

    ``is_static``: the file needs no other object to be loaded: it has no ``PT_INTERP`` and
    either no ``PT_DYNAMIC`` (classic ``-static``) or a dynamic section that was read and has
    no ``DT_NEEDED`` (``-static-pie``, and the dynamic loader itself). False for relocatable
    objects and core files, and when the dynamic section could not be read.
    """

    elf_class: int  # 32 or 64
    endian: str  # "little" or "big"
    machine: str  # "x86_64", "aarch64", "i386", ... or "machine-N"
    elf_type: str  # "exec", "dyn", "rel", "core", or "type-N"
    interpreter: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()  # $ORIGIN kept verbatim
    runpath: tuple[str, ...] = ()
    soname: str | None = None
    dynamic: bool = False  # has a PT_DYNAMIC segment
    is_static: bool = False
    is_go: bool = False
    go_buildinfo: GoBuildInfoBlob | None = None  # a Go binary's version and module list
    incomplete: str | None = None
    # Programs whose identity strings the read-only data holds: (command, what matched);
    # asked for executables only (``identify``).
    identity: tuple[tuple[str, str], ...] = ()
    applets: tuple[str, ...] = ()  # a multi-call binary's own applet table
    releases: tuple[str, ...] = ()  # a runtime's release literals (``release_pattern``)


class _Dynamic(NamedTuple):
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    soname: str | None = None
    n_needed: int = 0  # DT_NEEDED entries, named or not (their strings may be unreadable)


def _machine_name(number: int, elf_class: int) -> str:
    base = MACHINES.get(number)
    if base is None:
        return f"machine-{number}"
    return _BY_CLASS.get((base, elf_class), base)


def _cstring(data: bytes) -> str:
    end = data.find(b"\0")
    return sys.intern((data if end < 0 else data[:end]).decode("utf-8", "surrogateescape"))


def read_elf_facts(head: bytes, read: Callable[[int], bytes], size: int,
                   keep: int = KEEP_BYTES,
                   read_at: Callable[[int, int], bytes | None] | None = None,
                   skip: Callable[[int], int] | None = None,
                   identify_as: bool = False,
                   release: re.Pattern[bytes] | None = None) -> ElfFacts | None:
    """Facts of the ELF file whose first bytes are ``head`` and whose rest ``read`` gives.

    ``read(n)`` returns the next ``n`` bytes after all read so far (fewer at end of file).
    Reads forward only as far as the dynamic section (or the notes, for a file without
    one) and keeps at most ``keep`` bytes besides the small regions it parses. With
    ``read_at(offset, n)`` (random access) it reads only the regions it parses. With
    ``skip(n)`` it passes over code and writable data without reading them: only the
    prefix up to the first code segment, read-only segments and the parsed regions are
    read. With ``identify_as`` (an executable) the read-only data is searched for the
    identity strings of known programs as well (``ElfFacts.identity``); with ``release``
    (a runtime's file) for that pattern's versions (``ElfFacts.releases``).
    """
    if not head.startswith(ELF_MAGIC):
        return None
    stream: ForwardBytes | RandomBytes = (ForwardBytes(head, read, keep, skip) if read_at is None
                                  else RandomBytes(head, read_at, size))
    ident = stream.take(0, 64)
    if ident is None or len(ident) < 52 or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    elf_class = 32 if ident[4] == 1 else 64
    order = "<" if ident[5] == 1 else ">"
    if elf_class == 64 and len(ident) < 64:
        return None
    e_type, e_machine = struct.unpack_from(order + "HH", ident, 16)
    if elf_class == 64:
        phoff, = struct.unpack_from(order + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
    else:
        phoff, = struct.unpack_from(order + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
    base = ElfFacts(elf_class, "little" if order == "<" else "big",
                    _machine_name(e_machine, elf_class), ELF_TYPES.get(e_type, f"type-{e_type}"))
    if e_type not in (2, 3):  # objects and core dumps load nothing
        return base
    return _Program(stream, order, elf_class, size, identify_as, release).read(
        phoff, phentsize, phnum, base)


class _Program:
    """The program-header walk of one executable or shared object."""

    def __init__(self, stream: ForwardBytes | RandomBytes, order: str, elf_class: int, size: int,
                 identify_as: bool = False, release: re.Pattern[bytes] | None = None) -> None:
        self.stream = stream
        self.identify_as = identify_as
        self.release = release
        self.order = order
        self.is64 = elf_class == 64
        self.size = size
        self.problems: list[str] = []
        self.loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        self.data_segment: tuple[int, int] | None = None  # (offset, filesz): build info

    def _phdrs(self, phoff: int, phentsize: int, phnum: int
               ) -> list[tuple[int, int, int, int, int, int]]:
        """(type, offset, vaddr, filesz, align, flags) of every program header that could
        be read."""
        minimum = 56 if self.is64 else 32
        if phnum == 0:
            return []
        if phentsize < minimum or phnum > MAX_PHNUM:
            self.problems.append("program header table is malformed")
            return []
        table = self.stream.take(phoff, phentsize * phnum)
        if table is None or len(table) < phentsize * phnum:
            self.problems.append("program header table lies past the end of the file")
            return []
        fmt = self.order + ("IIQQQQQQ" if self.is64 else "IIIIIIII")
        out = []
        for i in range(phnum):
            fields = struct.unpack_from(fmt, table, i * phentsize)
            if self.is64:
                p_type, p_flags, p_offset, p_vaddr, _, p_filesz, _, p_align = fields
            else:
                p_type, p_offset, p_vaddr, _, p_filesz, _, p_flags, p_align = fields
            if p_type == PT_LOAD and not p_flags & (PF_X | PF_W) and self.stream.indexing:
                self.stream.index_ranges.append((p_offset, p_offset + p_filesz))
            elif p_type == PT_LOAD and p_flags & PF_X and p_offset > 0:
                self.stream.end_prefix(p_offset)
            if p_type == PT_LOAD and p_flags & (PF_X | PF_W) == PF_W and \
                    self.data_segment is None:
                self.data_segment = (p_offset, p_filesz)
            out.append((p_type, p_offset, p_vaddr, p_filesz, p_align, p_flags))
        return out

    def read(self, phoff: int, phentsize: int, phnum: int, base: ElfFacts) -> ElfFacts:
        phdrs = self._phdrs(phoff, phentsize, phnum)
        self.loads = [(v, o, f) for t, o, v, f, _, _ in phdrs if t == PT_LOAD]
        interp = next(((o, f) for t, o, _, f, _, _ in phdrs if t == PT_INTERP), None)
        dynamic = next(((o, f) for t, o, _, f, _, _ in phdrs if t == PT_DYNAMIC), None)
        notes = [(o, f, a) for t, o, _, f, a, _ in phdrs if t == PT_NOTE]
        # Watched from the first region at or past the read-only data on: by then the
        # notes have said whether this is a Go program, which is not searched.
        rodata = self._rodata(phdrs) if self.identify_as or self.release else []
        watching = False
        note_end = max(NOTE_SCAN_END, dynamic[0] if dynamic else 0)
        # Regions in file order, so the forward stream passes each one once.
        regions: list[tuple[int, str, int, int]] = []
        if interp:
            regions.append((interp[0], "interp", min(interp[1], MAX_STRING), 0))
        regions += [(o, "note", min(f, NOTE_SCAN_END), a) for o, f, a in notes if o < note_end]
        if dynamic:
            if dynamic[1] > MAX_DYNAMIC:
                self.problems.append("dynamic section is implausibly large; read in part")
            regions.append((dynamic[0], "dynamic", min(dynamic[1], MAX_DYNAMIC), 0))
        if self.data_segment is not None:  # read only if the binary turns out to be Go
            regions.append((self.data_segment[0], "buildinfo",
                            min(self.data_segment[1], gobuildinfo.WINDOW), 0))
        regions.sort()
        interpreter: str | None = None
        is_go = False
        dyn_bytes: bytes | None = None
        window: tuple[int, bytes] | None = None  # the build info window, once read
        for offset, kind, length, align in regions:
            if rodata and not watching and offset >= rodata[0][0]:
                watching = self._watch(rodata, is_go)
            if offset + length > self.size:
                self.problems.append(f"{kind} segment lies past the end of the file")
                continue
            if kind == "buildinfo":
                is_go = is_go or GO_BUILDINFO_MAGIC in self.stream.buf
                data = self.stream.take(offset, length) if is_go else None
                window = (offset, data) if data else None
                continue
            if window is not None and window[0] <= offset and \
                    offset + length <= window[0] + len(window[1]):
                data = window[1][offset - window[0]:offset - window[0] + length]
            else:
                data = self.stream.take(offset, length)
            if data is None or len(data) < length:
                self.problems.append(f"{kind} segment could not be read")
                continue
            if kind == "interp":
                interpreter = _cstring(data) or None
            elif kind == "note":
                is_go = is_go or self._has_go_note(data, align)
            else:
                dyn_bytes = data
        dyn = self._dynamic(dyn_bytes) if dyn_bytes is not None else _Dynamic()
        if rodata and not watching:
            watching = self._watch(rodata, is_go)
        identity, applets = self._identity() if watching and self.identify_as else ((), ())
        found = releases(self.release, self.stream.watched()) if watching and self.release \
            else ()
        if not is_go:
            is_go = GO_BUILDINFO_MAGIC in self.stream.buf
        blob = self._buildinfo(window[1]) if window is not None else None
        read_dynamic = dynamic is None or dyn_bytes is not None
        return replace(
            base, needed=dyn.needed, rpath=dyn.rpath, runpath=dyn.runpath, soname=dyn.soname,
            interpreter=interpreter,
            dynamic=dynamic is not None,
            is_static=interpreter is None and read_dynamic and dyn.n_needed == 0,
            is_go=is_go, go_buildinfo=blob, identity=identity, applets=applets,
            releases=found,
            incomplete="; ".join(dict.fromkeys(self.problems)) or None,
        )

    def _rodata(self, phdrs: list[tuple[int, int, int, int, int, int]]
                ) -> list[tuple[int, int]]:
        """Where the read-only data lies (see the module doc), at most ``SCAN_BYTES``."""
        loads = [(o, min(o + f, self.size), flags) for t, o, _, f, _, flags in phdrs
                 if t == PT_LOAD and f > 0 and o < self.size]
        ranges = [(lo, hi) for lo, hi, flags in loads if not flags & (PF_X | PF_W) and lo > 0]
        if not ranges:
            ranges = [(lo, hi) for lo, hi, flags in loads if not flags & PF_W]
        out: list[tuple[int, int]] = []
        left = SCAN_BYTES
        for low, high in sorted(ranges):
            low = max(low, out[-1][1] if out else 0)
            if low < high and left > 0:
                out.append((low, min(high, low + left)))
                left -= out[-1][1] - low
        return out

    def _watch(self, rodata: list[tuple[int, int]], is_go: bool) -> bool:
        # None of the programs read/identity knows is written in Go, and a Go program's
        # read-only data is megabytes of type and symbol names.
        if not is_go:
            self.stream.watch(rodata)
        return not is_go

    def _identity(self) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
        parts = self.stream.watched()
        found: dict[str, str] = {}
        for part in parts:
            for command, what in identify(part):
                found.setdefault(command, what)
        applets: tuple[str, ...] = ()
        program = next((c for c in found if c in MULTICALL), None)
        if program is not None:
            applets = max((applets_of(program, part) for part in parts), key=len, default=())
        return tuple(found.items()), applets

    def _has_go_note(self, data: bytes, align: int) -> bool:
        """Whether a PT_NOTE segment holds Go's build-id note (name "Go", type 4)."""
        step = 8 if align == 8 else 4
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack_from(self.order + "III", data, pos)
            name_at = pos + 12
            if data[name_at:name_at + namesz].rstrip(b"\0") == b"Go" and ntype == NT_GO_BUILDID:
                return True
            pos = name_at + -(-namesz // step) * step
            pos += -(-descsz // step) * step
            if namesz > len(data) or descsz > len(data):
                break
        return False

    def _buildinfo(self, window: bytes) -> GoBuildInfoBlob | None:
        """The build info at the start of the data segment; the old format's strings are
        read through their addresses, where the stream can still reach them."""

        def read_vaddr(vaddr: int, n: int) -> bytes | None:
            offset = self._file_offset(vaddr)
            if offset is None or offset + n > self.size:
                return None
            return self.stream.take(offset, n)

        blob = gobuildinfo.read_blob(window, read_vaddr)
        if blob is not None and blob.incomplete:
            self.problems.append(blob.incomplete)
        return blob

    def _file_offset(self, vaddr: int) -> int | None:
        for start, offset, filesz in self.loads:
            if start <= vaddr < start + filesz:
                return offset + (vaddr - start)
        return None

    def _dynamic(self, data: bytes) -> _Dynamic:
        entry = 16 if self.is64 else 8
        fmt = self.order + ("qQ" if self.is64 else "iI")
        tags: list[tuple[int, int]] = []
        strtab: int | None = None
        strsz = 0
        for pos in range(0, len(data) - entry + 1, entry):
            tag, value = struct.unpack_from(fmt, data, pos)
            if tag == DT_NULL:
                break
            if tag == DT_STRTAB:
                strtab = value
            elif tag == DT_STRSZ:
                strsz = value
            elif tag in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH):
                tags.append((tag, value))
        n_needed = sum(1 for tag, _ in tags if tag == DT_NEEDED)
        if not tags:
            return _Dynamic()
        table = None if strtab is None else self._file_offset(strtab)
        if table is None:
            self.problems.append("dynamic string table is outside the loaded segments")
            return _Dynamic(n_needed=n_needed)
        strings: dict[int, str] = {}
        for value in sorted({v for _, v in tags}):
            text = self._string(table + value, strsz - value if strsz > value else MAX_STRING)
            if text is not None:
                strings[value] = text
        needed: list[str] = []
        rpath: list[str] = []
        runpath: list[str] = []
        soname: str | None = None
        for tag, value in tags:
            text = strings.get(value)
            if text is None:
                continue
            if tag == DT_NEEDED:
                needed.append(text)
            elif tag == DT_SONAME:
                soname = text
            else:
                (rpath if tag == DT_RPATH else runpath).extend(d for d in text.split(":") if d)
        return _Dynamic(tuple(needed), tuple(rpath), tuple(runpath), soname, n_needed)

    def _string(self, offset: int, limit: int) -> str | None:
        limit = min(limit, MAX_STRING)
        buf = self.stream.buf
        if offset < len(buf):
            end = buf.find(b"\0", offset, offset + limit)
            if end >= 0:
                return sys.intern(buf[offset:end].decode("utf-8", "surrogateescape"))
        if offset >= self.size:
            self.problems.append("a dynamic string lies past the end of the file")
            return None
        data = self.stream.take(offset, limit)
        if data is None:
            data = self.stream.indexed_string(offset)
        if data is None:
            self.problems.append(
                f"dynamic strings lie beyond the first {self.stream.keep // 1024} KiB kept")
            return None
        return _cstring(data)
