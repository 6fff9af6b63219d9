"""The package layout: imports run one way (README "Layout"), so no module imports a package
that sits above its own, and there are no cycles between packages."""

from __future__ import annotations

import ast
from pathlib import Path

import ratrack

SRC = Path(ratrack.__file__).resolve().parent

# bottom to top; a module may import its own level and those below it ("train" and "track"
# are side by side: neither imports the other)
LEVELS = [
    {"errors", "devices", "boxes", "outputs"},
    {"attention"},
    {"model"},
    {"checkpoints"},
    {"data"},
    {"train", "track"},
    {"eval"},
    {"demo"},
    {"cli"},
]
LEVEL = {name: i for i, names in enumerate(LEVELS) for name in names}


def _unit(module: str) -> str:
    """The layout unit of a dotted ``ratrack.…`` module name: its first part below ratrack."""
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``ratrack`` import in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "ratrack":
                found += [(node.lineno, n) for n in names[1:]]
            elif node.module.startswith("ratrack."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("ratrack.")]
    return found


def test_every_package_has_a_level():
    units = {p.stem if p.is_file() else p.name for p in SRC.iterdir()}
    units = {u for u in units if not u.startswith("_") and u != "weights"}
    assert units <= set(LEVEL), units - set(LEVEL)


def test_imports_run_one_way():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "__init__.py":
            continue  # the package root re-exports the public API
        own = rel.parts[0].removesuffix(".py")
        for line, module in _imports(path):
            other = _unit(module)
            if other not in LEVEL:
                continue  # a name re-exported by the package root (Tracker)
            up = LEVEL[other] > LEVEL[own]
            sideways = other != own and LEVEL[other] == LEVEL[own] and own in ("train", "track")
            if up or sideways:
                wrong.append(f"{rel}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)
