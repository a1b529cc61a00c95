"""Build's per-row features on Ray Data, written where the local engine caches them.

- Token ids of both sides (every config's lengths; the micro types): a map over blocks of rows (the local
  engine's own encoder, so the same ids), written as Parquet shards; the micro band counts as a second map
  over those shards (a ``bincount`` per block) and one global sum on the driver.
- Sentence embeddings (macro types, kcenter and deita): an actor pool (``map_batches`` with a callable class:
  the model loads once per actor), one GPU per actor where the cluster has GPUs.
- Meso's LLM tags: an actor pool of tagger backends filling the tagger's cache (:mod:`.tags`).

The driver reads the shards back in row order into the local engine's cache files (``token_cache_file``,
``embedding_cache_file``); the global steps (the type matrix, pruning, sampling) then read them as they read
their own, so both engines give the same bytes. On a cluster of several machines the cache folder
(``$MACRO2MICRO_CACHE``) must be a shared file system: the workers write the shards into it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from typing import Any

import numpy as np

from macro2micro.dataset_builder.corpus.features import _encode, token_cache_file
from macro2micro.dataset_builder.corpus.ingest import corpus_fingerprint
from macro2micro.dataset_builder.defaults import SIDES, WORD_TOKENIZER
from macro2micro.dataset_builder.engine.cluster import cluster, ray_session
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.utils import atomic_file, cache_dir, resolve_precision

logger = logging.getLogger(__name__)
ROW = "__row__"  # the row index column: blocks finish in any order, the driver puts them back in order


def _row_blocks(corpus, columns: list[str], block_rows: int) -> list:
    """The corpus's columns as Arrow tables of ``block_rows`` rows, each row carrying its index."""
    import pyarrow as pa

    table = corpus.select_columns(columns).with_format("arrow")[: len(corpus)]
    table = table.append_column(ROW, pa.array(np.arange(len(corpus), dtype=np.int64)))
    return [table.slice(start, block_rows) for start in range(0, len(corpus), block_rows)] or [table]


def tokenize_block(batch, sides: list[str], tokenizer: str, batch_size: int = 1024):
    """One block's token ids per side, as Arrow list columns (the local engine's encoder: the same ids)."""
    import pyarrow as pa

    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    tok = load_tokenizer(tokenizer)  # once per worker process (memoized)
    out = {ROW: batch[ROW]}
    for side in sides:
        ids, offsets = _encode(batch[side].to_pylist(), tok, batch_size)
        out[side] = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(ids, pa.int32()))
    return pa.table(out)


