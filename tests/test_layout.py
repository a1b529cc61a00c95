"""The layers of the code: which package (and which folder of ``dataset_builder``) may import which, and
modules short enough to read in a sitting."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "macro2micro"
# Data flows one way; a package may import only the ones below it. "api" is macro2micro/*.py (the public API).
ALLOWED = {
    "dataset_builder": set(),
    "model_cards": {"dataset_builder"},
    "training": {"dataset_builder", "model_cards"},
    "space_app": {"dataset_builder", "training"},
    "api": {"dataset_builder", "model_cards", "training", "space_app"},
    "cli": {"dataset_builder", "model_cards", "training", "space_app", "api"},
}
# dataset_builder's folders, lowest first: a folder imports only the folders before it ("" = its own modules).
FOLDERS = ["", "models", "hub", "corpus", "metrics", "selection", "types", "baselines", "ladders", "engine"]
MAX_LINES = 400


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    if rel == ("__main__.py",):
        return "cli"  # python -m macro2micro: the console script
    return rel[0] if len(rel) > 1 and rel[0] != "api" else "api"  # macro2micro/__init__.py and api/: the API


def _imports(path: Path) -> set[str]:
    """Every ``macro2micro...`` module a file imports (at any depth of the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.relative_to(ROOT)}:{node.lineno}: relative import"
            names.add(node.module or "")
    return {n for n in names if n == "macro2micro" or n.startswith("macro2micro.")}


def _target_layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "api"


def _files():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(layer):
    files = [p for p in _files() if _layer(p) == layer]
    assert files
    for path in files:
        bad = {_target_layer(m) for m in _imports(path)} - ALLOWED[layer] - {layer}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; {layer} may import {sorted(ALLOWED[layer])}"


def _folder(module_or_path) -> str:
    parts = module_or_path.split(".")[2:] if isinstance(module_or_path, str) else None
    if parts is None:
        rel = module_or_path.relative_to(PKG / "dataset_builder").parts
        return rel[0] if len(rel) > 1 else ""
    return parts[0] if len(parts) > 1 and parts[0] in FOLDERS else ""


def test_the_folders_of_dataset_builder_form_no_loop():
    for path in sorted((PKG / "dataset_builder").rglob("*.py")):
        own = FOLDERS.index(_folder(path))
        for module in _imports(path):
            if module.startswith("macro2micro.dataset_builder"):
                other = _folder(module)
                assert FOLDERS.index(other) <= own, (
                    f"{path.relative_to(ROOT)} imports {module}: the folder {other or '(root)'} sits above "
                    f"{_folder(path) or '(root)'} (order: {' < '.join(f or '(root)' for f in FOLDERS)})"
                )


def test_the_distribution_installs_one_top_level_name():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == ["macro2micro*"]
    assert not [
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in ("macro2micro", "tests")
    ]


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _files() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_library_code_does_not_print():
    for path in _files():
        if _layer(path) == "cli" or path.name == "__main__.py":
            continue
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"{path.relative_to(ROOT)} prints (line {calls[0].lineno}); return values instead"


def test_import_macro2micro_is_light_and_every_public_name_resolves():
    """The public API is imported lazily: ``import macro2micro`` loads no torch, datasets or gradio."""
    import subprocess
    import sys

    code = (
        "import sys, macro2micro; heavy = [m for m in ('torch', 'datasets', 'gradio', 'transformers') "
        "if m in sys.modules]; print(heavy); [getattr(macro2micro, n) for n in macro2micro.__all__]"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    import macro2micro

    assert set(macro2micro.__all__) == {"__version__", *macro2micro._WHERE}  # the list and the lazy table agree


def test_the_cli_commands_are_thin_callers_of_the_api():
    """Every stage a command runs is a function of the public API: commands import no stage internals."""
    stage_modules = (
        "macro2micro.dataset_builder.ladders.build",
        "macro2micro.dataset_builder.metrics.scores",
        "macro2micro.dataset_builder.hub.repo",
        "macro2micro.training.sweep",
        "macro2micro.training.evaluate",
    )
    for path in sorted((PKG / "cli" / "commands").glob("*.py")):
        used = _imports(path) & set(stage_modules)
        assert not used, f"{path.relative_to(ROOT)} imports {sorted(used)}: call macro2micro.api instead"
