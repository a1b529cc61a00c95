"""The one reader of published artifacts: a build folder, and a dataset repo (folder or Hub id).

Later stages (training, evaluation, the Space) read what earlier ones published through this
module, never their internals. Every file is parsed into its declared schema (:mod:`.schemas`) and
checked against the files it must agree with (:mod:`.checks`), so a tampered file fails in one line
naming it and the field; every config name is a safe name before it is joined to a path.

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

from pathlib import Path

from macro2micro.dataset_builder.defaults import PARQUET_NAME
from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.hub import run_schemas, schemas
from macro2micro.dataset_builder.hub.checks import check_build, check_metrics, read_model, validate
from macro2micro.dataset_builder.naming import check_name

BUILD_INFO = "build.json"
METRICS_FILE = "metrics/diversity.json"
RESULTS_FILE = "evaluation/results.json"
ADAPTERS_DIR = "adapters"
CARD = "README.md"


def read_build(build_dir: str | Path) -> tuple[dict, dict[str, dict]]:
    """``build.json`` and every manifest of a build folder, each validated, and checked against each other."""
    build_dir = Path(build_dir)
    if not (build_dir / BUILD_INFO).is_file():
        raise ArtifactError(f"{build_dir}: no {BUILD_INFO}: not a folder written by `macro2micro build`")
    info = read_model(schemas.BuildInfo, build_dir / BUILD_INFO, "the build's options")
    manifests = {}
    for config in info["configs"]:
        for f in (build_dir / "manifests" / f"{config}.json", build_dir / config / PARQUET_NAME):
            if not f.is_file():
                raise ArtifactError(
                    f"{build_dir}: config {config!r} lists {f.relative_to(build_dir)}, which is missing"
                )
        manifests[config] = read_model(
            schemas.Manifest, build_dir / "manifests" / f"{config}.json", f"manifest of {config}"
        )
    check_build(build_dir, info, manifests)
    return info, manifests


def front_matter(path: str | Path) -> dict:
    """A card's front matter (YAML between ``---`` lines) as a mapping; ``{}`` for a card without one."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArtifactError(f"{path}: not UTF-8 text ({err})") from None
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise ArtifactError(f"{path}: the front matter opened by '---' on line 1 is never closed") from None
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ArtifactError(f"{path}: the front matter is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ArtifactError(f"{path}: the front matter is nested too deeply to read") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: the front matter is a {type(data).__name__}, not a mapping of fields")
    return data


def read_card(path: str | Path) -> dict:
    """A dataset card's front matter, validated (:class:`.schemas.CardData`)."""
    data = front_matter(path)
    validate(schemas.CardData, data, path)
    return data


def card_configs(repo: str | Path) -> list[str]:
    """The config names a dataset repo's card declares (validated, each config's files inside its folder).

    A Hub id's card is downloaded alone (``README.md``); ``datasets`` reads the same card to load a config.
    """
    path = Path(repo)
    if path.is_dir():
        card = path / CARD
        if not card.is_file():
            raise ArtifactError(f"{repo}: no {CARD}: not a dataset repo folder written by `macro2micro publish`")
    else:
        from macro2micro.dataset_builder.hub.client import download_file

        card = download_file(str(repo), CARD, "dataset")
    configs = [c["config_name"] for c in read_card(card).get("configs") or []]
    if not configs:
        raise ArtifactError(f"{card}: the card declares no configs (its front matter has no 'configs')")
    return configs


def read_results(path: str | Path) -> dict:
    """An evaluation ``results.json``, validated (:class:`.run_schemas.Results`)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such results file (written by `macro2micro evaluate`)")
    return read_model(run_schemas.Results, path, "evaluation results")


def read_train_results(path: str | Path) -> dict:
    """A run's ``train_results.json``, validated (:class:`.run_schemas.TrainResults`)."""
    return read_model(run_schemas.TrainResults, path, "a finished run's results")


def adapter_base_model(folder: str | Path) -> str:
    """The base model an adapter folder was trained on (``adapter_config.json``'s ``base_model_name_or_path``)."""
    path = Path(folder) / "adapter_config.json"
    return read_model(run_schemas.AdapterConfig, path, "the adapter's PEFT config")["base_model_name_or_path"]


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
        """The card's front matter, validated (``{}`` when the repo has no card)."""
        card = self.path / CARD
        return read_card(card) if card.is_file() else {}

    def metrics(self) -> dict[str, dict]:
        """``{config: metrics}``: ``metrics/diversity.json``, else the card's ``diversity_metrics``; validated."""
        local = self.path / METRICS_FILE
        if local.is_file():
            metrics, source = read_model(schemas.MetricsFile, local, "diversity metrics"), str(local)
        else:
            metrics, source = self.card_data().get("diversity_metrics") or {}, f"{self.path / CARD}: diversity_metrics"
        if not isinstance(metrics, dict) or not metrics:
            raise ArtifactError(
                f"{self.repo}: no diversity metrics ({METRICS_FILE} or the card's diversity_metrics):"
                " is it a repo written by `macro2micro publish`?"
            )
        build = self.path / BUILD_INFO
        configs = read_model(schemas.BuildInfo, build, "the build's options")["configs"] if build.is_file() else None
        check_metrics(source, metrics, configs)
        return metrics

    def configs(self) -> list[str]:
        return list(self.metrics())

    def manifest(self, config: str) -> dict:
        path = self.path / "manifests" / f"{check_name(config)}.json"
        return read_model(schemas.Manifest, path, f"manifest of {config}")

    def results(self) -> dict | None:
        """The published evaluation results, or None when the repo has none."""
        path = self.path / RESULTS_FILE
        return read_results(path) if path.is_file() else None

    def adapters(self) -> dict[str, dict]:
        """``{config: {repo_id, revision, base_model, ...}}`` of the adapters pushed for this dataset."""
        out = {}
        for path in sorted((self.path / ADAPTERS_DIR).glob("*.json")):
            try:
                config = check_name(path.stem, "adapter record")
            except ValueError as err:
                raise ArtifactError(f"{path}: {err}") from None
            out[config] = read_model(run_schemas.AdapterRecord, path, "adapter record")
        return out

    def repo_id(self) -> str | None:
        """The Hub id the repo was published as (recorded on its card), if any."""
        return self.card_data().get("macro2micro_repo_id")


def open_dataset_repo(repo: str | Path) -> DatasetRepo:
    """A dataset repo from a local folder or a Hub id."""
    path = Path(repo)
    if path.is_dir():
        return DatasetRepo(str(repo), path)
    from macro2micro.dataset_builder.hub.client import download_repo

    local, revision = download_repo(str(repo), "dataset")
    return DatasetRepo(str(repo), local, revision)
