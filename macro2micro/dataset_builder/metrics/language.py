"""The corpus's languages, from the data: an offline detector over a seeded sample of rows.

The card's ``language`` metadata lists the languages of at least ``threshold`` of the sampled rows
(their shares are in the card body and in ``metrics/diversity.json`` under ``full``), or what the
publisher gave (``--language``); with neither, it is left out, never ``en`` by default.

The detector is py3langid (a maintained fork of langid.py, BSD): its naive Bayes model of 97
languages ships inside the wheel (no download, no network), it needs only numpy, it is
deterministic (langdetect draws at random unless seeded globally), and it classifies a row in
well under a millisecond, so a sample of a thousand rows costs a fraction of a second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from macro2micro.dataset_builder.utils import require

MAX_CHARS = 2000  # of a row's instruction + response: enough to tell its language, bounded cost


def detect_languages(
    instructions: Sequence[str], responses: Sequence[str], sample: int, threshold: float, seed: int = 0
):
    """``{detector, sample, seed, threshold, shares, languages}``: the detected language of each sampled row
    (instruction and response together), the share of each language (largest first, the 12 largest), and
    those at ``threshold`` or more."""
    langid = require("py3langid")
    from importlib import metadata

    n = len(instructions)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))
    found = Counter(langid.classify(f"{instructions[i]}\n{responses[i]}"[:MAX_CHARS])[0] for i in rows)
    shares = {lang: round(count / len(rows), 4) for lang, count in sorted(found.items(), key=lambda x: (-x[1], x[0]))}
    return {
        "detector": f"py3langid {metadata.version('py3langid')}",
        "sample": int(len(rows)),
        "seed": int(seed),
        "threshold": float(threshold),
        "shares": dict(list(shares.items())[:12]),
        "languages": [lang for lang, share in shares.items() if share >= threshold],
    }
