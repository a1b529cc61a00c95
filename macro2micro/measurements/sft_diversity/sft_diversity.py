"""SFT diversity: the seven diversity metrics of "From Macro to Micro" (arXiv 2505.24768), as an evaluate
measurement. It runs the code macro2micro's ``publish`` runs on each config's side, so the numbers match."""

import datasets
import evaluate

from macro2micro.dataset_builder.defaults import DEFAULT_MODEL
from macro2micro.dataset_builder.metrics.measure import measure_texts

_DESCRIPTION = """The seven diversity metrics of one side of an SFT subset (e.g. its responses): distinct-1 and
distinct-2 (unique word n-grams over all, nltk Treebank words, lower-cased), embedding distance (exact mean
pairwise cosine distance of normalized sentence embeddings), mean length (model tokens), compression ratio
(UTF-8 bytes over gzip bytes; higher is more redundant), Self-BLEU (smoothed BLEU-4 of a seeded sample against
the rest; higher is less diverse) and token entropy (bits, model tokens)."""

_KWARGS_DESCRIPTION = """
Args:
    data (list of str): the texts, in the subset's row order.
    tokenizer (str): model (path or Hub id) whose tokenizer counts lengths and entropy, or "word";
        macro2micro's default model unless given.
    embedder (str or None): sentence-embedding model, "static", or None (no embedding distance).
    self_bleu_sample (int): texts sampled for Self-BLEU (default 200).
    seed (int): seeds the Self-BLEU sample (default 0).
    max_seq_length (int): embedding truncation in word pieces (default 128).
Returns:
    distinct_1, distinct_2, embedding_distance (None without an embedder), mean_length, compression_ratio,
    self_bleu, token_entropy.
Examples:
    >>> diversity = evaluate.load(macro2micro.measurements.path(), module_type="measurement")
    >>> diversity.compute(data=["a cat sat", "a dog ran"], tokenizer="word")["distinct_1"]
    0.8333333333333334
"""

_CITATION = """@inproceedings{li2026macro2micro,
  title = {From Macro to Micro: Probing Dataset Diversity in Language Model Fine-Tuning},
  author = {Li and Li and Dong and Liu},
  booktitle = {AAAI},
  year = {2026},
  note = {arXiv:2505.24768}
}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SFTDiversity(evaluate.Measurement):
    """The seven diversity metrics of a list of texts."""

    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"data": datasets.Value("string")}),
            reference_urls=["https://arxiv.org/abs/2505.24768"],
        )

    def _compute(self, data, tokenizer=DEFAULT_MODEL, embedder=None, self_bleu_sample=200, seed=0, max_seq_length=128):
        return measure_texts(data, tokenizer, embedder, self_bleu_sample, seed, max_seq_length)
