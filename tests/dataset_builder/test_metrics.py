import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.metrics import diversity as M
from macro2micro.dataset_builder.metrics.rows import RowView
from macro2micro.dataset_builder.metrics.words import WordIds, words


def test_distinct_n_closed_form():
    toks = [["a", "b", "a"], ["a", "b"]]
    assert M.distinct_n(toks, 1) == pytest.approx(2 / 5)
    assert M.distinct_n(toks, 2) == pytest.approx(2 / 3)  # (a,b) (b,a) (a,b)
    assert M.distinct_n([[]], 2) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(2, 16), st.integers(0, 10_000))
def test_embedding_distance_equals_brute_force(n, d, seed):
    e = np.random.default_rng(seed).normal(size=(n, d))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    cos = e @ e.T
    brute = 1 - (cos.sum() - n) / (n * (n - 1))
    assert M.embedding_distance(e) == pytest.approx(brute, abs=1e-9)
    # a zero vector (a text the embedder has no token for) is left out, not a NaN
    assert M.embedding_distance(np.vstack([e, np.zeros((1, d))])) == pytest.approx(brute, abs=1e-9)


def test_identical_texts_and_single_token():
    texts = ["the same answer every time"] * 20
    toks = [words(t) for t in texts]
    assert M.self_bleu(toks) == pytest.approx(1.0)
    e = np.tile(np.array([[0.6, 0.8]]), (20, 1))
    assert M.embedding_distance(e) == pytest.approx(0.0, abs=1e-12)
    assert M.token_entropy(np.full(100, 7)) == 0.0
    assert M.token_entropy(np.array([1, 2, 3, 4])) == pytest.approx(2.0)
    assert M.distinct_n(toks, 1) == pytest.approx(5 / 100)
    assert M.compression_ratio(texts) > 10 * M.compression_ratio(["x"])


def test_self_bleu_equals_nltk():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(30)]
    toks = [list(rng.choice(vocab, size=int(rng.integers(1, 25)))) for _ in range(25)]
    expected = np.mean(
        [
            sentence_bleu(toks[:i] + toks[i + 1 :], h, smoothing_function=SmoothingFunction().method1)
            for i, h in enumerate(toks)
        ]
    )
    assert M.self_bleu(toks, sample_size=100) == pytest.approx(expected, abs=1e-12)


