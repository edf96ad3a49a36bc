"""The package's own import graph: no cycles, and no intra-package imports inside functions.

The graph is read from the source with ``ast`` (nothing is imported), so it
also sees imports inside functions, which a run-time check would miss until
the function is called. Third-party imports are ignored: music21, matplotlib
and tqdm are imported inside functions on purpose, to keep ``import
lstmininet`` fast.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "python" / "lstmininet"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name inside the package
    line: int
    in_function: bool


def _module_name(path: Path, package_dir: Path, package: str) -> str:
    parts = list(path.relative_to(package_dir).parts)
    parts[-1] = parts[-1].split(".")[0]  # model.py, _core.pyi, _core.cpython-311-x86_64-linux-gnu.so
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _module_names(package_dir: Path, package: str) -> dict[str, Path | None]:
    """Dotted module name -> source file, for every .py file of the package.

    Compiled modules (known by their .pyi stub or extension file) map to
    None: they are modules to import from, with no source to read.
    """
    names: dict[str, Path | None] = {}
    for pattern in ("*.pyi", "*.so", "*.pyd"):
        for path in package_dir.rglob(pattern):
            names[_module_name(path, package_dir, package)] = None
    for path in sorted(package_dir.rglob("*.py")):
        names[_module_name(path, package_dir, package)] = path
    return names


def _imported_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules) -> list[str]:
    """The package modules one import statement loads (none for third-party imports)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against the importer's package
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level > 1:
            base = base[: -(node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    # `from pkg import name` loads the submodule pkg.name when there is one,
    # else it reads a name defined in pkg itself.
    return [f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target for alias in node.names]


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules, package: str):
        self.module, self.is_package, self.modules, self.package = module, is_package, modules, package
        self.function_depth = 0
        self.found: list[Import] = []

    def _function(self, node):
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _import(self, node):
        for target in _imported_modules(node, self.module, self.is_package, self.modules):
            inside = target == self.package or target.startswith(self.package + ".")
            if inside and target != self.module:  # a package reading its own names is no edge
                self.found.append(Import(self.module, target, node.lineno, self.function_depth > 0))

    visit_Import = visit_ImportFrom = _import


def package_imports(package_dir: Path, package: str) -> list[Import]:
    """Every intra-package import in the package's source, at any depth."""
    modules = _module_names(package_dir, package)
    found = []
    for module, path in modules.items():
        if path is None:
            continue
        collector = _ImportCollector(module, path.name == "__init__.py", modules, package)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.found)
    return found


