"""The final stage's base: ``scratch`` when the runtime closure is complete (always
buildable, even offline), the user's ``--runtime-base``, or else the smallest image the
engine already has that this image was built on. Never a base that would have to be pulled
unless the user named it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from auditor.filetree import Node
from auditor.model.closure import Closure
from auditor.model.result import AuditResult

SCRATCH = "scratch"
OS_ECOSYSTEMS = ("deb", "apk", "rpm")




@dataclass(frozen=True, slots=True)
class LocalBase:
    """An image the engine has: a base the rewrite may use without pulling."""

    name: str
    layers: tuple[str, ...] = ()  # its diff_ids, to see whether the image was built on it
    size: int | None = None


# The images a final stage may start from, or how to list them: a listing is asked for only
# when the choice needs it (the closure is incomplete, or --runtime-base names an image).
Bases = Sequence[str | LocalBase] | Callable[[], Sequence[str | LocalBase]]
LIST_TIMEOUT = 10  # seconds: an engine that does not answer leaves scratch as the choice


def engine_bases() -> list[LocalBase]:
    """Images the engine already has (every tag of each): bases a rewrite can use without
    pulling; none when no engine answers: the rewrite falls back to scratch, always
    buildable. Over the engine's socket with the standard library, as a scan reads."""
    from auditor.read import engine_wire as wire

    host = wire.docker_host()
    try:
        if not host.startswith("unix://"):
            return _bases_with_docker_package()
        listed = wire.get_json(host, "/images/json", LIST_TIMEOUT)
        images = [wire.get_json(host, f"/images/{item['Id']}/json", LIST_TIMEOUT)
                  for item in listed]
        return [LocalBase(tag, tuple((img.get("RootFS") or {}).get("Layers") or ()),
                          img.get("Size")) for img in images
                for tag in img.get("RepoTags") or () if tag != "<none>:<none>"]
    except Exception:
        return []


def _bases_with_docker_package() -> list[LocalBase]:
    """The same over TCP or SSH, which the standard-library wire does not speak."""
    import docker

    client = docker.from_env(timeout=LIST_TIMEOUT)
    return [LocalBase(tag, tuple(img.attrs.get("RootFS", {}).get("Layers", ())),
                      img.attrs.get("Size")) for img in client.images.list()
            for tag in img.tags]


def _listed(available: Bases) -> list[LocalBase]:
    return [b if isinstance(b, LocalBase) else LocalBase(b)
            for b in (available() if callable(available) else available)]


def choose_base(closure: Closure | None, runtime_base: str | None,
                available: Bases, result: AuditResult | None
                ) -> tuple[str, _Keep | None, int, str]:
    """(base, what of the closure to copy onto it, its size, why it was chosen)."""
    diff_ids = result.image.config.diff_ids if result is not None else ()
    if runtime_base is not None and runtime_base != SCRATCH:
        local = _find(_listed(available), runtime_base)
        if local is not None and _is_ancestor(local, diff_ids):
            return (runtime_base, _layer_keep(len(local.layers)),
                    _base_size(local, result), f"final base {runtime_base} (--runtime-base), "
                    "an image this one was built on: only files added after it are copied")
        keep = _not_os_packaged(result)
        size = local.size if local is not None and local.size is not None else 0
        return (runtime_base, keep, size, f"final base {runtime_base} (--runtime-base): "
                "it must provide the runtime; only the app's own files (those no OS package "
                "installed) are copied" + ("" if local is not None else
                "; the engine does not have it, so the build will pull it"))
    if runtime_base == SCRATCH:
        return SCRATCH, None, 0, "final base scratch (--runtime-base)"
    blocking = [m for m in (closure.missing if closure is not None else ())
                if not getattr(m, "optional", False)]
    # a script that runs what cannot be followed (eval, $CMD) may need any of the base's files
    unfollowed = closure is not None and bool(closure.unfollowed)
    if closure is not None and closure.files and closure.kind != "unknown" and not blocking \
            and not unfollowed:
        return (SCRATCH, None, 0, f"final base scratch: the closure of {closure.entry} is "
                f"complete ({closure.kind}), and scratch needs no pull")
    ancestors = sorted((b for b in _listed(available) if _is_ancestor(b, diff_ids)
                        and len(b.layers) < len(diff_ids)), key=lambda b: len(b.layers))
    if ancestors:
        base = ancestors[0]
        return (base.name, _layer_keep(len(base.layers)), _base_size(base, result),
                f"final base {base.name}: the runtime closure is incomplete, so the final "
                "stage starts from the smallest local image this one was built on and "
                "copies only the closure files added after it")
    return (SCRATCH, None, 0, "final base scratch: the runtime closure is incomplete and no "
            "local image this one was built on is known; the program may lack files")


class _Keep(Protocol):
    def __call__(self, node: Node) -> bool: ...


class _LayerKeep:
    """Files written after the first ``layers`` layers: what a base with those lacks."""

    def __init__(self, layers: int) -> None:
        self.layers = layers

    def __call__(self, node: Node) -> bool:
        return node.layer >= self.layers


def _layer_keep(layers: int) -> _Keep:
    return _LayerKeep(layers)


def _nothing(node: Node) -> bool:
    return False


def _not(keep: _Keep) -> _Keep:
    return lambda node: not keep(node)


def _not_os_packaged(result: AuditResult | None) -> _Keep | None:
    if result is None:
        return None
    inventory = result.inventory

    def keep(node: Node) -> bool:
        pkg = inventory.owner(node.path)
        return pkg is None or pkg.ecosystem not in OS_ECOSYSTEMS

    return keep


def _find(bases: Sequence[LocalBase], name: str) -> LocalBase | None:
    def norm(n: str) -> str:
        return n if ":" in n.rsplit("/", 1)[-1] or "@" in n else n + ":latest"

    return next((b for b in bases if norm(b.name) == norm(name)), None)


def _is_ancestor(base: LocalBase, diff_ids: Sequence[str]) -> bool:
    return bool(base.layers) and tuple(diff_ids[:len(base.layers)]) == base.layers


def _base_size(base: LocalBase, result: AuditResult | None) -> int:
    if result is not None and base.layers:
        return sum(s.added_bytes for s in result.tree.layers[:len(base.layers)])
    return base.size or 0



def not_keep(base: str, keep: _Keep | None) -> Callable[[Node], bool] | None:
    """Which of the image's files the new base provides; None when that is unknown."""
    if base == SCRATCH:
        return _nothing
    if isinstance(keep, _LayerKeep):
        return _not(keep)
    return None