def test_side_metrics_permutation_invariant_and_complete():
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(["a", "b", "c", "d", "e"], size=8)) for _ in range(30)]
    ids = [np.array([ord(c) for c in t.replace(" ", "")]) for t in texts]
    emb = rng.normal(size=(30, 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    base = M.side_metrics(texts, ids, emb)
    assert set(base) == set(M.METRICS)
    perm = rng.permutation(30)
    shuffled = M.side_metrics([texts[i] for i in perm], [ids[i] for i in perm], emb[perm])
    for key in M.METRICS:
        if key == "compression_ratio":  # gzip sees the order; it should barely move
            assert shuffled[key] == pytest.approx(base[key], rel=0.05)
        else:
            assert shuffled[key] == pytest.approx(base[key], abs=1e-9), key


def test_bootstrap_intervals_bracket_the_estimate():
    rng = np.random.default_rng(2)
    texts = [" ".join(rng.choice(list("abcdefgh"), size=int(rng.integers(3, 12)))) for _ in range(60)]
    ids = [np.array([ord(c) for c in t.split()]) for t in texts]
    point = M.side_metrics(texts, ids, None)
    ci = M.bootstrap_ci(texts, ids, None, resamples=100)
    assert "self_bleu" not in ci and "embedding_distance" not in ci
    lo, hi = ci["mean_length"]
    assert lo <= point["mean_length"] <= hi


# -- words: the tokenizer and the id-based metrics -------------------------------------------------

# Real-looking texts that reach every rule of nltk's tokenizer: opening and closing quotes after a space,
# a bracket or nothing, clitics and contractions, final punctuation behind closers, code, odd spaces.
TRICKY = [
    '"Hello," she said. "It\'s 3.88 (roughly 3,36 euros)... isn\'t it?"',
    "I can't believe you're here; we'd better go -- now!",
    "Use `print()` like this:\n```python\nprint('hi')\n```\nThat's it.",
    "'Tis the season, wanna come? I cannot, I'm gonna stay (sorry). 'T\u0131s so, ca\u0130not.",
    "She said ''no'' and left.\n\n\"Fine\" he replied: 'fine'.",
    'The list: [1, 2, 3]. Also {"key": "value", "n": 1,000}.',
    "Prices went up 15%. Email me@example.com #tag & more... ok?!",
    "«Bonjour» — dit-il — “quoted” ‘single’ „low“ end.”",
    'He wrote "the end." ) ]',
    "Trailing closers: done.\"')",
    "ends with a colon:",
    "ends with a comma,\n",
    "a\u00a0non-breaking\u2003space and a\u2028line separator. Ol\u00e1!",
    "\"Quoted start\" and 'single start'",
    "''Double single at start'' then text.",
    "Gimme a break, lemme see, gotta go, gonna win. D'ye know? More'n enough. G\u0131mme, \u0130stanbul.",
    "rock 'n' roll, the '90s, o'clock, y'all, ma'am.",
    "x = f(a, b); y = g[c]{d} <e> *f* @g #h $i %j &k",
    "Mixed CASE Text With Capitals. ANOTHER ONE!",
    "Odd control\x1cchars\x1fand\x00nulls.",
    "...",
    "",
    "   ",
    '"',
    "end with quote'",
    "a 'quoted' word and a dangling' quote and ' lone",
]


def _nltk(texts):
    from nltk.tokenize import NLTKWordTokenizer

    tok = NLTKWordTokenizer()
    return [tok.tokenize(t.lower()) for t in texts]


def test_word_tokenizer_equals_nltk_on_tricky_texts():
    from macro2micro.dataset_builder.metrics.words import WordTokenizer

    expected = _nltk(TRICKY)
    assert WordTokenizer().tokenize_many(TRICKY) == expected
    one = WordTokenizer()
    assert [one.tokenize(t) for t in TRICKY] == expected  # the single-text path
    wids = WordTokenizer().word_ids(TRICKY)
    assert [wids.words(i) for i in range(len(TRICKY))] == expected
    # ids in order of first appearance
    first = list(dict.fromkeys(w for ws in expected for w in ws))
    assert wids.vocab == first and wids.ids.tolist() == [first.index(w) for ws in expected for w in ws]


_FRAGMENTS = [
    "the",
    "cat",
    "Dog",
    "3.88",
    "1,000",
    "e.g.",
    " ",
    " ",
    "\n",
    "\t",
    "\u00a0",
    ".",
    ",",
    ":",
    ";",
    "!",
    "?",
    "'",
    '"',
    "''",
    "`",
    "```",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    "--",
    "...",
    "-",
    "\u2014",
    "«",
    "»",
    "“",
    "”",
    "‘",
    "’",
    "„",
    "*",
    "@",
    "#",
    "$",
    "%",
    "&",
    "n't",
    "'s",
    "'ll",
    "'re",
    "cannot",
    "gonna",
    "wanna ",
    "'tis",
    "d'ye",
    "can",
    "not",
    "İ",
    "ı",
    "\u2028",
]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_FRAGMENTS), max_size=30).map("".join), min_size=1, max_size=400))
def test_word_tokenizer_equals_nltk_on_random_texts(texts):
    from macro2micro.dataset_builder.metrics.words import WordTokenizer

    # hundreds of new chunks take the bulk (arrow) paths, a handful the single-text ones
    assert WordTokenizer().tokenize_many(texts) == _nltk(texts)
    assert [WordTokenizer().tokenize(t) for t in texts[:5]] == _nltk(texts[:5])


