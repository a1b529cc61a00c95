"""Macro types: semantic clusters of whole texts (BERTopic-style; SPEC section 3).

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

from .strategies import LadderStrategy, TypeMatrix, fingerprint, register
from .utils import require

logger = logging.getLogger(__name__)

REDUCERS = ("pca", "umap", "none")


def reduce_embeddings(emb: np.ndarray, reducer: str = "pca", n_components: int = 5, seed: int = 0) -> np.ndarray:
    """Project embeddings before clustering (HDBSCAN degrades in hundreds of dimensions)."""
    if reducer not in REDUCERS:
        raise ValueError(f"reducer={reducer!r}; valid: {', '.join(REDUCERS)}")
    x = np.asarray(emb, dtype=np.float32)
    if reducer == "none" or x.shape[1] <= n_components:
        return x
    if reducer == "pca":
        from sklearn.decomposition import PCA

        require("sklearn")
        return PCA(n_components=n_components, random_state=seed).fit_transform(x)
    umap = require("umap")
    # BERTopic's defaults: 15 neighbours, 5 components, min_dist 0, cosine.
    return umap.UMAP(n_neighbors=15, n_components=n_components, min_dist=0.0, metric="cosine",
                     random_state=seed).fit_transform(x)


def cluster_labels(points: np.ndarray, min_cluster_size: int = 10, min_samples: int | None = None,
                   selection: str = "eom") -> np.ndarray:
    """HDBSCAN labels (-1 = noise), renumbered 0.. by cluster size (largest first) for stable names."""
    require("sklearn")
    from sklearn.cluster import HDBSCAN

    if len(points) < max(2, min_cluster_size):
        return np.full(len(points), -1)
    labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                     cluster_selection_method=selection, copy=True).fit_predict(points)
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
    from sklearn.feature_extraction.text import CountVectorizer

    mask = labels >= 0
    try:
        counts = CountVectorizer(stop_words="english", max_features=20_000,
                                 token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b").fit(
            [texts[i] for i in np.flatnonzero(mask)])
    except ValueError:  # no words at all
        return [f"cluster_{c}" for c in range(n_clusters)]
    x = counts.transform([texts[i] for i in np.flatnonzero(mask)])
    onehot = sp.csr_matrix((np.ones(mask.sum()), (labels[mask], np.arange(mask.sum()))), shape=(n_clusters, mask.sum()))
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
        embedder: sentence-embedding model (local path, Hub id, or the embedded all-MiniLM-L6-v2).
        reducer: ``umap`` (BERTopic's choice, the default), ``pca`` (fast; on sentence embeddings
            HDBSCAN then tends to find only a few large clusters) or ``none``.
        n_components: dimensions after reduction.
        min_cluster_size: HDBSCAN's smallest cluster.
        min_samples: HDBSCAN's density parameter (None: min_cluster_size).
        max_seq_length: embedding truncation in word pieces.
        cluster_selection: HDBSCAN's ``eom`` (default) or ``leaf`` (more, smaller clusters).
    """

    granularity = "macro"

    def __init__(self, side: str, embedder: str = "embedded:all-minilm-l6-v2", reducer: str = "umap",
                 n_components: int = 5, min_cluster_size: int = 10, min_samples: int | None = None,
                 max_seq_length: int = 128, cluster_selection: str = "eom"):
        super().__init__(side)
        if reducer not in REDUCERS:
            raise ValueError(f"reducer={reducer!r}; valid: {', '.join(REDUCERS)}")
        if cluster_selection not in ("eom", "leaf"):
            raise ValueError(f"cluster_selection={cluster_selection!r}; valid: eom, leaf")
        if min_cluster_size < 2:
            raise ValueError(f"min_cluster_size={min_cluster_size} must be at least 2")
        self.embedder, self.reducer, self.n_components = embedder, reducer, n_components
        self.min_cluster_size, self.min_samples, self.max_seq_length = min_cluster_size, min_samples, max_seq_length
        self.cluster_selection = cluster_selection

    def get_options(self) -> dict[str, Any]:
        return {"embedder": self.embedder, "reducer": self.reducer, "n_components": self.n_components,
                "min_cluster_size": self.min_cluster_size, "min_samples": self.min_samples,
                "max_seq_length": self.max_seq_length, "cluster_selection": self.cluster_selection}

    def embed(self, corpus) -> tuple[np.ndarray, dict]:
        from .embeddings import embed_texts

        return embed_texts(list(corpus[self.side]), self.embedder, fingerprint=f"{fingerprint(corpus)}:{self.side}",
                           max_seq_length=self.max_seq_length)

    def extract_types(self, corpus) -> TypeMatrix:
        emb, ident = self.embed(corpus)
        points = reduce_embeddings(emb, self.reducer, self.n_components)
        labels = cluster_labels(points, self.min_cluster_size, self.min_samples, self.cluster_selection)
        n_clusters = int(labels.max()) + 1 if labels.max() >= 0 else 0
        rows = np.flatnonzero(labels >= 0)
        matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, labels[rows])),
                               shape=(len(corpus), n_clusters))
        names = cluster_names(list(corpus[self.side]), labels)
        info = {"embedder": ident, "reducer": {"name": self.reducer, "n_components": self.n_components},
                "hdbscan": {"min_cluster_size": self.min_cluster_size, "min_samples": self.min_samples,
                            "cluster_selection": self.cluster_selection},
                "n_clusters": n_clusters, "n_noise": int((labels < 0).sum())}
        logger.info("%s: %d clusters, %d noise points of %d", self.name, n_clusters, info["n_noise"], len(corpus))
        return TypeMatrix(matrix, names, info)


register("macro_instruction", MacroStrategy, side="instruction")
register("macro_response", MacroStrategy, side="response")