def import_graph(imports: list[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        graph.setdefault(imp.imported, set())
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None when the graph is a DAG (depth-first, iterative)."""
    state: dict[str, str] = {}  # "active" on the current path, "done" when fully explored
    for root in sorted(graph):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        state[root] = "active"
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                state[path.pop()] = "done"
                stack.pop()
            elif state.get(successor) == "active":
                return path[path.index(successor) :] + [successor]
            elif successor not in state:
                state[successor] = "active"
                path.append(successor)
                stack.append(iter(sorted(graph.get(successor, ()))))
    return None


def describe(cycle: list[str], imports: list[Import]) -> str:
    lines = []
    for importer, imported in itertools.pairwise(cycle):
        where = next(i for i in imports if i.importer == importer and i.imported == imported)
        lines.append(f"  {importer} (line {where.line}) imports {imported}")
    return "import cycle:\n" + "\n".join(lines)


# -- the real package -------------------------------------------------------------


def test_package_import_graph_has_no_cycle():
    imports = package_imports(PACKAGE_DIR, "lstmininet")
    graph = import_graph(imports)
    assert "lstmininet.melody" in graph and "lstmininet.cli" in graph  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, imports)


def test_no_intra_package_imports_inside_functions():
    lazy = [i for i in package_imports(PACKAGE_DIR, "lstmininet") if i.in_function]
    assert not lazy, "import these at module top instead:\n" + "\n".join(
        f"  {i.importer} line {i.line}: {i.imported}" for i in lazy
    )


def test_melody_grammar_does_not_import_music21():
    tree = ast.parse((PACKAGE_DIR / "melody.py").read_text(encoding="utf-8"))
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "music21"]


# -- the checks themselves can fail ------------------------------------------------


def _write_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "planted"
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package_dir


@pytest.mark.parametrize(
    "files",
    [
        # the circle this package used to have: a lazy import closing the loop
        {
            "__init__.py": "",
            "loading.py": "from .datasets import transpose\n",
            "datasets.py": "def transpose():\n    from .loading import parse\n",
        },
        # absolute imports, `from pkg import module`, and a three-module loop through a subpackage
        {
            "__init__.py": "from . import a\n",
            "a.py": "import planted.sub.b\n",
            "sub/__init__.py": "",
            "sub/b.py": "from .. import c\n",
            "c.py": "from planted import a\n",
        },
    ],
    ids=["lazy-two-module-circle", "absolute-and-subpackage-circle"],
)
def test_a_planted_circle_is_reported(tmp_path, files):
    imports = package_imports(_write_package(tmp_path, files), "planted")
    cycle = find_cycle(import_graph(imports))
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) >= 3
    message = describe(cycle, imports)
    assert "import cycle" in message and "imports" in message


def test_a_planted_dag_and_a_planted_lazy_import(tmp_path):
    files = {
        "__init__.py": "from .top import run\n",
        "top.py": "import numpy\nfrom .base import x\n\ndef run():\n    import music21\n    from . import base\n",
        "base.py": "from . import _native\n",
        "_native.pyi": "def f() -> int: ...\n",
    }
    imports = package_imports(_write_package(tmp_path, files), "planted")
    assert find_cycle(import_graph(imports)) is None  # third-party imports are not edges
    lazy = [(i.importer, i.imported, i.line) for i in imports if i.in_function]
    assert lazy == [("planted.top", "planted.base", 6)]


# -- names that moved stay importable from their old homes -------------------------

OLD_PUBLIC_PATHS = {
    "lstmininet.datasets": [
        "MELODY_FILE_EXTENSIONS",
        "DatasetSplit",
        "LoadReport",
        "augment_transpositions",
        "load_melodies",
        "load_melodies_with_report",
        "load_melody_file",
        "parse_melody_lines",
        "save_melody_file",
        "split_dataset",
        "transpose_melody",
    ],
    "lstmininet.tokenizers": [
        "BOS",
        "EOS",
        "HOLD",
        "REST",
        "MIDI_PITCH_MAX",
        "MIDI_PITCH_MIN",
        "CharTokenizer",
        "MelodyTokenizer",
        "parse_pitch",
        "tokenizer_from_dict",
        "validate_melody_tokens",
    ],
    "lstmininet.midi": ["melody_events", "read_midi", "tokens_to_stream", "write_midi", "write_musicxml"],
    "lstmininet.music21_loading": [
        "CONVERSION_VERSION",
        "OFF_GRID_RULES",
        "SCORE_EXTENSIONS",
        "TRANSPOSE_TARGETS",
        "LoadReport",
        "is_score_file",
        "load_score_files",
        "melody_part",
        "music21_corpus_files",
        "parse_score_file",
        "score_files_in",
        "score_to_tokens",
        "transposition_to_c",
    ],
    "lstmininet.plots": ["plot_loss_curves", "plot_piano_roll"],
    "lstmininet.cli": ["main", "build_parser"],
}


@pytest.mark.parametrize("module", sorted(OLD_PUBLIC_PATHS))
def test_public_names_keep_their_import_paths(module):
    imported = importlib.import_module(module)
    missing = [name for name in OLD_PUBLIC_PATHS[module] if not hasattr(imported, name)]
    assert not missing, f"{module} no longer provides {missing}"


def test_importing_the_package_and_cli_loads_no_heavy_third_party_module():
    # A fresh interpreter: this test process has long since imported music21 and matplotlib.
    code = (
        "import sys, lstmininet, lstmininet.cli, lstmininet.datasets; "
        "print(sorted(m for m in ('music21', 'matplotlib', 'tqdm', 'torch') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