def _real_looking_texts(n: int = 300, seed: int = 0) -> list[str]:
    """Sentences with punctuation, quotes, clitics, numbers and code, like chat answers."""
    rng = np.random.default_rng(seed)
    words = (
        "the model data train answer question python code list value first then because "
        "example result error function you it we they"
    ).split()
    glue = [
        " ",
        " ",
        " ",
        ", ",
        ". ",
        "; ",
        ": ",
        " (",
        ") ",
        ' "',
        '" ',
        " '",
        "' ",
        "'s ",
        "n't ",
        " -- ",
        "! ",
        "? ",
        "\n",
        "\n\n",
        " `",
        "` ",
        " 3.5 ",
        " 1,200 ",
    ]
    out = []
    for _ in range(n):
        k = int(rng.integers(5, 60))
        parts = [rng.choice(words) + rng.choice(glue) for _ in range(k)]
        out.append("".join(parts).capitalize() + rng.choice([".", "?", "!", '."', ".)", ""]))
    return out


def test_word_metrics_agree_with_nltk_words_within_one_percent():
    from macro2micro.dataset_builder.metrics.words import word_ids

    texts = _real_looking_texts()
    reference = _nltk(texts)
    wids = word_ids(texts)
    for n in (1, 2):
        expected = M.distinct_n(reference, n)
        assert abs(M.distinct_n(wids, n) - expected) <= 0.01 * expected
        assert M.distinct_n(wids, n) == expected  # in fact the same words, so the same value
    expected = M.self_bleu(reference, sample_size=100)
    assert abs(M.self_bleu(wids, sample_size=100) - expected) <= 0.01 * expected
    assert M.self_bleu(wids, sample_size=100) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), max_size=12), max_size=25),
    st.integers(1, 3),
)
def test_distinct_n_ids_equals_strings(tokenized, n):
    from macro2micro.dataset_builder.metrics.words import WordIds

    wids = WordIds.from_words(tokenized)
    expected = M.distinct_n(tokenized, n)
    assert M.distinct_n_ids(wids.ids, wids.offsets, n) == expected
    assert M.distinct_n(wids, n) == expected
    rows = np.random.default_rng(n).permutation(len(tokenized))[: len(tokenized) // 2]
    assert M.distinct_n(wids.take(rows), n) == M.distinct_n([tokenized[i] for i in rows], n)


def test_distinct_resampler_equals_distinct_n_of_the_resample():
    from macro2micro.dataset_builder.metrics.words import WordIds

    rng = np.random.default_rng(3)
    tokenized = [list(rng.choice(list("abcdefghij"), size=int(rng.integers(0, 15)))) for _ in range(40)]
    wids = WordIds.from_words(tokenized)
    for n in (1, 2):
        resample = M._DistinctResampler(wids, n)
        for _ in range(20):
            idx = rng.integers(0, len(tokenized), size=len(tokenized))
            assert resample(idx) == M.distinct_n([tokenized[i] for i in idx], n)


def test_self_bleu_on_ids_equals_nltk():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from macro2micro.dataset_builder.metrics.words import WordIds

    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(30)]
    toks = [list(rng.choice(vocab, size=int(rng.integers(1, 25)))) for _ in range(25)]
    wids = WordIds.from_words(toks)
    as_ids = [wids[i] for i in range(len(toks))]
    expected = np.mean(
        [
            sentence_bleu(as_ids[:i] + as_ids[i + 1 :], h, smoothing_function=SmoothingFunction().method1)
            for i, h in enumerate(as_ids)
        ]
    )
    assert M.self_bleu(wids, sample_size=100) == pytest.approx(expected, abs=1e-12)
    assert M.self_bleu([np.array(t) for t in as_ids], sample_size=100) == pytest.approx(expected, abs=1e-12)
    assert M.self_bleu(toks, sample_size=100) == pytest.approx(expected, abs=1e-12)


