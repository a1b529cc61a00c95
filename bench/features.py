"""Benchmark of the macro and meso feature paths (not a test).

    python bench/features.py [--texts 512] [--sizes 10000,50000,117000]

1. Embeddings per second of our path (``embed_texts``: resolve, encode, normalize, cast) against
   ``SentenceTransformer.encode`` alone on the same texts: the ratio should be near 1; and the same
   encode with torch on one thread against every core (what ``macro2micro.dataset_builder.utils.torch_threads`` sets).
2. HDBSCAN time after PCA to 5 dimensions at 10K, 50K and 117K points (synthetic 384-d
   embeddings drawn around 200 centres, normalized): how the cost grows.
3. The offline tagger's texts per second on the embedded corpus's responses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=512, help="embedded-corpus instructions to embed")
    ap.add_argument("--sizes", default="10000,50000,117000", help="HDBSCAN sizes")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from macro2micro.dataset_builder.corpus.ingest import CorpusOptions, load_corpus
    from macro2micro.dataset_builder.models.assets import DEFAULT_CORPUS, DEFAULT_EMBEDDER, resolve_corpus
    from macro2micro.dataset_builder.models.embeddings import embed_texts, load_embedder
    from macro2micro.dataset_builder.types.macro import cluster_labels, reduce_embeddings
    from macro2micro.dataset_builder.types.tagging import OfflineTagger
    from macro2micro.dataset_builder.utils import torch_threads

    results: dict = {}
    ds, _ = load_corpus(
        resolve_corpus(DEFAULT_CORPUS), CorpusOptions(max_instruction_chars=4000, max_response_chars=8000)
    )
    texts = ds["instruction"][: args.texts]
    model = load_embedder(DEFAULT_EMBEDDER, "cpu", 128)
    model.encode(texts[:32])  # warm-up
    start = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    raw_s = time.perf_counter() - start
    start = time.perf_counter()
    embed_texts(texts, DEFAULT_EMBEDDER, max_seq_length=128, use_cache=False, device="cpu")
    ours_s = time.perf_counter() - start
    results["embeddings"] = {
        "texts": len(texts),
        "max_seq_length": 128,
        "torch_threads": torch.get_num_threads(),
        "sentence_transformers_per_s": round(len(texts) / raw_s, 1),
        "ours_per_s": round(len(texts) / ours_s, 1),
        "ratio": round(raw_s / ours_s, 3),
    }
    print(json.dumps(results["embeddings"]), flush=True)

    # Torch's own thread pool: one thread (what OMP_NUM_THREADS=1 used to leave it) against every core.
    threads = {}
    for n in (1, torch_threads()):
        torch.set_num_threads(n)
        start = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True)
        threads[n] = time.perf_counter() - start
    results["torch_threads"] = {f"{n}_threads_per_s": round(len(texts) / s, 1) for n, s in threads.items()}
    results["torch_threads"]["gain"] = round(threads[1] / threads[max(threads)], 2)
    print(json.dumps(results["torch_threads"]), flush=True)

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 384))
    results["hdbscan_after_pca5"] = []
    for n in map(int, args.sizes.split(",")):
        x = centres[rng.integers(0, 200, size=n)] + rng.normal(scale=0.6, size=(n, 384))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        start = time.perf_counter()
        points = reduce_embeddings(x.astype(np.float32), "pca", 5)
        pca_s = time.perf_counter() - start
        start = time.perf_counter()
        labels = cluster_labels(points, min_cluster_size=10)
        row = {
            "points": n,
            "pca_s": round(pca_s, 2),
            "hdbscan_s": round(time.perf_counter() - start, 2),
            "clusters": int(labels.max() + 1),
            "noise": int((labels < 0).sum()),
        }
        results["hdbscan_after_pca5"].append(row)
        print(json.dumps(row), flush=True)

    responses = ds["response"][:]
    start = time.perf_counter()
    OfflineTagger().tag(responses)
    tag_s = time.perf_counter() - start
    results["offline_tagger"] = {"texts": len(responses), "texts_per_s": round(len(responses) / tag_s, 1)}
    print(json.dumps(results["offline_tagger"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
