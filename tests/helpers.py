"""Test helpers shared by the test packages (fixtures live in the conftest files)."""

from __future__ import annotations

from pathlib import Path


def build_repo(
    corpus,
    tmp: Path,
    strategies=("micro_response", "random"),
    budget: int = 16,
    levels: int = 3,
    repo_id: str | None = "org/tiny-ladders",
    license: str = "mit",
    self_bleu_sample: int = 10,
    knobs=None,
    **build_kw,
) -> tuple[Path, dict]:
    """Build, score and write a dataset repo folder of ``corpus`` under ``tmp`` (word tokens, no embeddings).

    Returns the repo folder and its metrics. The folder's name is unique per ``tmp``: datasets caches a local
    folder by its basename, so two test repos named alike would be served each other's rows.
    """
    from macro2micro.dataset_builder.hub.artifacts import read_build
    from macro2micro.dataset_builder.hub.repo import write_repo_folder
    from macro2micro.dataset_builder.ladders.build import build_family
    from macro2micro.dataset_builder.metrics.scores import compute_metrics
    from macro2micro.dataset_builder.options import BuildOptions, EmbedderOptions, MetricOptions
    from macro2micro.dataset_builder.utils import atomic_dir
    from macro2micro.model_cards import render_dataset_card
    from tests.conftest import word_knobs

    build_family(
        corpus,
        BuildOptions(strategies=list(strategies), budget=budget, levels=levels, **build_kw),
        knobs or word_knobs(),
        tmp / "subsets",
    )
    info, manifests = read_build(tmp / "subsets")
    metrics = compute_metrics(
        corpus,
        manifests,
        MetricOptions(self_bleu_sample=self_bleu_sample),
        "word",
        EmbedderOptions(embedder="none"),
        seed=info["options"]["seed"],
    )
    repo = tmp / f"{tmp.name}_repo"

    def card(infos) -> str:
        return render_dataset_card(
            info, manifests, metrics, len(corpus), repo_id, license, "test data", local_path=str(repo), infos=infos
        ).content

    with atomic_dir(repo) as folder:
        write_repo_folder(corpus, tmp / "subsets", folder, metrics, card)
    return repo, metrics
