"""Benchmark of the static embedder against all-MiniLM-L6-v2 for macro types (not a test).

    python bench/static_embedder.py [--texts 3000] [--reducers umap,pca] [--json PATH]

Measured in one run, on the same real texts (a seeded sample of the embedded ShareGPT corpus):

1. Texts per second of MiniLM through ``embed_texts`` (sentence-transformers on the CPU,
   ``max_seq_length`` 128, no cache) and of the static embedder (same truncation); the target is a
   ratio of at least 50.
2. How far the two embeddings agree before clustering: overlap of each text's 10 nearest
   neighbours, and the Spearman correlation of pairwise cosine similarities.
3. The project's macro pipeline (``reduce_embeddings`` + ``cluster_labels``, same settings for
   both) per reducer: cluster counts, noise shares, and the adjusted Rand index of the labels,
   overall (noise as one label) and on the texts that are non-noise in both. MiniLM against
   MiniLM with another reducer seed is the yardstick of how stable the clustering is at all.
   The static embedder is also clustered at 512 word pieces (model2vec's default) and centered
   (minus its mean over the sample, renormalized), which is what ``--embedder static`` clusters:
   averaged token vectors share a common, length-dependent direction that MiniLM's do not
   (reported under ``embedding_agreement``).

Prints one JSON line per measurement. On a shared CPU the throughput figures vary by 2x or more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def emit(results: dict, key: str, row: dict) -> None:
    results[key] = row
    print(json.dumps({key: row}), flush=True)


def summary(labels: np.ndarray) -> dict:
    return {
        "clusters": int(labels.max() + 1) if labels.max() >= 0 else 0,
        "noise_share": round(float((labels < 0).mean()), 4),
    }


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """ARI overall (noise as one more label) and on the points that are non-noise in both."""
    from sklearn.metrics import adjusted_rand_score

    both = (a >= 0) & (b >= 0)
    ari_both = round(float(adjusted_rand_score(a[both], b[both])), 4) if both.sum() > 1 else None
    return {
        "ari": round(float(adjusted_rand_score(a, b)), 4),
        "ari_non_noise_in_both": ari_both,
        "share_non_noise_in_both": round(float(both.mean()), 4),
    }


def neighbour_agreement(x: np.ndarray, y: np.ndarray, k: int = 10, pairs: int = 200_000, seed: int = 0) -> dict:
    """Mean overlap of the k nearest neighbours (cosine) and Spearman rho of pairwise cosines."""
    import scipy.sparse as sp
    from scipy.stats import spearmanr

    sx, sy = x @ x.T, y @ y.T
    np.fill_diagonal(sx, -np.inf)
    np.fill_diagonal(sy, -np.inf)
    n = len(x)

    def knn(s: np.ndarray) -> sp.csr_matrix:
        cols = np.argpartition(-s, k, axis=1)[:, :k].ravel()
        return sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), cols)), shape=(n, n))

    overlap = knn(sx).multiply(knn(sy)).sum() / (n * k)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(x), size=(2, pairs))
    keep = i != j
    rho = spearmanr(sx[i[keep], j[keep]], sy[i[keep], j[keep]]).statistic
    return {f"knn{k}_overlap": round(float(overlap), 4), "cosine_spearman": round(float(rho), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=3000, help="corpus texts to embed and cluster (seeded sample)")
    ap.add_argument("--side", default="instruction", choices=("instruction", "response"))
    ap.add_argument("--max-seq-length", type=int, default=128, help="word pieces per text, both embedders")
    ap.add_argument("--reducers", default="umap,pca", help="comma-separated: umap, pca, none")
    ap.add_argument("--n-components", type=int, default=5)
    ap.add_argument("--min-cluster-size", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0, help="sample and reducer seed")
    ap.add_argument("--yardstick-seed", type=int, default=1, help="the second reducer seed")
    ap.add_argument("--repeats", type=int, default=3, help="static timing: median of this many runs")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="n_jobs value")  # umap: a seed means one thread

    import torch
    from scipy.stats import spearmanr

    from macro2micro.dataset_builder.corpus.ingest import CorpusOptions, load_corpus
    from macro2micro.dataset_builder.models.assets import DEFAULT_CORPUS, DEFAULT_EMBEDDER, resolve_corpus
    from macro2micro.dataset_builder.models.embeddings import embed_texts, load_embedder
    from macro2micro.dataset_builder.models.static_embedder import StaticEmbedder, static_embedder_dir
    from macro2micro.dataset_builder.types.macro import center, cluster_labels, reduce_embeddings
    from macro2micro.dataset_builder.utils import torch_threads

    torch_threads()  # what load_embedder sets for MiniLM anyway: every core
    results: dict = {}
    emit(
        results,
        "machine",
        {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        },
    )

    start = time.perf_counter()
    static_dir = static_embedder_dir()
    ready_s = time.perf_counter() - start
    config = json.loads((static_dir / "config.json").read_text())
    emit(
        results,
        "static_asset",
        {
            "dir": static_dir.name,
            "ready_s": round(ready_s, 1),
            "size_mb": round(sum(p.stat().st_size for p in static_dir.iterdir()) / 1e6, 2),
            "dims": config["dims"],
            "tokens_distilled": config["tokens_distilled"],
            "dtype": config["dtype"],
            "pca_explained_variance": config["pca_explained_variance"],
        },
    )

    ds, _ = load_corpus(
        resolve_corpus(DEFAULT_CORPUS), CorpusOptions(max_instruction_chars=4000, max_response_chars=8000)
    )
    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(len(ds), size=min(args.texts, len(ds)), replace=False))
    side = ds[args.side]
    texts = [side[int(i)] for i in rows]
    chars = np.array([len(t) for t in texts])
    emit(
        results,
        "texts",
        {
            "side": args.side,
            "n": len(texts),
            "corpus_rows": len(ds),
            "chars_mean": round(float(chars.mean()), 1),
            "chars_median": float(np.median(chars)),
        },
    )

    # 1. throughput
    load_embedder(DEFAULT_EMBEDDER, "cpu", args.max_seq_length).encode(texts[:16])  # load + warm-up
    start = time.perf_counter()
    minilm, _ = embed_texts(
        texts, DEFAULT_EMBEDDER, max_seq_length=args.max_seq_length, dtype="float32", device="cpu", use_cache=False
    )
    minilm_s = time.perf_counter() - start
    static = StaticEmbedder.load(static_dir, max_seq_length=args.max_seq_length)
    static.encode(texts[:16])
    times = []
    for _ in range(max(1, args.repeats)):
        start = time.perf_counter()
        stat = static.encode(texts, batch_size=1024)
        times.append(time.perf_counter() - start)
    static_s = float(np.median(times))
    long_static = StaticEmbedder.load(static_dir, max_seq_length=512)
    stat512 = long_static.encode(texts)
    emit(
        results,
        "throughput",
        {
            "max_seq_length": args.max_seq_length,
            "minilm_texts_per_s": round(len(texts) / minilm_s, 1),
            "static_texts_per_s": round(len(texts) / static_s, 1),
            "ratio": round(minilm_s / static_s, 1),
            "static_runs_s": [round(t, 3) for t in times],
            "minilm_s": round(minilm_s, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    )

    everything = list(ds["instruction"]) + list(ds["response"])
    start = time.perf_counter()
    static.encode(everything)
    whole_s = time.perf_counter() - start
    emit(
        results,
        "static_whole_corpus",
        {
            "texts": len(everything),
            "texts_per_s": round(len(everything) / whole_s, 1),
            "seconds": round(whole_s, 2),
            "note": "both sides, max_seq_length as above",
        },
    )

    # 2. agreement of the embeddings themselves
    lengths = np.array([len(t) for t in texts])
    emit(
        results,
        "embedding_agreement",
        {
            f"minilm_vs_static{args.max_seq_length}": neighbour_agreement(minilm, stat),
            "minilm_vs_static512": neighbour_agreement(minilm, stat512),
            "norm_of_mean_vector": {
                "minilm": round(float(np.linalg.norm(minilm.mean(axis=0))), 3),
                "static": round(float(np.linalg.norm(stat.mean(axis=0))), 3),
            },
            "spearman_length_vs_cosine_to_mean": {
                "minilm": round(float(spearmanr(lengths, minilm @ minilm.mean(axis=0)).statistic), 3),
                "static": round(float(spearmanr(lengths, stat @ stat.mean(axis=0)).statistic), 3),
            },
        },
    )

    # 3. macro clusters. "centered": the static vectors minus their mean over these texts, renormalized
    # (averaged token vectors share a length-dependent common direction; MiniLM's hardly do). It is what
    # `--embedder static` clusters (macro2micro.dataset_builder.types.macro.center); the uncentered runs show why.
    main_static = f"static{args.max_seq_length}"
    centered = center(stat)
    embeddings = {"minilm": minilm, main_static: stat, "static512": stat512, f"{main_static}_centered": centered}
    for reducer in args.reducers.split(","):
        labels, seconds = {}, {}
        runs = [
            ("minilm", args.seed),
            ("minilm", args.yardstick_seed),
            (main_static, args.seed),
            (main_static, args.yardstick_seed),
            ("static512", args.seed),
            (f"{main_static}_centered", args.seed),
            (f"{main_static}_centered", args.yardstick_seed),
        ]
        for name, seed in runs:
            start = time.perf_counter()
            points = reduce_embeddings(embeddings[name], reducer, args.n_components, seed=seed)
            labels[f"{name}/seed{seed}"] = cluster_labels(points, args.min_cluster_size)
            seconds[f"{name}/seed{seed}"] = round(time.perf_counter() - start, 1)
        base, other = f"minilm/seed{args.seed}", f"minilm/seed{args.yardstick_seed}"
        st, st2 = f"{main_static}/seed{args.seed}", f"{main_static}/seed{args.yardstick_seed}"
        emit(
            results,
            f"clusters_{reducer}",
            {
                "n_components": args.n_components,
                "min_cluster_size": args.min_cluster_size,
                "runs": {k: {**summary(v), "seconds": seconds[k]} for k, v in labels.items()},
                "minilm_vs_static": agreement(labels[base], labels[st]),
                "yardstick_minilm_vs_minilm_other_seed": agreement(labels[base], labels[other]),
                "static_vs_static_other_seed": agreement(labels[st], labels[st2]),
                "minilm_vs_static512": agreement(labels[base], labels[f"static512/seed{args.seed}"]),
                "minilm_vs_static_centered": agreement(
                    labels[base], labels[f"{main_static}_centered/seed{args.seed}"]
                ),
                "static_centered_vs_other_seed": agreement(
                    labels[f"{main_static}_centered/seed{args.seed}"],
                    labels[f"{main_static}_centered/seed{args.yardstick_seed}"],
                ),
            },
        )

    results["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
