"""python/lstmininet/_core.pyi names exactly what the compiled module exposes.

A light, dependency-free version of mypy's stubtest: it compares names only
(functions, classes, methods, properties), so a binding added, renamed or
removed in bindings/*.cpp without a stub update fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lstmininet import _core

STUB = Path(__file__).resolve().parents[2] / "python" / "lstmininet" / "_core.pyi"
# Dunder methods worth stubbing: the ones the bindings define on purpose.
BOUND_DUNDERS = {
    "__init__", "__array__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__neg__",
    "__truediv__", "__matmul__", "__rmatmul__", "__enter__", "__exit__",
}  # fmt: skip


def _public(name: str) -> bool:
    return not name.startswith("_") or name in BOUND_DUNDERS


def _stub_names() -> dict[str, set[str]]:
    """Top-level public names -> member names (empty for functions and values)."""
    names: dict[str, set[str]] = {}
    for node in ast.parse(STUB.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            members = set()
            if isinstance(node, ast.ClassDef):
                members = {m.name for m in node.body if isinstance(m, ast.FunctionDef) and _public(m.name)}
            names[node.name] = members
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and (node.target.id == "__version__" or not node.target.id.startswith("_"))
        ):
            names[node.target.id] = set()
    return names


def _runtime_names() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {"__version__": set()}
    for name, value in vars(_core).items():
        if name.startswith("_"):
            continue
        members = set()
        if isinstance(value, type):
            members = {m for m in vars(value) if _public(m)}
        names[name] = members
    return names


def test_stub_lists_every_binding_and_nothing_else():
    stub, runtime = _stub_names(), _runtime_names()
    problems = [f"_core.{n}: not in the stub" for n in sorted(runtime.keys() - stub.keys())]
    problems += [f"_core.{n}: in the stub but not in the module" for n in sorted(stub.keys() - runtime.keys())]
    for name in sorted(runtime.keys() & stub.keys()):
        problems += [f"_core.{name}.{m}: not in the stub" for m in sorted(runtime[name] - stub[name])]
        problems += [f"_core.{name}.{m}: in the stub but not in the module" for m in sorted(stub[name] - runtime[name])]
    assert not problems, "update python/lstmininet/_core.pyi:\n" + "\n".join(problems)
