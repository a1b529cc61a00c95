"""The seven metrics of one list of texts, from the texts alone: what the ``sft_diversity`` evaluate
measurement computes, with the same code (and so the same numbers) as ``publish`` for a config's side."""

from __future__ import annotations

from collections.abc import Sequence

from macro2micro.dataset_builder.defaults import DEFAULT_MODEL


def measure_texts(
    texts: Sequence[str],
    tokenizer: str = DEFAULT_MODEL,
    embedder: str | None = None,
    self_bleu_sample: int = 200,
    seed: int = 0,
    max_seq_length: int = 128,
) -> dict[str, float | None]:
    """Distinct-1/2, embedding distance, mean length, compression ratio, Self-BLEU and token entropy of ``texts``.

    Args:
        texts: one side of one subset (e.g. its responses), in the subset's row order (Self-BLEU's sample is
            drawn by position).
        tokenizer: the model whose tokenizer counts lengths and entropy, or ``"word"``: pass the build's to
            match ``publish``.
        embedder: sentence-embedding model, ``"static"``, or None / ``"none"`` (no embedding distance).
        self_bleu_sample: texts sampled for Self-BLEU; seed: seeds that sample (the build's seed in ``publish``).
        max_seq_length: embedding truncation, in word pieces.
    """
    from macro2micro.dataset_builder.corpus.features import token_features
    from macro2micro.dataset_builder.metrics.diversity import side_metrics
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    texts = list(texts)
    feats = token_features(texts, load_tokenizer(tokenizer), use_cache=False)
    ids = [feats.row(i) for i in range(len(texts))]
    emb = None
    if embedder and str(embedder).lower() != "none":
        from macro2micro.dataset_builder.models.embeddings import embed_texts

        emb, _ = embed_texts(texts, embedder, max_seq_length=max_seq_length, use_cache=False)
    return side_metrics(texts, ids, emb, self_bleu_sample, seed)
