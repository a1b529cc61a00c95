"""The rest of what the console script does, as functions: the tagger's dry run, the paper check, the Space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macro2micro.api.corpus import Source
from macro2micro.dataset_builder.options import CorpusOptions, EmbedderOptions, MesoOptions


def plan_tagging(
    corpus: Source = None,
    meso: MesoOptions | None = None,
    embedder: EmbedderOptions | None = None,
    corpus_options: CorpusOptions | None = None,
) -> dict[str, dict]:
    """What the meso strategies' LLM tagger would spend on ``corpus`` (calls and tokens per side), calling nothing,
    as ``macro2micro tag-plan`` prints it."""
    from macro2micro.api.build import open_source
    from macro2micro.dataset_builder.corpus.ingest import column
    from macro2micro.dataset_builder.types.meso import MesoStrategy

    ds, _ = open_source(corpus, corpus_options or CorpusOptions())
    plans = {}
    for side in ("instruction", "response"):
        tagger = MesoStrategy(side, meso or MesoOptions(), embedder or EmbedderOptions()).make_tagger()
        plans[f"meso_{side}"] = (
            tagger.plan(column(ds, side))
            if hasattr(tagger, "plan")
            else {"calls": 0, "note": "the offline tagger calls no model"}
        )
    return plans


def paper_check(out: str | Path | None = None) -> dict[str, Any]:
    """The paper's own scores (18 series, 3 ablations) fitted with the code that fits ours, beside the slopes it
    reports; with ``out``, ``paper.md``, ``paper.json`` and a plot written there (as ``macro2micro paper``)."""
    from macro2micro.training.paper import reproduce, write_paper_report

    result = reproduce()
    if out is not None:
        from macro2micro.dataset_builder.outputs import OutputFolder

        with OutputFolder(out, "paper") as tmp:
            write_paper_report(result, tmp)
    return result


def launch_space(repo: str, results: str | None = None, runs: str | None = None, **launch: Any) -> None:
    """Serve the Gradio Space on a dataset repo (folder or Hub id), as ``macro2micro space``; ``launch`` takes
    ``host``, ``port`` and ``on_ready`` (called with the URL)."""
    from macro2micro.space_app.app import launch as serve

    serve(repo, results, runs, **launch)


def deploy_space(space_id: str, dataset_repo: str, private: bool = False) -> dict[str, Any]:
    """Create or update the Space repo ``space_id`` showing the dataset repo ``dataset_repo`` (a Hub id)."""
    from macro2micro.space_app.deploy import deploy

    return deploy(space_id, dataset_repo, private)
