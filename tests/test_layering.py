"""Dependencies flow one way: cli -> audit -> the steps -> read -> model. The model, which
every layer imports, imports nothing of auditor but its errors and itself."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "auditor"


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports from auditor: at the top, in functions, classes,
    ``with`` and ``try`` blocks, and under ``if TYPE_CHECKING:`` (a type is a dependency)."""
    def walk(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield node.module
            elif isinstance(node, ast.Import):
                yield from (a.name for a in node.names)
            elif isinstance(node, (ast.If, ast.FunctionDef, ast.ClassDef, ast.With, ast.Try)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        yield from walk(getattr(child, "body", [child]) if isinstance(
                            child, ast.ExceptHandler) else [child])

    tree = ast.parse(path.read_text(encoding="utf-8"))
    yield from (m for m in walk(tree.body) if m.split(".")[0] == "auditor")


def test_the_model_imports_only_itself_and_the_errors() -> None:
    wrong = []
    for path in sorted((PACKAGE / "model").glob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        wrong += [f"{rel} imports {module}" for module in imports(path)
                  if module != "auditor.errors" and not module.startswith("auditor.model")]
    assert wrong == []


def test_no_step_imports_the_orchestrator_or_the_command_line() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        allowed = {"cli.py": {"auditor.audit"}, "__main__.py": {"auditor.cli"}}.get(rel, set())
        wrong += [f"{rel} imports {m}" for m in imports(path)
                  if m in ("auditor.audit", "auditor.cli") and m not in allowed]
    assert wrong == []


def test_the_walker_sees_imports_in_functions_and_under_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import auditor.errors\n"
        "if TYPE_CHECKING:\n"
        "    from auditor.filetree import FileTree\n"
        "else:\n"
        "    import auditor.read.cursor\n"
        "def f() -> None:\n"
        "    try:\n"
        "        from auditor.audit import audit\n"
        "    except ImportError:\n"
        "        import auditor.cli\n"
        "from . import sibling\n", encoding="utf-8")
    assert list(imports(source)) == ["auditor.errors", "auditor.filetree", "auditor.read.cursor",
                                     "auditor.audit", "auditor.cli"]