def count_block(batch, sides: list[str], vocab_size: int):
    """One block's occurrences of every token id, per side: one row of ``vocab_size`` counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {}
    for side in sides:
        ids = pc.list_flatten(batch[side]).to_numpy(zero_copy_only=False)
        out[side] = [np.bincount(ids, minlength=vocab_size).astype(np.int64)]
    return pa.table(out)


class Embedder:
    """An actor of the embedding pool: the model is loaded once, then encodes block after block."""

    def __init__(self, spec: str, max_seq_length: int | None, sides: list[str], device: str, precision: str):
        if device == "cpu":  # one actor per CPU: each a single torch thread, not all of them fighting for all
            os.environ["MACRO2MICRO_TORCH_THREADS"] = "1"
        from macro2micro.dataset_builder.models.embeddings import load_embedder

        self.model = load_embedder(spec, device, max_seq_length, precision)
        self.sides, self.device, self.precision = sides, device, precision

    def __call__(self, batch):
        import pyarrow as pa

        from macro2micro.dataset_builder.utils import autocast

        out = {ROW: batch[ROW]}
        for side in self.sides:
            # what embed_texts does, block by block: normalized, float16; stored as raw bytes per row
            with autocast(self.precision, self.device):
                vectors = self.model.encode(
                    batch[side].to_pylist(),
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ).astype("float16")
            width = vectors.shape[1] * 2
            out[side] = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(width), len(vectors), [None, pa.py_buffer(np.ascontiguousarray(vectors).tobytes())]
            )
        return pa.table(out)


def _read_back(folder, n: int):
    """The shards of a folder as one table in row order; every row exactly once, or an ArtifactError."""
    import pyarrow.parquet as pq

    table = pq.read_table(str(folder)).sort_by(ROW).combine_chunks()
    rows = table[ROW].to_numpy()
    if len(rows) != n or (n and (rows[0] != 0 or rows[-1] != n - 1 or np.any(np.diff(rows) != 1))):
        raise ArtifactError(f"{folder}: the Ray shards hold {len(rows)} rows, not rows 0..{n - 1} once each")
    return table


def _list_column(table, side: str) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.compute as pc

    col = table[side].combine_chunks()
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False).astype(np.int64)
    ids = pc.list_flatten(col).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return ids, np.concatenate(([0], np.cumsum(lengths)))


def _shards() -> Any:
    return cache_dir("features", "shards") / uuid.uuid4().hex


def ray_tokens(ray, corpus, sides: list[str], tokenizer: str, options: EngineOptions, record: dict) -> None:
    """Token ids (and band counts) of ``sides`` into the token cache."""
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    tok = load_tokenizer(tokenizer)
    fp = corpus_fingerprint(corpus)
    todo = [s for s in sides if not token_cache_file(f"{fp}:{s}", tok).exists()]
    if not todo:
        return
    folder, start = _shards(), time.perf_counter()
    try:
        blocks = ray.data.from_arrow(_row_blocks(corpus, todo, options.ray_block_rows))
        blocks.map_batches(
            tokenize_block, batch_format="pyarrow", batch_size=None, fn_kwargs={"sides": todo, "tokenizer": tokenizer}
        ).write_parquet(str(folder))
        mapped = time.perf_counter()
        counts = {s: np.zeros(len(tok), dtype=np.int64) for s in todo}
        per_block = ray.data.read_parquet(str(folder), columns=todo).map_batches(
            count_block, batch_format="pyarrow", batch_size=None, fn_kwargs={"sides": todo, "vocab_size": len(tok)}
        )
        for batch in per_block.iter_batches(batch_format="numpy", batch_size=None):
            for s in todo:
                counts[s] += np.sum(np.stack(list(batch[s])), axis=0)  # the global count
        counted = time.perf_counter()
        table = _read_back(folder, len(corpus))
        for s in todo:
            ids, offsets = _list_column(table, s)
            if int(counts[s].sum()) != len(ids):
                raise ArtifactError(f"{folder}: {s} counts sum to {int(counts[s].sum())}, the shards hold {len(ids)}")
            with atomic_file(token_cache_file(f"{fp}:{s}", tok)) as tmp:
                np.savez(tmp, ids=ids, offsets=offsets, vocab_size=len(tok), counts=counts[s])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    record["tokens"] = {
        "sides": todo,
        "map_s": round(mapped - start, 3),
        "count_s": round(counted - mapped, 3),
        "read_back_s": round(time.perf_counter() - counted, 3),
    }


def ray_embeddings(ray, corpus, sides: list[str], embedder, options: EngineOptions, record: dict) -> None:
    """Normalized float16 embeddings of ``sides`` into the embedding cache, from an actor pool."""
    from macro2micro.dataset_builder.models.embeddings import embedder_identity, embedding_cache_file, load_embedder

    spec, max_len = embedder.embedder, embedder.max_seq_length
    res = cluster(ray)
    gpus = int(res["GPU"])
    # 'auto' is resolved for the workers' device (the driver's may differ), and the driver's model named the same
    precision = resolve_precision(embedder.embed_precision, "cuda" if gpus else "cpu")
    ident = embedder_identity(spec, load_embedder(spec, None, max_len, precision))
    fp = corpus_fingerprint(corpus)
    todo = [s for s in sides if not embedding_cache_file(f"{fp}:{s}", ident).exists()]
    if not todo:
        return
    blocks = _row_blocks(corpus, todo, options.ray_block_rows)
    actors = max(1, min(len(blocks), gpus or int(res["CPU"])))  # one per GPU, else one per CPU; no idle actors
    pool = {"num_gpus": 1, "concurrency": actors} if gpus else {"num_cpus": 1, "concurrency": actors}
    folder, start = _shards(), time.perf_counter()
    try:
        ray.data.from_arrow(blocks).map_batches(
            Embedder,
            fn_constructor_args=(spec, max_len, todo, "cuda" if gpus else "cpu", precision),
            batch_format="pyarrow",
            batch_size=None,
            **pool,
        ).write_parquet(str(folder))
        table = _read_back(folder, len(corpus))
        for s in todo:
            col = table[s].combine_chunks()
            width = col.type.byte_width
            raw = np.frombuffer(col.buffers()[1], dtype=np.uint8, count=len(col) * width, offset=col.offset * width)
            vectors = raw.view(np.float16).reshape(len(col), width // 2)
            with atomic_file(embedding_cache_file(f"{fp}:{s}", ident)) as tmp:
                np.save(tmp, vectors)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    record["embeddings"] = {"sides": todo, "actors": pool, "seconds": round(time.perf_counter() - start, 3)}


def embedded_sides(strategies: list[str], knobs) -> list[str]:
    """The sides whose whole-side embeddings the build reads: the macro ladders', kcenter's and deita's."""
    sides = {name.split("_", 1)[1] for name in strategies if name.startswith("macro_")}
    if {"kcenter", "deita"} & set(strategies):
        which = knobs.baselines.baseline_embedding
        sides |= set(SIDES) if which == "both" else {which}
    return [s for s in SIDES if s in sides]


def prepare_features(corpus, strategies: list[str], knobs, options: EngineOptions) -> dict:
    """Compute on Ray what the build reads per row, into the local caches. Returns what ran and how long.

    Args:
        corpus: the clean corpus.
        strategies: the resolved strategy names of the build.
        knobs: the strategies' settings (tokenizer, embedder, baselines).
        options: the engine and its cluster.
    """
    record: dict[str, Any] = {}
    with ray_session(options) as ray:
        record["cluster"] = cluster(ray)
        if knobs.tokenizer.tokenizer != WORD_TOKENIZER:  # word ids are numbered by first use: a corpus-wide order
            ray_tokens(ray, corpus, list(SIDES), knobs.tokenizer.tokenizer, options, record)
        sides = embedded_sides(strategies, knobs) if knobs.embedder.model else []
        if sides:
            ray_embeddings(ray, corpus, sides, knobs.embedder, options, record)
        from macro2micro.dataset_builder.engine.tags import ray_tags

        ray_tags(ray, corpus, strategies, knobs.meso, options, record)
    logger.info("ray engine: %s", record)
    return record
