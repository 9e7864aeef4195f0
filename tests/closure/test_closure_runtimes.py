"""The runtime closure of Python, Node.js and Java apps, on small synthetic trees."""

from __future__ import annotations

from auditor.inventory import inventory_wants
from tests.closure.closurekit import (
    DEBIAN,
    ELF_BODY,
    MA,
    PY_ELF,
    PYTHON,
    closure,
    exe,
    lib,
)
from tests.layerkit import D, F, L, Spec


def test_python_app_with_stdlib_site_packages_and_its_own_dir() -> None:
    layer = [F("/app/app.py", "import six\n"), F("/app/util/helpers.py", "x = 1\n"),
             F("/srv/other.py", "unrelated\n")]
    c = closure([DEBIAN, PYTHON, layer], PY_ELF, cmd=("python3", "/app/app.py"))
    assert (c.kind, c.entry, c.base_candidate) == ("python", "/usr/bin/python3",
                                                     "distroless-python3")
    files = set(c.files)
    assert {"/usr/bin/python3", "/usr/bin/python3.11", "/usr/lib/python3.11/os.py",
            "/usr/local/lib/python3.11/dist-packages/six.py", "/app/app.py",
            "/app/util/helpers.py", f"{MA}/libz.so.1.2.13", f"{MA}/libm.so.6"} <= files
    assert "/srv/other.py" not in files and "/usr/lib/python3.12/os.py" not in files
    # the extension module's library is absent: optional, since only that module needs it
    assert [(m.name, m.optional) for m in c.missing] == [("libssl.so.3", True)]


def test_python_module_run_uses_the_workdir() -> None:
    layer = [F("/srv/app/pkg/__main__.py", "print(1)\n")]
    c = closure([DEBIAN, PYTHON, layer], PY_ELF, cmd=("python3", "-u", "-m", "pkg"),
                working_dir="/srv/app")
    assert "/srv/app/pkg/__main__.py" in c.files


def test_python_script_in_a_system_dir_does_not_pull_the_dir() -> None:
    layer = [F("/usr/bin/tool.py", "print(1)\n")]
    c = closure([DEBIAN, PYTHON, layer], PY_ELF, cmd=("python3", "/usr/bin/tool.py"))
    assert "/usr/bin/tool.py" in c.files and "/usr/bin/dash" not in c.files
    assert any("system directory" in n for n in c.notes)


NM = "/app/node_modules"
NODE: list[Spec] = [
    F("/usr/bin/node", ELF_BODY, 0o755), F(f"{MA}/libnode.so.108", ELF_BODY),
    F("/app/app.js", "require('is-number')\n"),
    F("/app/package.json", '{"name": "app", "version": "1.0.0"}'),
    F(f"{NM}/is-number/package.json", '{"name": "is-number", "version": "7.0.0"}'),
    F(f"{NM}/is-number/index.js", "module.exports = 1\n"),
    F(f"{NM}/ms/package.json", '{"name": "ms", "version": "2.1.3"}'),
    F(f"{NM}/ms/index.js", "module.exports = 2\n"), L(f"{NM}/.bin/ms", "../ms/index.js"),
    F("/app/package-lock.json", '{"lockfileVersion": 3, "packages": {"": {}, '
      '"node_modules/is-number": {"version": "7.0.0"}, '
      '"node_modules/ms": {"version": "2.1.3", "dev": true}}}'),
]
NODE_ELF = {"/usr/bin/node": exe(needed=("libnode.so.108", "libc.so.6")),
            f"{MA}/libnode.so.108": lib("libz.so.1", "libc.so.6")}


def test_node_app_without_its_dev_dependencies() -> None:
    c = closure([DEBIAN, NODE], NODE_ELF, wants=inventory_wants(), inventory=True,
                cmd=("node", "/app/app.js"))
    assert (c.kind, c.base_candidate) == ("node", "distroless-nodejs")
    files = set(c.files)
    assert {"/usr/bin/node", f"{MA}/libnode.so.108", f"{MA}/libz.so.1.2.13",
            f"{NM}/is-number/index.js", "/app/app.js"} <= files
    assert not any("/ms" in f for f in files)
    assert any("ms" in n and "dev" in n for n in c.notes)


def test_node_without_inventory_keeps_all_and_says_so() -> None:
    c = closure([DEBIAN, NODE], NODE_ELF, cmd=("node", "app"), working_dir="/app")
    assert f"{NM}/ms/index.js" in c.files and "/app/app.js" in c.files
    assert any("devDependencies" in n for n in c.notes)


JDK = "/usr/lib/jvm/jdk-17"
JAVA: list[Spec] = [
    F(f"{JDK}/bin/java", ELF_BODY, 0o755), F(f"{JDK}/bin/javac", ELF_BODY, 0o755),
    F(f"{JDK}/lib/modules", b"jimage"), F(f"{JDK}/lib/server/libjvm.so", ELF_BODY),
    F(f"{JDK}/jmods/java.base.jmod", b"jmod"), F(f"{JDK}/include/jni.h", "/* jni */"),
    F(f"{JDK}/lib/src.zip", b"zip"), L("/usr/bin/java", f"{JDK}/bin/java"),
    F("/etc/java-17/security/java.security", "x=1\n"), L(f"{JDK}/conf", "/etc/java-17"),
    F("/app/app.jar", b"PK"),
]
JAVA_ELF = {f"{JDK}/bin/java": exe(), f"{JDK}/lib/server/libjvm.so": lib("libm.so.6")}


def test_java_jar_with_the_runtime_but_not_the_jdk_tools() -> None:
    c = closure([DEBIAN, JAVA], JAVA_ELF, cmd=("java", "-Xmx1g", "-jar", "/app/app.jar"))
    assert (c.kind, c.base_candidate) == ("java", "distroless-java")
    files = set(c.files)
    assert {"/usr/bin/java", f"{JDK}/bin/java", f"{JDK}/lib/modules", "/app/app.jar",
            f"{JDK}/lib/server/libjvm.so", f"{JDK}/conf",
            "/etc/java-17/security/java.security", f"{MA}/libm.so.6"} <= files
    assert not any(p.startswith((f"{JDK}/bin/javac", f"{JDK}/jmods", f"{JDK}/include",
                                 f"{JDK}/lib/src.zip")) for p in files)


def test_java_class_path_from_the_workdir() -> None:
    layer = [F("/srv/classes/Main.class", b"\xca\xfe"), F("/srv/lib/dep.jar", b"PK")]
    c = closure([DEBIAN, JAVA, layer], JAVA_ELF, cmd=("java", "-cp", "classes:lib/*", "Main"),
                working_dir="/srv")
    assert {"/srv/classes/Main.class", "/srv/lib/dep.jar"} <= set(c.files)


def test_debian_node_gets_the_system_modules_libnode_loads_at_start_up() -> None:
    builtins = [D("/usr/share/nodejs"), D("/usr/share/nodejs/undici"),
                F("/usr/share/nodejs/undici/index.js", "u"), D("/usr/share/nodejs/express"),
                F("/usr/share/nodejs/express/index.js", "e")]
    c = closure([DEBIAN, NODE, builtins], NODE_ELF, inventory=True,
                cmd=("node", "/app/app.js"))
    assert "/usr/share/nodejs/undici/index.js" in c.files
    assert "/usr/share/nodejs/express/index.js" not in c.files
