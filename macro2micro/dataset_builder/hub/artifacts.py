"""The one reader of published artifacts: a build folder, and a dataset repo (folder or Hub id).

Later stages (training, evaluation, the Space) read what earlier ones published through this
module, never their internals. Every config name read from metadata is checked
(:func:`~macro2micro.dataset_builder.naming.check_name`) before it is joined to a path.

A dataset repo holds::

    README.md                        the card (``diversity_metrics`` in its metadata)
    {config}/train-00000-of-00001.parquet
    manifests/{config}.json          how each subset was chosen
    metrics/diversity.json           the metrics of every config
    build.json                       the build's options
    adapters/{config}.json           the adapter pushed for a config: repo id, revision, base model
    evaluation/results.json          scores, answers and verdicts (after ``evaluate --push_to_hub``)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.defaults import PARQUET_NAME
from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.naming import check_name, check_repo_id

BUILD_INFO = "build.json"
METRICS_FILE = "metrics/diversity.json"
RESULTS_FILE = "evaluation/results.json"
ADAPTERS_DIR = "adapters"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing ({what})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: not valid JSON ({err})") from None


def read_build(build_dir: str | Path) -> tuple[dict, dict[str, dict]]:
    """``build.json`` and every manifest of a build folder, checked."""
    build_dir = Path(build_dir)
    if not (build_dir / BUILD_INFO).is_file():
        raise ArtifactError(f"{build_dir}: no {BUILD_INFO}: not a folder written by `macro2micro build`")
    info = _read_json(build_dir / BUILD_INFO, "the build's options")
    configs = info.get("configs")
    if not isinstance(configs, list) or not configs:
        raise ArtifactError(f"{build_dir / BUILD_INFO}: field 'configs' must be a non-empty list of config names")
    manifests = {}
    for config in configs:
        check_name(config, f"{build_dir / BUILD_INFO}: config")
        for f in (build_dir / "manifests" / f"{config}.json", build_dir / config / PARQUET_NAME):
            if not f.is_file():
                raise ArtifactError(
                    f"{build_dir}: config {config!r} lists {f.relative_to(build_dir)}, which is missing"
                )
        manifests[config] = _read_json(build_dir / "manifests" / f"{config}.json", f"manifest of {config}")
    return info, manifests


class DatasetRepo:
    """A published dataset repo, read from a local folder (or a downloaded Hub snapshot).

    Args:
        repo: the folder, or the Hub id it was downloaded from (see :func:`open_dataset_repo`).
        path: the local folder holding the files.
    """

    def __init__(self, repo: str, path: str | Path, revision: str | None = None):
        self.repo, self.path, self.revision = str(repo), Path(path), revision

    def __repr__(self) -> str:
        return f"DatasetRepo({self.repo!r}, path={str(self.path)!r})"

    def card_data(self) -> dict:
        from huggingface_hub import DatasetCard

        card = self.path / "README.md"
        if not card.is_file():
            return {}
        return DatasetCard.load(str(card)).data.to_dict()

    def metrics(self) -> dict[str, dict]:
        """``{config: metrics}``: ``metrics/diversity.json``, else the card's ``diversity_metrics``."""
        local = self.path / METRICS_FILE
        metrics = (
            _read_json(local, "diversity metrics")
            if local.is_file()
            else self.card_data().get("diversity_metrics") or {}
        )
        if not isinstance(metrics, dict) or not metrics:
            raise ArtifactError(
                f"{self.repo}: no diversity metrics ({METRICS_FILE} or the card's diversity_metrics):"
                " is it a repo written by `macro2micro publish`?"
            )
        for config in metrics:
            check_name(config, f"{self.repo}: config")
        return metrics

    def configs(self) -> list[str]:
        return list(self.metrics())

    def manifest(self, config: str) -> dict:
        return _read_json(self.path / "manifests" / f"{check_name(config)}.json", f"manifest of {config}")

    def results(self) -> dict | None:
        """The published evaluation results, or None when the repo has none."""
        path = self.path / RESULTS_FILE
        return read_results(path) if path.is_file() else None

    def adapters(self) -> dict[str, dict]:
        """``{config: {repo_id, revision, base_model, ...}}`` of the adapters pushed for this dataset."""
        out = {}
        for path in sorted((self.path / ADAPTERS_DIR).glob("*.json")):
            record = _read_json(path, "adapter record")
            config = check_name(path.stem, f"{self.repo}: adapter record")
            if not isinstance(record, dict) or "repo_id" not in record:
                raise ArtifactError(f"{path}: not an adapter record (no 'repo_id')")
            check_repo_id(record["repo_id"], f"{path}: repo_id")
            out[config] = record
        return out

    def repo_id(self) -> str | None:
        """The Hub id the repo was published as (recorded on its card), if any."""
        return self.card_data().get("macro2micro_repo_id")


def read_results(path: str | Path) -> dict:
    """An evaluation ``results.json``, checked: model names are config-like names."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such results file (written by `macro2micro evaluate`)")
    results = _read_json(path, "evaluation results")
    if not isinstance(results, dict) or not isinstance(results.get("answers"), dict):
        raise ArtifactError(f"{path}: not a results file written by `macro2micro evaluate` (no 'answers')")
    for name in list(results["answers"]) + list(results.get("scores", {})):
        check_name(name, f"{path}: model")
    return results


def open_dataset_repo(repo: str | Path) -> DatasetRepo:
    """A dataset repo from a local folder or a Hub id."""
    path = Path(repo)
    if path.is_dir():
        return DatasetRepo(str(repo), path)
    from macro2micro.dataset_builder.hub.client import download_repo

    local, revision = download_repo(str(repo), "dataset")
    return DatasetRepo(str(repo), local, revision)
