"""``--format cyclonedx``: the image's inventory as a CycloneDX 1.6 JSON SBOM.

Built with cyclonedx-python-lib, purls with packageurl-python. The image is the BOM's
subject (``metadata.component``, type ``container``, its config digest as version and
SHA-256 hash); every package the catalogers found (dpkg, apk, rpm, Python, npm, the Go
modules in Go binaries as ``pkg:golang``, Java archives as ``pkg:maven``, runtimes
outside a package database as ``pkg:generic``) is a component that the image depends
on, with its purl and, as ``auditor:`` properties, the database record it came from
(``auditor:location``), the layers its files come from in the squashed tree
(``auditor:layer``), its files (``auditor:path``, the first ``MAX_PATHS`` of them, with
``auditor:path:count``) and, for what no database records, where its version was read
(``auditor:versionFrom``). The layers themselves are metadata
properties (``auditor:layer:N:digest``, ``auditor:layer:N:createdBy``).

A deb, apk or rpm purl needs the distribution as its namespace: it is told by the release
files the image carries (``/etc/lsb-release`` for Ubuntu, ``/etc/alpine-release``, ...),
and left out where none says it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from auditor import __version__
from auditor.history import created_by_text
from auditor.model.result import Report
from auditor.model.text import printable, shorten
from auditor.reports import WriteOptions, view
from auditor.reports.sarif import INFORMATION_URI, image_slug

if TYPE_CHECKING:
    from auditor.inventory import Package

MAX_PATHS = 25  # files listed per component; the count says how many it has
# Release files that name the distribution a deb, apk or rpm package was built for, in the
# order they are tried (an Ubuntu image also has /etc/debian_version).
DISTRO_MARKERS = {
    "deb": (("/etc/lsb-release", "ubuntu"), ("/etc/debian_version", "debian")),
    "apk": (("/etc/alpine-release", "alpine"), ("/etc/wolfi-release", "wolfi")),
    "rpm": (("/etc/fedora-release", "fedora"), ("/etc/rocky-release", "rocky"),
            ("/etc/almalinux-release", "almalinux"), ("/etc/centos-release", "centos"),
            ("/etc/oracle-release", "oracle"), ("/etc/amazon-linux-release", "amzn"),
            ("/etc/redhat-release", "redhat"), ("/etc/SuSE-release", "opensuse")),
}


def _distro(report: Report, ecosystem: str) -> str | None:
    for path, name in DISTRO_MARKERS.get(ecosystem, ()):
        if view.file_layer(report, path) is not None:
            return name
    return None


MAX_VERSION = 1024  # CycloneDX 1.6 refuses a longer component version


def _version(package: Package) -> str | None:
    """The version as CycloneDX can hold it: valid Unicode, at most MAX_VERSION long."""
    return printable(package.version)[:MAX_VERSION] or None


def purl(package: Package, distro: str | None) -> PackageURL:
    """The package URL; a name that is not UTF-8 (hostile or broken metadata) keeps its
    odd bytes as ``\\xff`` escapes, as every other report shows them."""
    version = _version(package)
    qualifiers = {"arch": printable(package.arch)} if package.arch else {}
    if package.ecosystem in DISTRO_MARKERS:
        if distro:
            qualifiers["distro"] = distro
        return PackageURL(type=package.purl_type, namespace=distro,
                          name=printable(package.name), version=version,
                          qualifiers=qualifiers or None)
    namespace, name = None, printable(package.name)
    if package.ecosystem == "npm" and name.startswith("@") and "/" in name:
        namespace, name = name.split("/", 1)
    if package.ecosystem == "python":
        name = name.lower().replace("_", "-")
    if package.ecosystem == "maven" and ":" in name:  # group:artifact
        namespace, name = name.split(":", 1)
    if package.ecosystem == "golang" and "/" in name:  # github.com/x/y: namespace github.com/x
        namespace, name = name.rsplit("/", 1)
    return PackageURL(type=package.purl_type, namespace=namespace, name=name, version=version)


def _properties(report: Report, package: Package) -> list[Property]:
    props = [Property(name="auditor:ecosystem", value=package.ecosystem)]
    if package.location:
        props.append(Property(name="auditor:location", value=printable(package.location)))
    present = [(p, layer) for p in package.files
               if (layer := view.file_layer(report, p)) is not None]
    props += [Property(name="auditor:layer", value=str(layer))
              for layer in sorted({layer for _p, layer in present})]
    props += [Property(name="auditor:path", value=printable(p))
              for p, _layer in present[:MAX_PATHS]]
    props.append(Property(name="auditor:path:count", value=str(len(present))))
    if package.source:
        props.append(Property(name="auditor:source", value=printable(package.source)))
    if package.version_from:
        props.append(Property(name="auditor:versionFrom",
                              value=printable(package.version_from)))
    return props


def _repository_and_tag(reference: str) -> tuple[str | None, str | None]:
    """The repository and tag of an engine or registry reference (``reg:5000/app:1.4``);
    None for a file source."""
    ref = reference.removeprefix("docker:")
    if ref.startswith(("/", ".", "docker-archive:", "oci-dir:", "oci-archive:")) \
            or ref.endswith(".tar") or ref.startswith("sha256:"):
        return None, None
    ref = ref.split("@", 1)[0]
    head, sep, last = ref.rpartition("/")
    name, colon, tag = last.partition(":")
    return printable(head + sep + name), (printable(tag) if colon else None)


def _image_component(report: Report) -> Component:
    facts = view.image(report)
    digest = facts.id.removeprefix("sha256:")
    name = image_slug(facts.reference)
    repository, tag = _repository_and_tag(facts.reference)
    qualifiers = {"repository_url": repository} if repository else {}
    if tag:
        qualifiers["tag"] = tag
    if facts.architecture:
        qualifiers["arch"] = facts.architecture
    props = [Property(name="auditor:reference", value=printable(facts.reference)),
             Property(name="auditor:size_bytes", value=str(facts.size_bytes))]
    for layer in facts.layers:
        props.append(Property(name=f"auditor:layer:{layer.index}:digest", value=layer.digest))
        if layer.created_by:
            props.append(Property(name=f"auditor:layer:{layer.index}:createdBy",
                                  value=printable(shorten(created_by_text(layer.created_by),
                                                          500))))
    return Component(
        type=ComponentType.CONTAINER, name=printable(name.rsplit("/", 1)[-1]),
        group=printable(name.rsplit("/", 1)[0]) if "/" in name else None,
        version=facts.id, bom_ref=f"image:{facts.id}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if len(digest) == 64
        else None,
        purl=PackageURL(type="oci", name=name.rsplit("/", 1)[-1], version=facts.id,
                        qualifiers=qualifiers or None),
        properties=props)


def _components(report: Report, packages: Iterable[Package]) -> list[Component]:
    distros = {eco: _distro(report, eco) for eco in DISTRO_MARKERS}
    seen: set[str] = set()
    out = []
    for package in sorted(packages, key=lambda p: (p.ecosystem, p.name, p.version,
                                                   p.location)):
        url = purl(package, distros.get(package.ecosystem))
        ref = url.to_string()
        if ref in seen:  # the same package in two places (two site-packages, two apps)
            ref = f"{ref}#{printable(package.location)}"
        while ref in seen:
            ref += "+"
        seen.add(ref)
        out.append(Component(type=ComponentType.LIBRARY, name=printable(package.name),
                             version=_version(package), purl=url,
                             bom_ref=ref, properties=_properties(report, package)))
    return out


def build_bom(report: Report, timestamp: datetime | None = None) -> Bom:
    subject = _image_component(report)
    components = _components(report, view.packages(report))
    tool = Component(type=ComponentType.APPLICATION, name="auditor", version=__version__)
    tool_props = []
    gate = view.gate(report)
    if gate is not None:
        tool_props = [Property(name="auditor:policy", value=gate.policy),
                      Property(name="auditor:score", value=str(gate.score)),
                      Property(name="auditor:passed", value=str(gate.passed).lower())]
    bom = Bom(
        # the same image and auditor give the same serial number: a rescan is the same BOM
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL,
                                 f"{INFORMATION_URI}/sbom/{view.image(report).id}/"
                                 f"{__version__}"),
        metadata=BomMetaData(tools=ToolRepository(components=[tool]), component=subject,
                             timestamp=timestamp or datetime.now(tz=UTC),
                             properties=tool_props),
        components=components)
    bom.register_dependency(subject, components)
    return bom


def render(report: Report, timestamp: datetime | None = None) -> str:
    text: str = JsonV1Dot6(build_bom(report, timestamp)).output_as_string(indent=2)
    return text


def write(report: Report, stream: TextIO, options: WriteOptions) -> None:
    stream.write(render(report) + "\n")
