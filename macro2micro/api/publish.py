"""The publish stage: score every config with the seven metrics, write the dataset repo folder (parquet per
config, ``full``, manifests, metrics, the card), check it with ``load_dataset``, and upload it in one commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macro2micro.api.build import open_source
from macro2micro.api.corpus import Source
from macro2micro.api.fields import make, split_fields
from macro2micro.dataset_builder.errors import ArtifactError, InputError, OptionsError
from macro2micro.dataset_builder.ladders.subsets import Subsets
from macro2micro.dataset_builder.options import CorpusOptions, EmbedderOptions, MetricOptions, PublishOptions


def as_subsets(subsets: Subsets | str | Path) -> Subsets:
    """Subsets in memory, or a build folder read back."""
    if isinstance(subsets, Subsets):
        return subsets
    if not isinstance(subsets, (str, Path)):
        raise InputError(
            f"subsets: expected Subsets (what build_ladders returns) or a build folder, got {type(subsets).__name__}"
        )
    return Subsets.load(subsets)


def build_corpus(subsets: Subsets, corpus: Source = None, corpus_options: CorpusOptions | None = None):
    """The corpus the build drew from: ``corpus`` if given, the one in memory, else where ``build.json`` says
    it was read from, read the same way. Checked against the build's fingerprint by the metrics."""
    if corpus is not None:
        return open_source(corpus, corpus_options or CorpusOptions())[0]
    if subsets.corpus is not None:
        return subsets.corpus
    recorded = subsets.info.get("corpus") or {}
    where = f"{subsets.folder / 'build.json' if subsets.folder else 'the build'}"
    read_with = recorded.get("read_with")
    if not read_with:
        raise OptionsError(
            f"{where} records no corpus location and holds no copy of it (the build read an in-memory dataset): "
            "pass the corpus it was built from (--corpus, or corpus= in Python), or save the build with "
            "Subsets.save, which keeps the corpus beside the configs"
        )
    try:
        options = CorpusOptions(**read_with)
    except (TypeError, ValueError) as err:
        raise ArtifactError(f"{where}: field corpus.read_with is not valid ({err})") from None
    return open_source(options.corpus, options)[0]


def build_tokenizer(subsets: Subsets, given: str | None) -> str:
    """The tokenizer the build used: lengths and entropy must count what its types and windows counted."""
    from macro2micro.dataset_builder.options import TokenizerOptions

    built = ((subsets.info.get("knobs") or {}).get("tokenizer") or {}).get("tokenizer")
    if given and built and given != built:
        raise OptionsError(
            f"tokenizer {given} differs from the build's {built}: the metrics would count lengths in other units "
            f"than the ladders' types and windows; leave it out (or pass {built})"
        )
    return given or built or TokenizerOptions().tokenizer


def build_embedder(subsets: Subsets, given: EmbedderOptions | str | None, fields: dict[str, Any]) -> EmbedderOptions:
    """The embedder of the embedding distance: the given one, else the build's (as for the tokenizer)."""
    if isinstance(given, str):
        fields, given = {"embedder": given, **fields}, None
    built = (subsets.info.get("knobs") or {}).get("embedder") or {}
    if given is None:  # the build's embedder, truncation and precision, unless named
        fields = {**{k: built[k] for k in ("embedder", "max_seq_length", "embed_precision") if k in built}, **fields}
    return make(EmbedderOptions, given, fields, "embedder")


