"""Test environment: offline, single-threaded, temporary caches, no progress bars.

Environment variables are set before any Hugging Face library is imported.
"""

import atexit
import os
import shutil
import tempfile

_TMP = tempfile.mkdtemp(prefix="m2m-tests-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)  # ~0.7 GB of caches and repos per run
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MACRO2MICRO_TORCH_THREADS", "1")  # tests share 2 cores with the test runner
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = os.path.join(_TMP, "hf_home")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_TMP, "hf_datasets")
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# The embedded assets are converted once per machine; tests share the user's cache when present
# so that a second run is fast, and fall back to a temporary one.
os.environ.setdefault("MACRO2MICRO_CACHE", os.path.join(_TMP, "m2m_cache"))

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# The property tests draw the same examples on every run (a red CI means a change broke something, not that
# a new draw found an old corner); HYPOTHESIS_PROFILE=explore draws new ones, to look for corners on purpose.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture
def write_jsonl(tmp_path):
    """Write records (dicts or raw strings) as a JSONL file and return its path."""
    import json

    def _write(records, name="data.jsonl"):
        path = tmp_path / name
        with open(path, "w", encoding="utf-8") as f:
            for rec in records:
                f.write((rec if isinstance(rec, str) else json.dumps(rec)) + "\n")
        return path

    return _write


TOPICS = {
    "cooking": "bake bread oven flour recipe dough yeast butter sugar knead".split(),
    "code": "python function loop variable compile debug class module import error".split(),
    "space": "planet orbit telescope galaxy star comet rocket moon gravity nebula".split(),
    "sport": "football match goal referee league coach player stadium score team".split(),
}


def make_synthetic_corpus(n: int = 240, seed: int = 0, max_turns: int = 1, system: str = ""):
    """A corpus Dataset with four topics plus Zipf-distributed filler pseudo-words, so frequency
    bands, semantic clusters and tags are all populated.

    Args:
        max_turns: rows of 1..max_turns exchanges (user, assistant), their sides joined as ingest joins them.
        system: the system prompt of every row ("" for none).
    """
    import datasets
    import numpy as np

    from macro2micro.dataset_builder.corpus.ingest import TURN_SEPARATOR, corpus_features

    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(400)]
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    topics = list(TOPICS)

    def text(length, topic):
        words = [str(w) for w in rng.choice(vocab, size=length, p=weights)]
        for i in range(0, length, 2):
            words[i] = str(rng.choice(TOPICS[topic]))
        return " ".join(words)

    rows = {"id": [], "source": [], "system": [], "instruction": [], "response": [], "messages": []}
    for i in range(n):
        topic = topics[i % len(topics)]
        turns = 1 if max_turns == 1 else int(rng.integers(1, max_turns + 1))
        pairs = [(text(int(rng.integers(4, 12)), topic), text(int(rng.integers(10, 40)), topic)) for _ in range(turns)]
        rows["id"].append(f"s{i:04d}")
        rows["source"].append(topic)
        rows["system"].append(system)
        rows["instruction"].append(TURN_SEPARATOR.join(q for q, _ in pairs))
        rows["response"].append(TURN_SEPARATOR.join(a for _, a in pairs))
        messages = [{"role": "system", "content": system}] if system else []
        for q, a in pairs:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        rows["messages"].append(messages)
    return datasets.Dataset.from_dict(rows, features=corpus_features())


@pytest.fixture(scope="session")
def synthetic_corpus():
    return make_synthetic_corpus()


BOW_EMBEDDER = "test-bow"


class BowEmbedder:
    """A hashed bag of words (64 dimensions, unit norm): a deterministic, instant stand-in for a sentence embedder.

    :func:`bow_knobs` registers it with the embedding loader under the spec ``test-bow``.
    """

    max_seq_length = 128

    def identity(self) -> dict:
        return {"name": BOW_EMBEDDER, "dimension": 64}

    def encode(self, texts, **kwargs):
        import zlib

        import numpy as np

        out = np.zeros((len(texts), 64), dtype=np.float32)
        out[:, 0] = 1e-3  # an empty text is not the zero vector
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.encode()) % 64] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def bow_knobs():
    """:func:`word_knobs` with the bag-of-words embedder (kcenter and deita without a real model)."""
    from macro2micro.dataset_builder.models import embeddings
    from macro2micro.dataset_builder.options import EmbedderOptions

    knobs = word_knobs()
    knobs.embedder = EmbedderOptions(embedder=BOW_EMBEDDER)
    embeddings._MODELS[(BOW_EMBEDDER, None, knobs.embedder.max_seq_length, "float32")] = BowEmbedder()
    return knobs


def word_knobs():
    """Strategy knobs for the synthetic corpus: whitespace words with bands sized for ~6K tokens; PCA before
    HDBSCAN (UMAP's numba compilation costs ~20 s); no embedding merge of tags."""
    from macro2micro.dataset_builder.ladders.registry import StrategyKnobs
    from macro2micro.dataset_builder.options import MacroOptions, MesoOptions, MicroOptions, TokenizerOptions

    return StrategyKnobs(
        tokenizer=TokenizerOptions("word"),
        micro=MicroOptions(low=3, high=200),
        macro=MacroOptions(reducer="pca", min_cluster_size=5, cluster_selection="leaf"),
        meso=MesoOptions(merge_threshold=None),
    )
