"""Imports only point down: the site's tooling → experiments → backends → data → shared pieces.

The site's tooling (``theme/figures``, ``theme/hooks``) lives outside the package: it may import the package,
and nothing in the package imports it. The rules are read from the source (every ``import`` statement, those
inside functions too), so nobody has to remember them. A throwaway package in a temporary folder shows that
the check catches a wrong import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "transformer_tutorial"
# Top-level names of the site's own modules, importable only by the build and the tests.
SITE_MODULES = {"figures", "hooks"}

# The part of the package a module belongs to, and the parts it may import. Third-party libraries are free,
# except torch, which the NumPy backend and the framework-free parts never import.
SHARED = {"checks", "config", "costs", "mask_shapes", "results", "validation"}
MAY_IMPORT = {
    "shared": {"shared"},
    "data": {"shared", "data"},
    "numpy": {"shared", "data", "numpy"},
    "torch": {"shared", "data", "numpy", "torch"},
    "experiments": {"shared", "data", "numpy", "torch", "experiments"},
    "exercises": {"shared", "data", "numpy", "torch", "exercises"},
}
NO_TORCH = {"shared", "data", "numpy"}


def part_of(module: str) -> str:
    """``transformer_tutorial.numpy.attention`` -> ``numpy``; the shared top-level modules -> ``shared``."""
    first = module.split(".")[1] if module.count(".") else ""
    return "shared" if first in SHARED or not first else first


def imports_of(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative imports resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # from transformer_tutorial import numpy
            if module.count(".") == 0 and module == PACKAGE.name:
                found += [
                    (node.lineno, f"{module}.{alias.name}") for alias in node.names
                ]
    return found


def violations(package_dir: Path) -> list[str]:
    """Every import in the package under ``package_dir`` that points up or sideways where it must not."""
    name = package_dir.name
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        part = part_of(module)
        for line, imported in imports_of(path, package):
            where = f"{path.relative_to(package_dir.parent)}:{line}"
            if imported.split(".")[0] in SITE_MODULES:
                problems.append(f"{where}: {part} imports the site's {imported}")
            elif imported == "torch" or imported.startswith("torch."):
                if part in NO_TORCH:
                    problems.append(f"{where}: {part} imports {imported}")
            elif imported.startswith(f"{name}.") and imported.count(".") >= 1:
                target = part_of(imported)
                if target not in MAY_IMPORT.get(part, set()):
                    problems.append(f"{where}: {part} imports {imported} ({target})")
    return problems


def test_every_module_belongs_to_a_known_part():
    modules = [
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py")
    ]
    parts = {part_of(module.removesuffix(".__init__")) for module in modules}
    assert parts <= MAY_IMPORT.keys(), (
        f"parts without rules: {parts - MAY_IMPORT.keys()}"
    )


def test_imports_only_point_down():
    assert violations(PACKAGE) == []


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("numpy/attention.py", "import torch\n", "numpy imports torch"),
        (
            "numpy/attention.py",
            "from transformer_tutorial.torch.attention import x\n",
            "numpy imports",
        ),
        (
            "torch/layers.py",
            "from figures import FIGURES\n",
            "imports the site's figures",
        ),
        ("torch/layers.py", "from ..experiments import benchmark\n", "(experiments)"),
        (
            "data/tasks.py",
            "def f():\n    from transformer_tutorial.numpy import softmax\n",
            "data imports",
        ),
        (
            "experiments/run.py",
            "from figures.plotting import svg_bytes\n",
            "imports the site's figures.plotting",
        ),
        (
            "checks.py",
            "from transformer_tutorial.data import tasks\n",
            "shared imports",
        ),
    ],
)
def test_a_wrong_import_in_a_throwaway_package_is_caught(
    tmp_path, where, source, expected
):
    package = tmp_path / "transformer_tutorial"
    for folder in ("numpy", "torch", "data", "experiments"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "numpy" / "ok.py").write_text(
        "import numpy as np\nfrom transformer_tutorial.checks import x\n"
    )
    (package / where).write_text(source)
    found = violations(package)
    assert len(found) == 1 and expected in found[0], found
    (package / where).unlink()
    assert violations(package) == []


def test_the_site_tooling_lives_outside_the_package():
    assert not (PACKAGE / "figures").exists()
    site_modules = {path.name for path in (ROOT / "theme").iterdir() if path.is_dir()}
    assert site_modules >= SITE_MODULES, SITE_MODULES - site_modules
