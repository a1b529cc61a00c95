"""The layers of the code: which package may import which, and modules short enough to read in a sitting."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dataset_builder", "model_cards", "training", "space_app", "macro2micro")
# Data flows one way; a package may import only the ones below it.
ALLOWED = {
    "dataset_builder": set(),
    "model_cards": {"dataset_builder"},
    "training": {"dataset_builder", "model_cards"},
    "space_app": {"dataset_builder", "training"},
    "macro2micro": {"dataset_builder", "model_cards", "training", "space_app"},
}
MAX_LINES = 400


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_packages(path) - ALLOWED[package] - {package}
        assert not bad, (
            f"{path.relative_to(ROOT)} imports {sorted(bad)}; {package} may import {sorted(ALLOWED[package])}"
        )


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_library_code_does_not_print():
    for package in PACKAGES[:-1]:
        for path in sorted((ROOT / package).rglob("*.py")):
            calls = [
                n
                for n in ast.walk(ast.parse(path.read_text()))
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
            ]
            assert not calls, f"{path.relative_to(ROOT)} prints (line {calls[0].lineno}); return values instead"