def score_subsets(
    subsets: Subsets | str | Path,
    corpus: Source = None,
    metric: MetricOptions | None = None,
    *,
    tokenizer: str | None = None,
    embedder: EmbedderOptions | str | None = None,
    **fields: Any,
) -> dict[str, dict]:
    """The paper's seven diversity metrics of every config (and ``full``), per side, as ``publish`` computes them.

    Args:
        subsets: :class:`Subsets` from :func:`build_ladders`, or a build folder.
        corpus: the corpus the build used (default: the one in memory, or the location ``build.json`` records).
        metric: :class:`~macro2micro.dataset_builder.options.MetricOptions` (Self-BLEU sample, bootstrap).
        tokenizer: counts lengths and entropy (default and only valid value: the build's).
        embedder: for the embedding distance: an :class:`EmbedderOptions`, a model spec, ``"static"`` or
            ``"none"`` (skipped); default: the build's (all-MiniLM-L6-v2 when it records none).
        **fields: any field of ``MetricOptions`` or ``EmbedderOptions``.

    Returns:
        ``{config: {"instruction": {metric: value}, "response": {...}, "k": ..., "varies": ..., ...}}``.
    """
    from macro2micro.dataset_builder.metrics.scores import compute_metrics

    metric_f, embed_f = split_fields(fields, MetricOptions, EmbedderOptions, where="score_subsets")
    metric = make(MetricOptions, metric, metric_f)
    if embedder is not None and not isinstance(embedder, (str, EmbedderOptions)):
        make(EmbedderOptions, embedder, {}, "embedder")  # refused, naming the parameter, before any folder is read
    subsets = as_subsets(subsets)
    embedder = build_embedder(subsets, embedder, embed_f)
    seed = int((subsets.info.get("options") or {}).get("seed", 0))
    spec = build_tokenizer(subsets, tokenizer)
    return compute_metrics(build_corpus(subsets, corpus), subsets.manifests, metric, spec, embedder, seed=seed)


def publish(
    subsets: Subsets | str | Path,
    out: str | Path,
    corpus: Source = None,
    options: PublishOptions | None = None,
    metric: MetricOptions | None = None,
    *,
    tokenizer: str | None = None,
    embedder: EmbedderOptions | str | None = None,
    overwrite: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """Score every config, write the dataset repo folder ``out`` (atomic; every config loaded back with
    ``load_dataset``) and, with ``repo_id``, upload it in one commit, as ``macro2micro publish`` does.

    Args:
        subsets, corpus, metric, tokenizer, embedder: as for :func:`score_subsets`.
        options: :class:`~macro2micro.dataset_builder.options.PublishOptions` (repo id, licence, the card's
            source note, private, dry run).
        **fields: any field of ``PublishOptions``, ``MetricOptions`` or ``EmbedderOptions``.

    Returns:
        ``{"out", "rows" (per config), "metrics", "commit" (the upload, or None)}``.
    """
    from macro2micro.dataset_builder.hub.client import publish_folder
    from macro2micro.dataset_builder.hub.repo import write_repo_folder
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer
    from macro2micro.dataset_builder.outputs import OutputFolder
    from macro2micro.model_cards import render_dataset_card

    subsets = as_subsets(subsets)
    publish_f, metric_f, embed_f = split_fields(
        fields, PublishOptions, MetricOptions, EmbedderOptions, where="publish"
    )
    options = make(PublishOptions, options, publish_f)
    metric, embedder = make(MetricOptions, metric, metric_f), build_embedder(subsets, embedder, embed_f)
    spec = build_tokenizer(subsets, tokenizer)
    inputs = [subsets.folder] if subsets.folder else []
    recorded = (subsets.info.get("corpus") or {}).get("location") or []
    if corpus is None and subsets.corpus is None:
        inputs += [p for p in recorded if Path(p).exists()]
    elif isinstance(corpus, (str, Path)):
        inputs.append(Path(corpus))
    folder = OutputFolder(out, "publish", inputs=inputs, overwrite=overwrite).check()
    load_tokenizer(spec)  # models fail before any corpus is read
    if embedder.model:
        from macro2micro.dataset_builder.models.embeddings import load_embedder

        load_embedder(embedder.model, None, embedder.max_seq_length, embedder.embed_precision)
    with folder as tmp:
        ds = build_corpus(subsets, corpus)
        metrics = score_subsets(subsets, ds, metric, tokenizer=spec, embedder=embedder)

        def card(infos) -> str:
            return render_dataset_card(
                subsets.info,
                subsets.manifests,
                metrics,
                len(ds),
                options.repo_id,
                options.license,
                options.source_note,
                local_path=str(Path(out).resolve()),
                infos=infos,
            ).content

        rows = write_repo_folder(ds, subsets, tmp, metrics, card)
    result: dict[str, Any] = {"out": str(out), "rows": rows, "metrics": metrics, "commit": None}
    if options.repo_id:
        result["commit"] = publish_folder(out, options.repo_id, private=options.private, dry_run=options.dry_run)
    return result
