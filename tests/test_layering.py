"""Dependencies flow one way: cli -> audit -> the steps -> read -> model. The model, which
every layer imports, imports nothing of auditor but its errors and itself."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "auditor"
# Imported for annotations only, never at run time: the squashed tree and the inventory
# are classes of their own steps that the result holds (moving them in is a later step).
TYPE_ONLY = {("model/result.py", "auditor.filetree"), ("model/result.py", "auditor.inventory")}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """Every module ``path`` imports from auditor, and whether only for type checking."""
    def walk(nodes: list[ast.stmt], typing_only: bool) -> Iterator[tuple[str, bool]]:
        for node in nodes:
            if isinstance(node, ast.If):
                yield from walk(node.body, typing_only or _type_checking(node))
                yield from walk(node.orelse, typing_only)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield node.module, typing_only
            elif isinstance(node, ast.Import):
                yield from ((a.name, typing_only) for a in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.With, ast.Try)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        yield from walk(getattr(child, "body", [child]) if isinstance(
                            child, ast.ExceptHandler) else [child], typing_only)

    tree = ast.parse(path.read_text(encoding="utf-8"))
    yield from ((m, t) for m, t in walk(tree.body, False) if m.split(".")[0] == "auditor")


def test_the_model_imports_only_itself_and_the_errors() -> None:
    wrong = []
    for path in sorted((PACKAGE / "model").glob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        for module, typing_only in imports(path):
            if module == "auditor.errors" or module.startswith("auditor.model"):
                continue
            if not (typing_only and (rel, module) in TYPE_ONLY):
                wrong.append(f"{rel} imports {module}")
    assert wrong == []


def test_no_step_imports_the_orchestrator_or_the_command_line() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        allowed = {"cli.py": {"auditor.audit"}, "__main__.py": {"auditor.cli"}}.get(rel, set())
        wrong += [f"{rel} imports {m}" for m, _ in imports(path)
                  if m in ("auditor.audit", "auditor.cli") and m not in allowed]
    assert wrong == []


def test_the_walker_sees_imports_inside_functions() -> None:
    found = dict(imports(PACKAGE / "cli.py"))
    assert found.get("auditor.audit") is False  # imported inside _cmd_scan, at run time
