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
    publish_kw: dict | None = None,
    **build_kw,
) -> tuple[Path, dict]:
    """Build, score and write a dataset repo folder of ``corpus`` under ``tmp`` (word tokens, no embeddings).

    Returns the repo folder and its metrics. The folder's name is unique per ``tmp``: datasets caches a local
    folder by its basename, so two test repos named alike would be served each other's rows.
    """
    from macro2micro.api.build import build_ladders
    from macro2micro.api.publish import publish
    from tests.conftest import word_knobs

    subsets = build_ladders(
        corpus,
        knobs=knobs or word_knobs(),
        out=tmp / "subsets",
        strategies=list(strategies),
        budget=budget,
        levels=levels,
        **build_kw,
    )
    repo = tmp / f"{tmp.name}_repo"
    result = publish(
        subsets,
        repo,
        repo_id=repo_id,
        dry_run=True,  # the card names the repo id; nothing is uploaded
        license=license,
        source_note="test data",
        self_bleu_sample=self_bleu_sample,
        embedder="none",
        **(publish_kw or {}),
    )
    return repo, result["metrics"]