def test_side_metrics_and_bootstrap_same_for_word_lists_and_ids():
    from macro2micro.dataset_builder.metrics.words import word_ids

    texts = _real_looking_texts(80, seed=1)
    rng = np.random.default_rng(4)
    ids = [rng.integers(0, 50, size=len(t) // 5 + 1) for t in texts]
    lists = _nltk(texts)
    wids = word_ids(texts + ["another text, not in the subset."]).take(np.arange(len(texts)))
    base = M.side_metrics(texts, ids, None, tokenized=lists)
    assert M.side_metrics(texts, ids, None, tokenized=wids) == base
    assert M.side_metrics(texts, ids, None) == base
    ci = M.bootstrap_ci(texts, ids, None, resamples=30, tokenized=lists)
    assert M.bootstrap_ci(texts, ids, None, resamples=30, tokenized=wids) == ci
    assert M.bootstrap_ci(texts, ids, None, resamples=30) == ci


def test_word_ids_save_load_and_take(tmp_path):
    from macro2micro.dataset_builder.metrics.words import WordIds, word_ids

    wids = word_ids(TRICKY)
    wids.save(tmp_path / "w.npz")
    back = WordIds.load(tmp_path / "w.npz")
    assert back.vocab == wids.vocab and np.array_equal(back.ids, wids.ids)
    assert np.array_equal(back.offsets, wids.offsets)
    sub = wids.take([3, 0, 3])
    assert [sub.words(i) for i in range(3)] == [wids.words(3), wids.words(0), wids.words(3)]


@pytest.mark.slow
def test_word_tokenizer_equals_nltk_on_the_embedded_corpus():
    from macro2micro.dataset_builder.corpus.ingest import CorpusOptions, load_corpus
    from macro2micro.dataset_builder.metrics.words import WordTokenizer
    from macro2micro.dataset_builder.models.assets import DEFAULT_CORPUS, resolve_corpus

    ds, _ = load_corpus(
        resolve_corpus(DEFAULT_CORPUS), CorpusOptions(max_instruction_chars=4000, max_response_chars=8000)
    )
    texts = list(ds["instruction"]) + list(ds["response"])
    assert WordTokenizer().tokenize_many(texts) == _nltk(texts)


def _reference_self_bleu(tokenized, sample_size=200, seed=0):
    """The dict-per-text Self-BLEU the array version replaced (itself checked against nltk): the same floats."""
    import math

    def grams(toks, n):
        out = {}
        for g in zip(*(toks[i:] for i in range(n)), strict=False):
            out[g] = out.get(g, 0) + 1
        return out

    idx = np.arange(len(tokenized))
    if len(idx) > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=sample_size, replace=False))
    sample = [list(tokenized[int(i)]) for i in idx]
    sample = [t for t in sample if t]
    if len(sample) < 2:
        return 0.0
    lengths = np.array([len(t) for t in sample])
    counts = [[grams(t, n) for t in sample] for n in range(1, 5)]
    scores = []
    for i in range(len(sample)):
        others = np.delete(lengths, i)
        closest = int(others[np.lexsort((others, np.abs(others - lengths[i])))[0]])
        log_p = 0.0
        for n in range(4):
            mine = counts[n][i]
            num = sum(
                min(c, max((counts[n][j].get(g, 0) for j in range(len(sample)) if j != i), default=0))
                for g, c in mine.items()
            )
            den = max(1, sum(mine.values()))
            if n == 0 and num == 0:
                log_p = -math.inf
                break
            log_p += 0.25 * math.log(num / den if num else 0.1 / den)
        bp = 1.0 if lengths[i] > closest else math.exp(1 - closest / lengths[i])
        scores.append(0.0 if log_p == -math.inf else bp * math.exp(log_p))
    return float(np.mean(scores))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 6), max_size=12), min_size=0, max_size=30),
    st.integers(2, 40),
    st.integers(0, 3),
)
def test_self_bleu_in_arrays_is_the_same_float_as_counting_per_text(texts, sample, seed):
    """Ties at the top count, repeated texts, empty and one-word texts, samples smaller than the corpus."""
    expected = _reference_self_bleu(texts, sample, seed)
    assert M.self_bleu(texts, sample, seed) == expected
    assert M.self_bleu([[f"w{w}" for w in t] for t in texts], sample, seed) == expected  # words as strings
    wids = WordIds.from_words(texts)
    assert M.self_bleu(RowView(wids, np.arange(len(texts))), sample, seed) == expected
