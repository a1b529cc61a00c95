import numpy as np
import pytest

from dataset_builder.macro import MacroStrategy, cluster_labels, cluster_names, reduce_embeddings
from dataset_builder.options import MacroOptions


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
