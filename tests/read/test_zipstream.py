"""The Java archive walk the layer pass does: bounded memory however long the archive."""

from __future__ import annotations

import io
import os
import random
import tracemalloc
import zipfile

from auditor.read.zipstream import read_archive_members


def _fat_jar(libraries: int, filler: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as outer:
        outer.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for i in range(libraries):
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as lib:
                lib.writestr("META-INF/MANIFEST.MF", f"Implementation-Version: {i}\n")
                lib.writestr("data.bin", os.urandom(filler), zipfile.ZIP_STORED)
                lib.writestr(f"META-INF/maven/g/a{i}/pom.properties",
                             f"groupId=g\nartifactId=a{i}\nversion={i}\n")
            outer.writestr(f"BOOT-INF/lib/a{i}.jar", inner.getvalue())
    return buf.getvalue()


def test_a_long_archive_is_walked_in_bounded_memory() -> None:
    data = _fat_jar(libraries=24, filler=1 << 20)  # 24 MiB, every library past the first MiB
    stream = io.BytesIO(data)
    head = stream.read(64 << 10)
    tracemalloc.start()
    try:
        facts = read_archive_members(head, stream.read)  # no skip: every byte read, dropped
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert facts.problems == ()
    poms = [inner for inner, name, _ in facts.members if name.endswith("pom.properties")]
    assert poms == [f"BOOT-INF/lib/a{i}.jar" for i in range(24)]
    assert peak < 1 << 20, f"peak {peak} bytes for a {len(data)} byte archive"


def test_mangled_archives_never_raise() -> None:
    data = _fat_jar(libraries=3, filler=2000)
    rng = random.Random(7)
    for _ in range(300):
        mangled = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        cut = bytes(mangled[:rng.randint(30, len(mangled))])
        stream = io.BytesIO(cut)
        facts = read_archive_members(stream.read(4096), stream.read)
        assert len(facts.problems) <= 5 and facts.kept <= len(cut) * 2 + 4096
