import pytest

from auditor.inventory import load_catalogers
from auditor.read.globs import compile_globs
from auditor.read.wants import ContentWants

EXPECTED = ["apk", "dpkg", "golang", "java", "npm", "python", "rpm", "runtimes"]
# golang reads the build info the ELF reader takes from every Go binary: no wants
WITH_WANTS = [name for name in EXPECTED if name != "golang"]


def test_every_ecosystem_has_a_cataloger():
    assert sorted(load_catalogers()) == EXPECTED


@pytest.mark.parametrize("name", WITH_WANTS)
def test_wants_are_bounded_and_compile(name):
    wants = load_catalogers()[name].wants
    assert wants
    for want in wants:
        assert 0 < want.max_bytes <= 64 * 1024 * 1024, want
        compile_globs([want.glob])


@pytest.mark.parametrize("path, kept", [
    ("/var/lib/dpkg/status", 16 << 20),
    ("/var/lib/dpkg/info/libc6:amd64.list", 8 << 20),
    ("/var/lib/dpkg/info/libc6.md5sums", 0),
    ("/var/lib/dpkg/status-old", 0),
    ("/lib/apk/db/installed", 32 << 20),
    ("/usr/lib/sysimage/rpm/rpmdb.sqlite", 64 << 20),
    ("/usr/lib/python3/dist-packages/six-1.16.0.egg-info", 64 << 10),
    ("/opt/venv/lib/python3.12/site-packages/a-1.dist-info/METADATA", 64 << 10),
    ("/opt/venv/lib/python3.12/site-packages/a-1.dist-info/RECORD", 8 << 20),
    ("/opt/venv/lib/python3.12/site-packages/a/METADATA", 0),
    ("/app/node_modules/@types/node/package.json", 512 << 10),
    ("/app/node_modules/a/node_modules/b/package.json", 512 << 10),
    ("/app/node_modules/a/lib/package.json", 0),
    ("/app/package.json", 0),
    ("/app/package-lock.json", 32 << 20),
    ("/usr/bin/bash", 0),
    ("/opt/app/lib/log4j-core-2.17.1.jar", 64 << 10),  # the head; the walk reads on
    ("/usr/local/tomcat/webapps/app.war", 64 << 10),
    ("/opt/java/openjdk/release", 64 << 10),
    ("/usr/local/go/VERSION", 4 << 10),
    ("/usr/local/include/node/node_version.h", 64 << 10),
    ("/usr/local/include/python3.12/patchlevel.h", 64 << 10),
    ("/bin/busybox", 0),  # its banner is found by the ELF reader, not read whole
    ("/opt/java/openjdk/lib/modules", 0),
], ids=lambda v: str(v))
def test_only_database_files_are_kept(path, kept):
    wants = ContentWants([w for c in load_catalogers().values() for w in c.wants],
                         executable_prefix=0)
    assert wants.limit(path, 0o644) == kept
