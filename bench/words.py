"""Benchmark of the word tokenizer and the word-based metrics (not a test).

    python bench/words.py [--rows 5000] [--candidates] [--json out.json]

On the first ``--rows`` rows of the embedded ShareGPT corpus, both sides (0: all of it), in one run:

1. nltk's ``NLTKWordTokenizer().tokenize(text.lower())`` against ``dataset_builder.metrics.words`` (an empty
   memo: the cold cost), as word lists and as word ids: times, ratio, and how many texts differ.
2. distinct-1/2 over Python sets of string n-grams against the numpy version over word ids.
3. distinct-1/2 and Self-BLEU per side under both tokenizers, with their relative differences.
4. ``--candidates``: the approximations that were considered instead, HF ``tokenizers``
   pre-tokenizers and one combined regular expression, with their speed and metric differences.

Times are wall-clock and CPU (``process_time``) seconds; on a shared machine the CPU times and their
ratio are the steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, *args):
    """``fn(*args)`` with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3)}


def ratio(slow: dict, fast: dict) -> dict:
    return {k.replace("_s", "_x"): round(slow[k] / max(fast[k], 1e-9), 1) for k in slow}


def metric_values(tokenized, sample: int) -> dict:
    from macro2micro.dataset_builder.metrics import diversity as M

    return {
        "distinct_1": M.distinct_n(tokenized, 1),
        "distinct_2": M.distinct_n(tokenized, 2),
        "self_bleu": M.self_bleu(tokenized, sample_size=sample),
    }


def relative(ref: dict, other: dict) -> dict:
    return {k: round((other[k] - ref[k]) / ref[k], 6) if ref[k] else 0.0 for k in ref}


def candidates(texts: list[str], reference: list[list[str]], nltk_time: dict, sides: dict, sample: int) -> dict:
    """Speed and metric differences of the approximate tokenizers considered."""
    from tokenizers import pre_tokenizers

    treebank_like = re.compile(r"""(?x)
        \w+(?=n't\b) | n't\b | '(?:s|m|d|ll|re|ve)\b   # clitics, split as the Treebank rules do
      | \w+(?:[-.'/]\w+)*(?:,\d+)*                     # words and numbers: e.g, 3.88, 1,000
      | \.{2,} | -- | ``? | '' | [^\w\s]               # other marks, one token each
    """)
    tried = {
        "hf_bert_pre_tokenizer": lambda t: [w for w, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(t)],
        "hf_whitespace_pre_tokenizer": lambda t: [w for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(t)],
        "combined_regex": lambda t: ["''" if w == '"' else w for w in treebank_like.findall(t)],
    }
    out = {}
    for name, tokenize in tried.items():
        words, took = timed(lambda f=tokenize: [f(t.lower()) for t in texts])
        entry = {
            "time": took,
            "speedup_vs_nltk": ratio(nltk_time, took),
            "texts_differing": sum(a != b for a, b in zip(words, reference, strict=True)),
        }
        for side, rows in sides.items():
            ref = metric_values([reference[i] for i in rows], sample)
            entry[side] = relative(ref, metric_values([words[i] for i in rows], sample))
        out[name] = entry
        print(json.dumps({name: entry}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5000, help="corpus rows (both sides are used); 0: all")
    ap.add_argument("--self-bleu-sample", type=int, default=200, help="texts sampled for Self-BLEU")
    ap.add_argument("--candidates", action="store_true", help="also time the approximations considered")
    ap.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = ap.parse_args()

    import numpy as np
    from nltk.tokenize import NLTKWordTokenizer

    from macro2micro.dataset_builder.corpus.ingest import CorpusOptions, load_corpus
    from macro2micro.dataset_builder.metrics import diversity as M
    from macro2micro.dataset_builder.metrics.words import WordTokenizer
    from macro2micro.dataset_builder.models.assets import DEFAULT_CORPUS, resolve_corpus

    ds, _ = load_corpus(
        resolve_corpus(DEFAULT_CORPUS), CorpusOptions(max_instruction_chars=4000, max_response_chars=8000)
    )
    rows = len(ds) if args.rows <= 0 else min(args.rows, len(ds))
    texts = list(ds["instruction"][:rows]) + list(ds["response"][:rows])
    sides = {"instruction": range(rows), "response": range(rows, 2 * rows)}
    results: dict = {
        "rows": rows,
        "texts": len(texts),
        "chars": sum(map(len, texts)),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(results), flush=True)

    # 1. tokenizers
    nltk = NLTKWordTokenizer()
    reference, nltk_time = timed(lambda: [nltk.tokenize(t.lower()) for t in texts])
    ours, words_time = timed(WordTokenizer().tokenize_many, texts)
    wids, ids_time = timed(WordTokenizer().word_ids, texts)
    results["tokenizer"] = {
        "nltk": nltk_time,
        "ours_words": words_time,
        "ours_ids": ids_time,
        "speedup_words": ratio(nltk_time, words_time),
        "speedup_ids": ratio(nltk_time, ids_time),
        "texts_differing": sum(a != b for a, b in zip(ours, reference, strict=True)),
        "ids_equal_words": all(wids.words(i) == reference[i] for i in range(len(texts))),
    }
    print(json.dumps({"tokenizer": results["tokenizer"]}), flush=True)

    # 2. distinct-n, strings against ids, per side
    results["distinct_n"] = {}
    for side, span in sides.items():
        strings = [reference[i] for i in span]
        side_ids = wids.take(np.arange(span.start, span.stop))
        entry = {}
        for n in (1, 2):
            a, ta = timed(M.distinct_n, strings, n)
            b, tb = timed(M.distinct_n_ids, side_ids.ids, side_ids.offsets, n)
            entry[f"distinct_{n}"] = {"strings": ta, "ids": tb, "speedup": ratio(ta, tb), "equal": a == b}
        results["distinct_n"][side] = entry
    print(json.dumps({"distinct_n": results["distinct_n"]}), flush=True)

    # 3. metric values under both tokenizers
    results["metrics"] = {}
    for side, span in sides.items():
        ref = metric_values([reference[i] for i in span], args.self_bleu_sample)
        new = metric_values(wids.take(np.arange(span.start, span.stop)), args.self_bleu_sample)
        results["metrics"][side] = {"nltk": ref, "ours": new, "relative_difference": relative(ref, new)}
    print(json.dumps({"metrics": results["metrics"]}), flush=True)

    if args.candidates:
        results["candidates"] = candidates(texts, reference, nltk_time, sides, args.self_bleu_sample)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
