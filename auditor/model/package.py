"""A package: what a package database says is installed, and how a finding names one.

A finding refers to its package by a ``PackageRef`` (name, version, ecosystem), never by
a ``name@version`` string to split: an npm scope's ``@`` (``@babel/core@7.0.0``) makes
such a string ambiguous. Reports print ``label``; only a report read back (an older
baseline) is parsed, once, by ``PackageRef.from_label``.
"""

from __future__ import annotations

from dataclasses import dataclass

PURL_TYPES = {"deb": "deb", "apk": "apk", "rpm": "rpm", "python": "pypi", "npm": "npm",
              "golang": "golang", "maven": "maven", "runtime": "generic"}
# Ecosystems read from the files themselves rather than from a package database: a
# runtime's install tree, the modules a Go binary was built from, a Java archive's
# Maven coordinates. They own no file in the inventory's ownership index.
FROM_FILES = frozenset({"runtime", "golang", "maven"})


@dataclass(frozen=True, slots=True)
class PackageRef:
    """Which package a finding is about."""

    name: str
    version: str = ""
    ecosystem: str = ""  # as Package.ecosystem; "" when read back from a label

    @property
    def label(self) -> str:
        """What reports show: ``name@version``, or the name alone when it has no version."""
        return f"{self.name}@{self.version}" if self.version else self.name

    def __str__(self) -> str:  # in a message, a package reads as its label
        return self.label

    @classmethod
    def from_label(cls, label: str, ecosystem: str = "") -> PackageRef:
        """A reported label read back: the version follows the last ``@``; a leading ``@``
        (an npm scope) belongs to the name."""
        at = label.rfind("@")
        if at <= 0:
            return cls(label, "", ecosystem)
        return cls(label[:at], label[at + 1:], ecosystem)


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package, as its ecosystem's database records it."""

    name: str
    version: str
    ecosystem: str  # deb, apk, rpm, python, npm, golang, maven, runtime
    files: tuple[str, ...] = ()  # absolute paths the package installed, as its db lists them
    installed_size: int = 0  # bytes, as the database records it (or summed from files)
    location: str = ""  # the database file or metadata path this came from
    dev: bool | None = None  # npm: a devDependency (None when unknown)
    source: str | None = None  # source package (deb), origin (apk)
    arch: str | None = None
    # where the version was read when no database says it: "release JAVA_VERSION",
    # "Go build info", "META-INF/maven/g/a/pom.properties"
    version_from: str | None = None

    @property
    def ref(self) -> PackageRef:
        """How a finding names this package."""
        return PackageRef(self.name, self.version, self.ecosystem)

    @property
    def label(self) -> str:
        return self.ref.label

    @property
    def purl_type(self) -> str:
        return PURL_TYPES.get(self.ecosystem, self.ecosystem)
