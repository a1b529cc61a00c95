"""Deploy the Space: a Space repo whose app reads everything from a dataset repo id at start-up.

The folder holds ``README.md`` (front matter: sdk gradio at the installed version, ``app_file``),
``app.py`` (three lines: the dataset repo id, then :func:`macro2micro.space_app.app.launch`), ``requirements.txt``
and a wheel of this toolkit built from the source that runs here, so the Space installs exactly the
version that is deploying it (named beside the version that made the data), with every other
requirement from the package index.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from macro2micro.dataset_builder.errors import Macro2MicroError, OptionsError

APP = '''"""macro2micro Space: everything comes from the dataset repo {repo!r} (set M2M_REPO to show another)."""

import os

from macro2micro.space_app.app import launch

launch(os.environ.get("M2M_REPO", {repo!r}), host="0.0.0.0", port=int(os.environ.get("PORT", 7860)))
'''


def project_root() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise OptionsError(
            f"--deploy builds a wheel of macro2micro from its source tree, but {root} has no "
            "pyproject.toml: deploy from a checkout of the project"
        )
    return root


def build_wheel(out_dir: Path) -> Path:
    """A wheel of the toolkit from its source tree (no dependencies, no network)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--disable-pip-version-check",
            "-w",
            str(out_dir),
            str(project_root()),
        ],
        capture_output=True,
        text=True,
    )
    wheels = sorted(out_dir.glob("macro2micro-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise Macro2MicroError(f"building the macro2micro wheel failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wheels[-1]


def data_version(dataset) -> str | None:
    """The macro2micro version that built the dataset (from any manifest)."""
    for path in sorted((dataset.path / "manifests").glob("*.json"))[:1]:
        version = dataset.manifest(path.stem).get("versions", {}).get("macro2micro")
        return version if isinstance(version, str) else None
    return None


def build_space_folder(folder: str | Path, dataset_repo: str, data_made_by: str | None = None) -> dict:
    """Write the Space repo's files into ``folder``; returns what went in (wheel, versions)."""
    from macro2micro.dataset_builder.utils import package_versions, require

    gradio = require("gradio")

    folder = Path(folder)
    wheel = build_wheel(folder / "wheels")
    version = package_versions(("macro2micro",)).get("macro2micro", "unknown")
    (folder / "app.py").write_text(APP.format(repo=dataset_repo))
    (folder / "requirements.txt").write_text(
        f"# macro2micro {version} (the data was made by {data_made_by or 'an unknown version'}), from its wheel here\n"
        f"./wheels/{wheel.name}[space,train]\n"
        f"gradio=={gradio.__version__}\n"
    )
    (folder / "README.md").write_text(f"""---
title: macro2micro ({dataset_repo.split("/")[-1]})
emoji: 🔬
colorFrom: indigo
colorTo: green
sdk: gradio
sdk_version: {gradio.__version__}
app_file: app.py
pinned: false
license: apache-2.0
short_description: What SFT dataset diversity does to a fine-tuned model
datasets:
- {dataset_repo}
---

# macro2micro: {dataset_repo}

The subsets of [`{dataset_repo}`](https://huggingface.co/datasets/{dataset_repo}), their diversity metrics and what
else varies between them, the adapters trained on them side by side with the judge's verdicts, and diversity
against score. Everything is read from the dataset repo at start-up (set `M2M_REPO` to show another; add
`HF_TOKEN` as a secret if it is private). Built with macro2micro {version}; the data was made by
{data_made_by or "an unknown version"}.
""")
    return {"wheel": wheel.name, "version": version, "data_version": data_made_by}


def deploy(space_id: str, dataset_repo: str, private: bool = False) -> dict:
    """Create or update the Space repo ``space_id`` showing ``dataset_repo``; one commit."""
    import tempfile

    from huggingface_hub import HfApi

    from macro2micro.dataset_builder.hub.artifacts import open_dataset_repo
    from macro2micro.dataset_builder.hub.client import HubError, _reason
    from macro2micro.dataset_builder.naming import check_repo_id

    check_repo_id(space_id, "--deploy")
    if Path(dataset_repo).exists():
        raise OptionsError(f"--deploy needs --repo as a dataset repo id, not the folder {dataset_repo}")
    dataset = open_dataset_repo(dataset_repo)  # checks it is a macro2micro repo before anything is uploaded
    dataset.metrics()
    with tempfile.TemporaryDirectory() as tmp:
        info = build_space_folder(tmp, dataset_repo, data_version(dataset))
        api = HfApi()
        try:
            api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
            commit = api.upload_folder(
                repo_id=space_id,
                repo_type="space",
                folder_path=tmp,
                commit_message=f"macro2micro: Space for {dataset_repo}",
            )
        except Exception as err:
            raise HubError(f"space repo {space_id!r}: deploy failed ({_reason(err)})") from None
    return {**info, "space": space_id, "commit": commit.commit_url}
