import numpy as np
import pytest

from macro2micro.dataset_builder.options import MacroOptions
from macro2micro.dataset_builder.types.macro import MacroStrategy, cluster_labels, cluster_names, reduce_embeddings


def test_well_separated_clusters_are_recovered():
    rng = np.random.default_rng(0)
    centers = np.eye(5) * 10
    truth = np.repeat(np.arange(4), 30)
    points = centers[truth] + rng.normal(scale=0.3, size=(120, 5))
    noise = rng.uniform(-20, 20, size=(3, 5)) + 40
    labels = cluster_labels(np.vstack([points, noise]), min_cluster_size=10)
    assert labels.max() + 1 == 4
    for c in range(4):  # each true cluster maps to exactly one label, with no stray members
        assert len(set(labels[:120][truth == c])) == 1
    assert (labels[120:] == -1).all()
    sizes = np.bincount(labels[labels >= 0])
    assert list(sizes) == sorted(sizes, reverse=True)  # renumbered by size


def test_cluster_names_are_c_tf_idf_words():
    texts = ["bake bread with flour", "bread dough and flour", "orbit of the planet", "planet and moon orbit"]
    names = cluster_names(texts, np.array([0, 0, 1, 1]), top=2)
    assert names[0].startswith("0_") and "bread" in names[0] and "flour" in names[0]
    assert "orbit" in names[1] and "planet" in names[1]


def test_reducers_and_validation():
    x = np.random.default_rng(0).normal(size=(50, 20))
    assert reduce_embeddings(x, "pca", 5).shape == (50, 5)
    assert reduce_embeddings(x, "none").shape == (50, 20)
    with pytest.raises(ValueError, match="reducer='tsne'; valid: pca, umap, none"):
        reduce_embeddings(x, "tsne")
    with pytest.raises(ValueError, match="min_cluster_size=1"):
        MacroOptions(min_cluster_size=1)


@pytest.mark.slow  # the real embedded assets
def test_macro_types_follow_topics_and_manifest_info(synthetic_corpus):
    s = MacroStrategy("instruction", MacroOptions(reducer="pca", min_cluster_size=5, cluster_selection="leaf"))
    s.fit(synthetic_corpus)
    info = s.type_info_
    assert info["n_clusters"] == s.types_.shape[1] >= 2
    assert info["embedder"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["n_noise"] == int((np.diff(s.types_.indptr) == 0).sum())
    # clusters are topical: most members of a cluster share the synthetic topic (the source column)
    topics = np.array(synthetic_corpus["source"])
    rows, cols = s.types_.nonzero()
    purity = [
        np.unique(topics[rows[cols == c]], return_counts=True)[1].max() / (cols == c).sum()
        for c in range(info["n_clusters"])
    ]
    assert np.mean(purity) > 0.8


def test_static_embeddings_are_centered_before_clustering(synthetic_corpus, monkeypatch):
    """Averaged token vectors share one strong direction; the static path removes it, MiniLM's is left alone."""
    from macro2micro.dataset_builder.options import EmbedderOptions
    from macro2micro.dataset_builder.types.macro import center

    rng = np.random.default_rng(0)
    n = len(synthetic_corpus)
    topics = rng.integers(0, 3, n)
    emb = np.zeros((n, 8), dtype=np.float32)
    emb[:, 0] = 5.0  # the common direction
    emb[np.arange(n), 1 + topics] = 1.0
    emb += rng.normal(scale=0.05, size=emb.shape)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    out = center(emb)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    same, other = topics == topics[0], topics != topics[0]
    assert (out[other] @ out[0]).max() < 0.2 < 0.8 < (out[same][1:] @ out[0]).min()  # before: all above 0.9
    assert (emb[other] @ emb[0]).min() > 0.9

    recorded = {}
    for name in ("static:minilm", "sentence-transformers/all-MiniLM-L6-v2"):
        s = MacroStrategy("instruction", MacroOptions(reducer="none", min_cluster_size=5), EmbedderOptions())
        monkeypatch.setattr(s, "embed", lambda corpus, name=name: (emb, {"name": name}))
        s.fit(synthetic_corpus)
        recorded[name] = s.type_info_.get("centered")
    assert recorded == {"static:minilm": True, "sentence-transformers/all-MiniLM-L6-v2": None}
