"""Macro types: semantic clusters of whole texts (BERTopic-style; METHOD section 3).

Sentence embeddings (normalized, cached) -> optional reduction (UMAP as BERTopic does, or PCA,
the fast default) -> scikit-learn's HDBSCAN. One cluster is one type; noise points carry no type,
so they enter subsets only through the random control. Each cluster is named by its top
c-TF-IDF words, as BERTopic names topics.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import EmbedderOptions, MacroOptions
from macro2micro.dataset_builder.selection.strategies import LadderStrategy, TypeMatrix
from macro2micro.dataset_builder.utils import require

logger = logging.getLogger(__name__)

REDUCERS = ("pca", "umap", "none")


def reduce_embeddings(emb: np.ndarray, reducer: str = "pca", n_components: int = 5, seed: int = 0) -> np.ndarray:
    """Project embeddings before clustering (HDBSCAN degrades in hundreds of dimensions)."""
    if reducer not in REDUCERS:
        raise OptionsError(f"reducer={reducer!r}; valid: {', '.join(REDUCERS)}")
    x = np.asarray(emb, dtype=np.float32)
    if reducer == "none" or x.shape[1] <= n_components:
        return x
    if reducer == "pca":
        require("sklearn")
        from sklearn.decomposition import PCA

        return PCA(n_components=n_components, random_state=seed).fit_transform(x)
    umap = require("umap")
    # BERTopic's defaults: 15 neighbours, 5 components, min_dist 0, cosine.
    return umap.UMAP(
        n_neighbors=15, n_components=n_components, min_dist=0.0, metric="cosine", random_state=seed, n_jobs=1
    ).fit_transform(x)  # seeded UMAP is single-threaded anyway


def center(emb: np.ndarray) -> np.ndarray:
    """Embeddings minus their mean over the corpus, renormalized.

    A static embedder's vectors are averages of token vectors, which share a common, length-dependent
    direction (MiniLM's do not): uncentered, UMAP + HDBSCAN cluster them by length and do not agree
    with themselves across reducer seeds (bench/static_embedder.py).
    """
    x = np.asarray(emb, dtype=np.float32)
    x = x - x.mean(axis=0, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cluster_labels(
    points: np.ndarray, min_cluster_size: int = 10, min_samples: int | None = None, selection: str = "eom"
) -> np.ndarray:
    """HDBSCAN labels (-1 = noise), renumbered 0.. by cluster size (largest first) for stable names."""
    require("sklearn")
    from sklearn.cluster import HDBSCAN

    if len(points) < max(2, min_cluster_size):
        return np.full(len(points), -1)
    labels = HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples, cluster_selection_method=selection, copy=True
    ).fit_predict(points)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    remap = np.full(labels.max() + 2 if len(ids) else 1, -1)
    remap[order] = np.arange(len(order))
    return np.where(labels >= 0, remap[labels], -1)


def cluster_names(texts: list[str], labels: np.ndarray, top: int = 3) -> list[str]:
    """Top c-TF-IDF words per cluster (BERTopic's class-based TF-IDF)."""
    n_clusters = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    if n_clusters == 0:
        return []
    require("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer

    mask = labels >= 0
    try:
        counts = CountVectorizer(
            stop_words="english", max_features=20_000, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
        ).fit([texts[i] for i in np.flatnonzero(mask)])
    except ValueError:  # no words at all
        return [f"cluster_{c}" for c in range(n_clusters)]
    x = counts.transform([texts[i] for i in np.flatnonzero(mask)])
    onehot = sp.csr_matrix(
        (np.ones(mask.sum()), (labels[mask], np.arange(mask.sum()))), shape=(n_clusters, mask.sum())
    )
    tf = onehot @ x
    tf = sp.csr_matrix(tf.multiply(1 / np.maximum(tf.sum(axis=1), 1)))
    avg = np.asarray(x.sum(axis=0)).ravel() / n_clusters
    idf = np.log(1 + 1 / np.maximum(avg, 1e-12))
    scores = tf.multiply(idf).toarray()
    vocab = counts.get_feature_names_out()
    return [f"{c}_" + "_".join(vocab[np.argsort(-scores[c], kind="stable")[:top]]) for c in range(n_clusters)]


class MacroStrategy(LadderStrategy):
    """Macro diversity: types are semantic clusters of the side's texts.

    Args:
        side: ``instruction`` or ``response``.
        options: reduction and HDBSCAN settings (:class:`~macro2micro.dataset_builder.options.MacroOptions`).
        embedder: the sentence-embedding model (:class:`~macro2micro.dataset_builder.options.EmbedderOptions`).
    """

    granularity = "macro"

    def __init__(self, side: str, options: MacroOptions | None = None, embedder: EmbedderOptions | None = None):
        super().__init__(side)
        self.options = options or MacroOptions()
        self.embedder = embedder or EmbedderOptions()
        if self.embedder.model is None:
            raise OptionsError(f"{self.name} needs a sentence-embedding model; --embedder none is not possible here")

    def get_options(self) -> dict[str, Any]:
        o = self.options
        return {
            "embedder": self.embedder.embedder,
            "reducer": o.reducer,
            "n_components": o.n_components,
            "min_cluster_size": o.min_cluster_size,
            "min_samples": o.min_samples,
            "max_seq_length": self.embedder.max_seq_length,
            "cluster_selection": o.cluster_selection,
        }

    def embed(self, corpus) -> tuple[np.ndarray, dict]:
        from macro2micro.dataset_builder.models.embeddings import embed_texts

        return embed_texts(
            column(corpus, self.side),
            self.embedder.embedder,
            fingerprint=f"{corpus_fingerprint(corpus)}:{self.side}",
            max_seq_length=self.embedder.max_seq_length,
            precision=self.embedder.embed_precision,
        )

    def extract_types(self, corpus) -> TypeMatrix:
        o = self.options
        emb, ident = self.embed(corpus)
        centered = str(ident.get("name", "")).startswith("static:")
        points = reduce_embeddings(center(emb) if centered else emb, o.reducer, o.n_components)
        labels = cluster_labels(points, o.min_cluster_size, o.min_samples, o.cluster_selection)
        n_clusters = int(labels.max()) + 1 if labels.max() >= 0 else 0
        rows = np.flatnonzero(labels >= 0)
        matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.int8), (rows, labels[rows])), shape=(len(corpus), n_clusters)
        )
        names = cluster_names(column(corpus, self.side), labels)
        info = {
            "embedder": ident,
            **({"centered": True} if centered else {}),  # only where it applies: other manifests stay as they were
            "reducer": {"name": o.reducer, "n_components": o.n_components},
            "hdbscan": {
                "min_cluster_size": o.min_cluster_size,
                "min_samples": o.min_samples,
                "cluster_selection": o.cluster_selection,
            },
            "n_clusters": n_clusters,
            "n_noise": int((labels < 0).sum()),
        }
        logger.info("%s: %d clusters, %d noise points of %d", self.name, n_clusters, info["n_noise"], len(corpus))
        return TypeMatrix(matrix, names, info)
