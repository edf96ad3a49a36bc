#!/usr/bin/env python3
"""Checks that cpp/ stays a tower of layers: each folder includes only from itself and the folders below it.

    python scripts/check_layers.py            # checks ./cpp, exit 1 and one line per violation if any
    python scripts/check_layers.py --root DIR # checks DIR (the tests point it at a copy with a planted fault)

Includes are written from the include root cpp/ ("tensor/matrix.hpp"), so the folder of every project
include is the first part of its path. A source file directly in cpp/ or in an unknown folder is also
reported, as is a project include without a folder.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# Bottom to top: a layer may include from its own folder and any folder before it.
LAYERS = ["base", "tensor", "autodiff", "ops", "nn", "train", "generate", "io"]
SOURCE_SUFFIXES = {".hpp", ".cpp", ".h", ".cc"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def violations(root: Path) -> list[str]:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES):
        relative = path.relative_to(root)
        name = f"{root.name}/{relative.as_posix()}"
        if len(relative.parts) < 2 or relative.parts[0] not in rank:
            found.append(f"{name}: not inside a layer folder ({', '.join(LAYERS)})")
            continue
        own = relative.parts[0]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = match.group(1)
            folder = target.split("/")[0] if "/" in target else None
            if folder not in rank:
                found.append(f'{name}:{number}: #include "{target}" does not name a layer folder')
            elif rank[folder] > rank[own]:
                found.append(
                    f'{name}:{number}: #include "{target}" reaches up from layer {own} '
                    f"({rank[own]}) to layer {folder} ({rank[folder]})"
                )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1] / "cpp")
    args = parser.parse_args(argv)
    found = violations(args.root)
    for line in found:
        print(line)
    if found:
        print(f"layer check: {len(found)} violation(s); order is {' < '.join(LAYERS)}")
        return 1
    print(f"layer check: {args.root.name}/ is layered {' < '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
