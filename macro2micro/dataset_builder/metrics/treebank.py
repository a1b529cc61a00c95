"""Word tokens for distinct-n and Self-BLEU: nltk's ``NLTKWordTokenizer`` on lower-cased text, token for
token, about ten times faster, and as integer ids.

nltk runs some 25 regular-expression rewrites over every text. Almost all of them see only a run of
non-space characters (a *chunk*) and at most the one whitespace character on each side, and they only
ever insert spaces, so a text's tokens are its chunks' tokens one after the other, and a chunk needs
tokenizing once per corpus, not once per occurrence. ``WordTokenizer`` keeps a memo of chunks and:

* cuts a block of texts into chunks and numbers the distinct ones with arrow (C++), then looks them up;
* fills the memo for new chunks in bulk: a chunk with nothing any rule reacts to is one word, itself;
  the others are cut at *isolators* (characters that one rule always pads, whatever their neighbours:
  ``( ) ; ? !`` ...); pieces of a few plain shapes (``"word",``) are read off; the rest (apostrophes,
  inner commas ...) go through nltk's own compiled patterns, thousands in one string, each between its
  real context and a ``\\x00`` sentinel;
* handles the exceptions: nltk's ``^"`` rule (a leading ``"`` is ``````), the final-period, -comma and
  -colon rules (anchored at the text's end, they reach back over closing brackets and quotes), and
  the two cases where a chunk depends on the whitespace next to it (a leading ``"`` or ``''`` after a
  space opens a quote; a trailing ``'`` before a space is cut off earlier), written into the memo key
  as ``\\x01`` / ``\\x02`` marks.

Texts holding the sentinel, the marks or the separators ``\\x1c``-``\\x1f`` (whitespace to ``str.split``
but not to nltk's regex engine) go to nltk whole. Equality with nltk, token for token, is checked by
the tests (hand-made and random texts) and by ``bench/words.py`` on the embedded corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain, compress, islice, repeat

import numpy as np

from macro2micro.dataset_builder.metrics import treebank_rules as R
from macro2micro.dataset_builder.utils import no_gc


class WordTokenizer:
    """``NLTKWordTokenizer().tokenize(text.lower())``, token for token, with a memo of chunks.

    The memo maps a chunk (with its context marks) to where its words' ids (in ``vocab_``) lie in an
    id store. It costs some 170 bytes a chunk (the embedded corpus, both sides: 211K chunks, 35 MB);
    memo, store and vocabulary are emptied at the start of a call once the memo holds ``max_memo``
    chunks (within a call they grow with the texts' distinct chunks).

    Args:
        max_memo: memo size past which it is emptied.
    """

    def __init__(self, max_memo: int = 1_000_000) -> None:
        from nltk.tokenize import NLTKWordTokenizer

        self.nltk_ = NLTKWordTokenizer()
        self.max_memo = max_memo
        self.vocab_: dict[str, int] = {}
        self.words_: list[str] = []  # id -> word
        self.memo_: dict[str, int] = {"": 0}
        self._store = np.zeros(1 << 16, dtype=np.int64)
        self._size = 0
        nltk = self.nltk_
        # nltk's own compiled patterns, without its ReDoS time-limit wrapper: the patterns are nltk's
        # fixed ones, and the wrapper costs ~100 us a call, most of the cost of a short text.
        raw = lambda rules: [(R.faster(getattr(p, "_rx", p)), r) for p, r in rules]  # noqa: E731
        self._early = raw(nltk.STARTING_QUOTES) + raw(nltk.PUNCTUATION) + raw([nltk.PARENS_BRACKETS])
        self._early += raw([nltk.DOUBLE_DASHES])
        self._ending = raw(nltk.ENDING_QUOTES)
        self._early_pieces = [(p, r) for p, r in self._early if p.pattern not in R.NOT_IN_PIECES]
        self._ending_pieces = [(p, r) for p, r in self._ending if p.pattern not in R.NOT_IN_PIECES]
        self._contractions = [getattr(p, "_rx", p) for p in nltk.CONTRACTIONS2 + nltk.CONTRACTIONS3]
        if all(isinstance(p, re.Pattern) for p in self._contractions):
            # a match of nltk's (?i)\b(gon)(?#X)(na)\b is a match of (?i:gonna): same engine, same flags;
            # and, in lower-cased text, it holds one of these (re folds only i, as ı, onto these letters)
            self._contraction = re.compile(f"(?i:{R.CONTRACTIONS})")
            self._hint = re.compile("nno|mme|nna|tta|d'y|e'n|'t[iı]|'tw")
        else:  # another engine: no shortcut
            self._contraction = self._hint = re.compile("")
        self._active = re.compile(R.ACTIVE).search

    def nltk_tokenize(self, text: str) -> list[str]:
        """The reference: nltk on the lower-cased text."""
        return self.nltk_.tokenize(text.lower())

    def treebank(self, text: str, contractions: bool = True, pieces: bool = False) -> list[str]:
        """``NLTKWordTokenizer.tokenize`` step for step, skipping the contraction passes when none can
        match (``contractions=False``: the caller knows there are none), and with ``pieces=True`` the
        passes that cannot match in a batch of pieces."""
        for regexp, substitution in self._early_pieces if pieces else self._early:
            text = regexp.sub(substitution, text)
        text = " " + text + " "
        for regexp, substitution in self._ending_pieces if pieces else self._ending:
            text = regexp.sub(substitution, text)
        if contractions and self._contraction.search(text):
            for regexp in self._contractions:
                text = regexp.sub(r" \1 \2 ", text)
        return text.split()

    def tokenize(self, text: str) -> list[str]:
        """The tokens of one text (for many, ``tokenize_many`` is faster)."""
        self._check_memo()
        ids, _, _ = self._lookup([self._prepare(text)], self._fill)
        return list(map(self.words_.__getitem__, ids.tolist()))

    def tokenize_many(self, texts: Iterable[str], block: int = 4096) -> list[list[str]]:
        """``[tokenize(t) for t in texts]``, with the memo filled once per block of texts."""
        ids, offsets, _ = self._ids(texts, block, firsts=False)
        flat = iter(np.array(self.words_, dtype=object)[ids].tolist())
        with no_gc():
            return [list(islice(flat, n)) for n in np.diff(offsets).tolist()]

    def word_ids(self, texts: Iterable[str], block: int = 4096):
        """A :class:`~macro2micro.dataset_builder.metrics.words.WordIds` of ``texts`` (ids in order
        of first appearance)."""
        from macro2micro.dataset_builder.metrics.words import WordIds

        blocks, offsets, firsts = self._ids(texts, block, joined=False)
        # words in order of first appearance: ``firsts`` has them in that order, and is short
        uniq, first = np.unique(firsts, return_index=True)
        order = uniq[np.argsort(first)]
        rank = np.zeros(len(self.vocab_), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        words = self.words_
        ids = np.empty(int(offsets[-1]), dtype=np.int32)  # 4 bytes per word, filled block by block
        start = 0
        while blocks:
            part = blocks.pop(0)
            np.take(rank, part, out=ids[start : start + len(part)])
            start += len(part)
        return WordIds(ids=ids, offsets=offsets, vocab=[words[i] for i in order.tolist()])

    # -- internals -------------------------------------------------------------------------------

    def _check_memo(self) -> None:
        """Empty memo, store and vocabulary once the memo is full (only between calls: ids in flight
        point into them)."""
        if len(self.memo_) > self.max_memo:
            self.vocab_, self.words_, self.memo_, self._size = {}, [], {"": 0}, 0

    def _ids(self, texts: Iterable[str], block: int, firsts: bool = True, joined: bool = True):
        """Ids in ``vocab_`` of all texts' words (``joined=False``: a list of 4-byte arrays, one per block), the
        offsets of each text's, and the ids of the distinct chunks of each block in order of first appearance."""
        import pyarrow as pa

        self._check_memo()
        arrays: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        seen: list[np.ndarray] = []
        texts = iter(texts)
        with no_gc():
            while batch := list(islice(texts, block)):
                prepared = pa.array(list(map(self._prepare, batch)), type=pa.string())
                ids, per_text, distinct_ids = self._lookup(prepared, self._fill, firsts)
                arrays.append(ids if joined else ids.astype(np.int32))
                counts.append(per_text)
                seen.append(distinct_ids if firsts and distinct_ids is not None else ids[:0])
        offsets = np.zeros(sum(map(len, counts)) + 1, dtype=np.int64)
        if counts:
            np.cumsum(np.concatenate(counts), out=offsets[1:])
        empty = np.zeros(0, dtype=np.int64)
        if not joined:
            return arrays, offsets, (np.concatenate(seen) if seen else empty)
        return (np.concatenate(arrays) if arrays else empty), offsets, (np.concatenate(seen) if seen else empty)

    def _lookup(self, strings, fill, firsts: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Cut ``strings`` (an arrow array, or a short list) at (ASCII) whitespace and look the pieces
        up, ``fill``-ing the memo with the missing ones first. Returns the pieces' ids one after the
        other, how many ids each string has, and (``firsts``) the ids of the distinct pieces in order
        of first appearance."""
        import pyarrow.compute as pc

        if isinstance(strings, list):
            lists = [s.split() for s in strings]
            bounds = np.zeros(len(lists) + 1, dtype=np.int64)
            np.cumsum([len(x) for x in lists], out=bounds[1:])
            index: dict[str, int] = {}
            which = np.array([index.setdefault(c, len(index)) for c in chain.from_iterable(lists)], dtype=np.int64)
            distinct = list(index)
        else:
            lists = pc.ascii_split_whitespace(strings)  # leading or trailing whitespace gives "": no words
            bounds = lists.offsets.to_numpy()
            encoded = pc.dictionary_encode(lists.values)
            distinct = encoded.dictionary.to_pylist()
            which = encoded.indices.to_numpy()
        packed = np.array(list(map(self.memo_.get, distinct, repeat(-1, len(distinct)))), dtype=np.int64)
        missing = np.flatnonzero(packed < 0)
        if len(missing):
            keys = list(map(distinct.__getitem__, missing.tolist()))
            fill(keys)
            packed[missing] = list(map(self.memo_.__getitem__, keys))
        ids, n = self._gather(packed, which)
        ends = np.concatenate(([0], np.cumsum(n)))[bounds]
        return ids, np.diff(ends), self._gather(packed, np.arange(len(packed)))[0] if firsts else None

    def _gather(self, packed: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored ids of memo values ``packed[which]``, one after the other, and how many each has."""
        n = (packed & R.MASK)[which]
        first = np.cumsum(n) - n
        ids = self._store[np.repeat((packed >> R.SHIFT)[which] - first, n) + np.arange(int(n.sum()))]
        return ids, n

    def _prepare(self, text: str) -> str:
        """The text lower-cased, as whitespace-separated memo keys: a leading `` for a leading ",
        the chunks with their context marks, and the final punctuation and what follows it (as
        chunks that are themselves, or literals)."""
        t = text.lower()
        if any(map(t.__contains__, R.ODD)):
            return self._literals(self.nltk_.tokenize(t))
        head = ""
        if t.startswith('"'):  # nltk's ^" rule: `` then the rest as if after a space
            head, t = "``", " " + t[1:]
        tail = ""
        end = last = t.rstrip()
        while last and last[-1] in R.CLOSERS:  # strip trailing closers and whitespace, alternately
            last = last.rstrip(R.CLOSERS).rstrip()
        if last and (last[-1] == "." or end[-1] in ",:"):
            # The final-punctuation rules reach back to the chunk that holds the last non-closer: they
            # cut its final . , or : off (and the closers after a . apart), so what comes before it is
            # a chunk followed by a space. nltk itself does the cases where the rules hold back.
            after = end[len(last) :]
            if last[-2:-1] != "." and (
                not after or (not after.strip(R.CLOSERS + " ") and "''" not in after and ' "' not in after)
            ):
                # a lone . , or : chunk is itself; the closers are literals (a " there is '')
                tail = last[-1] + " " + self._literals([("''" if c == '"' else c) for c in after if c != " "])
                t = t[: len(last) - 1]
            else:
                start = len(last) - len(last.rsplit(None, 1)[-1])
                tail = self._literals(self.treebank(t[start - 1 :] if start else t))  # from the space before
                t = t[:start]
        if '"' in t:
            t = t.replace(' "', ' \x01"')
        if "'" in t:
            t = t.replace(" ''", " \x01''").replace("' ", "'\x02 ")
        if not t.isascii():  # other whitespace acts as a newline, and arrow cuts faster at ASCII's
            t = R.UNICODE_SPACE.sub("\n", t)
        return f"{head} {t} {tail}"

    def _literals(self, words: list[str]) -> str:
        """Memo keys that stand for the finished ``words``."""
        if not words:
            return ""
        keys = [R.LITERAL + w for w in words]
        new = [k for k in dict.fromkeys(keys) if k not in self.memo_]
        if new:
            self._store_ids(new, [k[1:] for k in new])
        return " ".join(keys)

    def _plain(self, key: str) -> bool:
        """Whether no rule reacts to ``key``: it is one word, itself."""
        return self._active(key) is None and not (self._hint.search(key) and self._contraction.search(key))

    def _plain_mask(self, keys) -> np.ndarray:
        """``[self._plain(k) for k in keys]`` (a list or an arrow array), the scans done by arrow (RE2,
        with the same character classes)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(keys, list) and len(keys) < R.SMALL:
            return np.array([self._plain(k) for k in keys], dtype=bool)
        arr = keys if isinstance(keys, pa.Array) else pa.array(keys, type=pa.string())
        plain = np.logical_not(pc.match_substring_regex(arr, R.ACTIVE).to_numpy(zero_copy_only=False))
        hinted = pc.match_substring_regex(arr, self._hint.pattern).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(plain & hinted).tolist():
            plain[i] = self._contraction.search(arr[i].as_py()) is None
        return plain

    def _store_ids(self, keys: list[str], words: Iterable[str], counts: np.ndarray | int = 1) -> None:
        """Memo entries for ``keys``: key i's words are the next ``counts[i]`` of ``words``."""
        vocab = self.vocab_
        words = words if isinstance(words, list) else list(words)
        new = [w for w in dict.fromkeys(words) if w not in vocab]  # first-seen order: ids never follow the hash seed
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        self.words_.extend(new)
        self._remember(keys, np.array(list(map(vocab.__getitem__, words)), dtype=np.int64), counts)

    def _remember(self, keys: list[str], ids: np.ndarray, counts: np.ndarray | int) -> None:
        """Append ``ids`` to the store; key i's are the next ``counts[i]`` of them."""
        counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (len(keys),))
        if len(counts) and counts.max() > R.MASK:
            raise ValueError(f"word tokenizer: a chunk of {counts.max()} words; at most {R.MASK} fit a memo entry")
        start = self._size
        if start + len(ids) > len(self._store):
            self._store = np.resize(self._store, max(2 * len(self._store), start + len(ids)))
        self._store[start : start + len(ids)] = ids
        self._size += len(ids)
        starts = start + np.cumsum(counts) - counts
        self.memo_.update(zip(keys, ((starts << R.SHIFT) | counts).tolist(), strict=True))

    def _fill(self, missing: list[str]) -> None:
        """Put every key of ``missing`` into the memo."""
        plain = self._plain_mask(missing)
        trivial = list(compress(missing, plain.tolist()))
        self._store_ids(trivial, trivial)
        busy = list(compress(missing, np.logical_not(plain).tolist()))
        if busy:
            self._fill_busy(busy)

    def _fill_busy(self, keys: list[str]) -> None:
        """Memo entries of chunks that hold something a rule reacts to: cut at the isolators, with the
        context marks the cut pieces need, and assembled from the pieces' entries."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if len(keys) < R.SMALL:
            marked = (R.CLOSE_RE.sub("'" + R.CLOSE + r"\1", R.OPEN_RE.sub(r"\1" + R.OPEN + r"\2", k)) for k in keys)
            cut = [R.ISOLATOR_RE.sub(r" \1 ", k) for k in marked]
        else:
            cut = pc.replace_substring_regex(pa.array(keys, type=pa.string()), R.OPEN_AFTER, "\\1" + R.OPEN + "\\2")
            cut = pc.replace_substring_regex(cut, R.CLOSE_BEFORE, "'" + R.CLOSE + "\\1")
            cut = pc.replace_substring_regex(cut, R.ISOLATOR, " \\1 ")
        ids, per_key, _ = self._lookup(cut, self._fill_pieces)
        self._remember(keys, ids, per_key)

    def _fill_pieces(self, keys: list[str]) -> None:
        """Memo entries of pieces between isolators (and of the isolators). Shapes whose words are plain
        to see are done here: an isolator, a run of backticks (`` pairs, then a lone `), and a plain word
        in double quotes or before a final comma or colon. The rest goes to nltk."""
        if len(keys) < R.SMALL:
            rest = []
            for key in keys:
                if self._plain(key) or key in R.ISOLATOR_CHARS:
                    self._store_ids([key], [key])
                elif not key.strip("`"):
                    self._store_ids([key], R.backticks(key), len(R.backticks(key)))
                elif (m := R.QUOTED_RE.fullmatch(key)) and self._plain(m[2]):
                    words = [w for w in (R.OPENING.get(m[1], ""), m[2], "''" if m[3] else "", m[4] or "") if w]
                    self._store_ids([key], words, len(words))
                else:
                    rest.append(key)
            self._fill_rest(rest)
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(keys, type=pa.string())
        plain = self._plain_mask(arr)
        self._store_ids(list(compress(keys, plain.tolist())), compress(keys, plain.tolist()))
        others = np.flatnonzero(~plain)
        arr = arr.take(others)
        isolator = pc.is_in(arr, value_set=pa.array(sorted(R.ISOLATOR_CHARS))).to_numpy(zero_copy_only=False)
        ticks = pc.match_substring_regex(arr, "^`+$").to_numpy(zero_copy_only=False)
        parts = pc.extract_regex(arr, R.QUOTED)
        quoted = parts.is_valid().to_numpy(zero_copy_only=False) & ~isolator & ~ticks
        quoted[quoted] = self._plain_mask(pc.struct_field(parts, "core").filter(quoted))
        shaped = [keys[i] for i in others[quoted].tolist()]
        fields = [
            pc.struct_field(parts, f).filter(quoted).to_numpy(zero_copy_only=False)
            for f in ("open", "core", "close", "punct")
        ]
        fields[0] = np.where(fields[0] == "", "", np.where(fields[0] == '"', "''", "``"))
        fields[2] = np.where(fields[2] == "", "", "''")
        table = np.stack(fields, axis=1)
        present = table != ""
        self._store_ids(shaped, table[present].tolist(), present.sum(axis=1))
        simple = [keys[i] for i in others[isolator].tolist()]
        self._store_ids(simple, simple)
        runs = [keys[i] for i in others[ticks].tolist()]
        self._store_ids(
            runs,
            chain.from_iterable(map(R.backticks, runs)),
            np.array([len(R.backticks(k)) for k in runs], dtype=np.int64),
        )
        self._fill_rest([keys[i] for i in others[~(isolator | ticks | quoted)].tolist()])

    def _fill_rest(self, keys: list[str]) -> None:
        """Memo entries by nltk, in batches; those that may hold a contraction apart."""
        hint, contraction = self._hint.search, self._contraction.search
        hard = {k: None for k in keys if hint(k) and contraction(k)}
        for group, contractions in ((list(hard), True), ([k for k in keys if k not in hard], False)):
            begin, chars = 0, 0
            for j, key in enumerate(group):
                chars += len(key) + 3
                if chars >= R.BATCH_CHARS or j == len(group) - 1:
                    self._fill_batch(group[begin : j + 1], contractions)
                    begin, chars = j + 1, 0

    def _fill_batch(self, keys: list[str], contractions: bool) -> None:
        """nltk on many chunks at once, each between its context whitespace and a sentinel."""
        parts = []
        for key in keys:
            before = " " if key[0] == R.OPEN else "\n"
            after = " " if key[-1] == R.CLOSE else "\n"
            parts.append(before + key.strip(R.OPEN + R.CLOSE) + after)
        tokens = self.treebank(R.SENTINEL + R.SENTINEL.join(parts) + R.SENTINEL, contractions, pieces=True)
        pieces = [p.split() for p in " ".join(tokens).split(R.SENTINEL)[1:-1]]
        if len(pieces) != len(keys):  # cannot happen: nltk only adds spaces around a lone \x00
            raise RuntimeError(f"word tokenizer: {len(keys)} chunks came back as {len(pieces)}")
        self._store_ids(keys, chain.from_iterable(pieces), np.fromiter(map(len, pieces), dtype=np.int64))
