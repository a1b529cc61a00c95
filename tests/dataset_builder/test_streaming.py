"""Memory that follows one config: the chunked paths give exactly what the whole-corpus paths gave.

Each test holds a small, plain reference (the code these paths replaced) and compares values bit for bit.
"""

import gzip
import hashlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.corpus.features import TokenFeatures, word_features
from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint
from macro2micro.dataset_builder.corpus.table import is_single_turn
from macro2micro.dataset_builder.corpus.texts import ArrowTexts, take_rows
from macro2micro.dataset_builder.metrics.diversity import compression_ratio, distinct_n, side_metrics
from macro2micro.dataset_builder.metrics.rows import (
    compression_ratio_stream,
    distinct_n_rows,
    side_metrics_rows,
    token_entropy_rows,
)
from macro2micro.dataset_builder.metrics.words import word_ids
from macro2micro.dataset_builder.types.micro import Bands, mid_band_matrix
from tests.conftest import make_synthetic_corpus

TEXT = st.text(alphabet=st.sampled_from(list("ab c\n.é中😀")), max_size=30)


def _reference_fingerprint(ds) -> str:
    """The fingerprint as first written: every column joined in one bytes object."""

    def joined(values) -> bytes:
        return b"".join(v.encode("utf-8") + b"\x00" for v in values)

    h = hashlib.sha256()
    for name in ("id", "instruction", "response"):
        h.update(joined(column(ds, name)) + b"\x01")
    if not is_single_turn(ds):
        messages = column(ds, "messages")
        turns = [t for m in messages for t in m]
        h.update(joined(column(ds, "system")) + b"\x01")
        h.update(joined(t["role"] for t in turns) + b"\x01")
        h.update(joined(t["content"] for t in turns) + b"\x01")
        h.update(np.array([len(m) for m in messages], dtype="<i4").tobytes())
    return h.hexdigest()[:32]


@pytest.fixture(scope="module")
def corpora():
    return {
        "single": make_synthetic_corpus(300, seed=1),
        "multi": make_synthetic_corpus(200, seed=2, max_turns=3, system="Be brief."),
    }


@pytest.mark.parametrize("name", ["single", "multi"])
def test_fingerprint_equals_the_joined_reference(corpora, name, monkeypatch):
    import macro2micro.dataset_builder.corpus.table as table

    monkeypatch.setattr(table, "CHUNK_ROWS", 7)  # many slices, some of one row
    ds = corpora[name]
    monkeypatch.setattr(table, "_FINGERPRINTS", {})
    assert corpus_fingerprint(ds) == _reference_fingerprint(ds)
    sub = ds.select([5, 3, 3, 100])  # through an indices mapping
    assert corpus_fingerprint(sub) == _reference_fingerprint(sub)
    assert corpus_fingerprint(ds.data.table) == corpus_fingerprint(ds)  # a bare Arrow table hashes the same


def test_arrow_texts_read_like_a_list(corpora, tmp_path):
    import datasets

    ds = corpora["multi"]
    ds.save_to_disk(str(tmp_path / "c"))
    loaded = datasets.load_from_disk(str(tmp_path / "c"))
    for source in (ds, ds.select([9, 0, 9, 4]), loaded, loaded.select([2, 1])):
        want = column(source, "response")
        texts = ArrowTexts.of(source, "response", chunk_rows=3)
        assert bool(texts.files) == (source is loaded)  # a whole pass reads the files, not the memory map
        assert len(texts) == len(want) and list(texts) == want
        assert texts[1:4] == want[1:4] and texts[-1] == want[-1] and texts[::2] == want[::2]
        rows = np.array([1, 0, 1, len(want) - 1])
        assert texts.take(rows) == [want[i] for i in rows]
        assert b"".join(texts.byte_chunks(rows)) == "\n".join(want[i] for i in rows).encode()
        assert b"".join(texts.byte_chunks()) == "\n".join(want).encode()
        held = texts.only(rows[::-1])  # just those rows, still read by their row numbers
        assert len(held) == len(want) and held.take(rows) == texts.take(rows) and held[-1] == want[-1]
        assert b"".join(held.byte_chunks(rows)) == b"".join(texts.byte_chunks(rows))
        assert held.only(rows[:2]).take(rows[:2]) == texts.take(rows[:2])
        with pytest.raises(IndexError):
            held.take([2])
        with pytest.raises(ValueError):
            list(held)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(TEXT, max_size=5), min_size=1, max_size=6), st.data())
def test_chunked_take_equals_the_plain_take(chunks, data):
    """Rows taken within each chunk (empty chunks, any order, repeats, none at all) are Arrow's own take."""
    import pyarrow as pa

    column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], type=pa.string())
    n = len(column)
    rows = np.array(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=20 if n else 0)), dtype=np.int64)
    got = take_rows(column, rows)
    assert isinstance(got, pa.Array) and got.type == pa.string()
    assert got.to_pylist() == column.take(rows).to_pylist() == [column[int(i)].as_py() for i in rows]
    assert ArrowTexts(column, chunk_rows=3).take(rows) == got.to_pylist()
    if n:
        with pytest.raises(IndexError):
            take_rows(column, np.array([0, n]))


def test_a_pass_over_every_row_reads_the_files(corpora, tmp_path, monkeypatch):
    """``rows`` 0 .. n - 1 (full's selection) is read from the Arrow files, as a pass with no rows is."""
    import datasets

    import macro2micro.dataset_builder.corpus.texts as texts_mod

    corpora["single"].save_to_disk(str(tmp_path / "c"))
    texts = ArrowTexts.of(datasets.load_from_disk(str(tmp_path / "c")), "response", chunk_rows=7)
    want = column(corpora["single"], "response")
    reads, stream = [], texts_mod.stream_batches
    monkeypatch.setattr(texts_mod, "stream_batches", lambda files: reads.append(files) or stream(files))
    every = np.arange(len(texts))
    assert b"".join(texts.byte_chunks(every)) == "\n".join(want).encode() and len(reads) == 1
    assert b"".join(texts.byte_chunks(every[::-1])) == "\n".join(want[::-1]).encode() and len(reads) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, max_size=12), st.integers(1, 5))
def test_streamed_gzip_ratio_equals_the_joined_one(texts, chunk_rows):
    import pyarrow as pa

    got = compression_ratio_stream(ArrowTexts(pa.array(texts, pa.string()), chunk_rows).byte_chunks())
    assert got == compression_ratio(texts)


def test_streamed_gzip_ratio_on_a_large_text():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.integers(0, 3000, size=400_000)]  # several MB: many deflate blocks
    texts = [" ".join(words[i : i + 37]) for i in range(0, len(words), 37)]
    import pyarrow as pa

    assert compression_ratio_stream(ArrowTexts(pa.array(texts), 997).byte_chunks()) == compression_ratio(texts)
    assert gzip.decompress(gzip.compress(b"x", mtime=0)) == b"x"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 6), max_size=8), min_size=1, max_size=15),
    st.data(),
    st.integers(1, 4),
)
def test_distinct_and_entropy_of_rows_equal_the_copies(rows_words, data, chunk_rows):
    from macro2micro.dataset_builder.metrics.diversity import token_entropy
    from macro2micro.dataset_builder.metrics.words import WordIds

    wids = WordIds.from_words(rows_words)
    rows = np.array(data.draw(st.lists(st.integers(0, len(rows_words) - 1), max_size=20)), dtype=np.int64)
    sub = wids.take(rows)
    for n in (1, 2, 3):
        assert distinct_n_rows(wids, rows, n, chunk_rows) == distinct_n(sub, n)
    flat = np.concatenate([wids.ids[wids.offsets[i] : wids.offsets[i + 1]] for i in rows] or [np.zeros(0, int)])
    assert token_entropy_rows(wids.ids, wids.offsets, rows, chunk_rows) == token_entropy(flat)


@pytest.mark.parametrize("name", ["single", "multi"])
def test_side_metrics_of_rows_equal_side_metrics_of_the_subset(corpora, name):
    ds = corpora[name]
    rng = np.random.default_rng(0)
    for side in ("instruction", "response"):
        texts = column(ds, side)
        feats = word_features(texts)
        wids = word_ids(texts)
        arrow = ArrowTexts.of(ds, side, chunk_rows=16)
        for rows in (np.arange(len(ds)), rng.choice(len(ds), 50, replace=False), rng.integers(0, len(ds), 80)):
            emb = rng.normal(size=(len(rows), 8))
            want = side_metrics(
                [texts[i] for i in rows], [feats.row(i) for i in rows], emb, 20, 3, tokenized=wids.take(rows)
            )
            got = side_metrics_rows(arrow, feats.ids, feats.offsets, wids, rows, emb, 20, 3)
            assert got == want
            narrow = feats.narrow()  # ids in 1 or 2 bytes, and the rows held apart: the same figures
            assert narrow.ids.itemsize < feats.ids.itemsize and np.array_equal(narrow.ids, feats.ids)
            held = arrow.only(rows)
            assert side_metrics_rows(held, narrow.ids, narrow.offsets, wids, rows, emb, 20, 3) == want


def _reference_matrix(feats: TokenFeatures, bands: Bands) -> sp.csr_matrix:
    """The type matrix as first built: 8-byte row and column of every token, then COO -> CSR."""
    counts = np.bincount(feats.ids, minlength=feats.vocab_size)
    mid = bands.mid_mask(counts) & (counts > 0)
    column_of = np.full(len(counts), -1, dtype=np.int64)
    token_ids = np.flatnonzero(mid)
    column_of[token_ids] = np.arange(len(token_ids))
    n = len(feats.offsets) - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), feats.lengths())
    cols = column_of[feats.ids]
    keep = cols >= 0
    m = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])), shape=(n, len(token_ids)))
    m.sum_duplicates()
    m.data[:] = 1
    return m


@pytest.mark.parametrize("chunk_rows", [1, 7, 65_536])
@pytest.mark.parametrize("name", ["single", "multi"])
def test_chunked_type_matrix_is_the_reference_matrix(corpora, name, chunk_rows):
    feats = word_features(column(corpora[name], "response"))
    for bands in (Bands(2, 40), Bands(1, 10**9), Bands(10**8, 10**9)):
        got, _, _ = mid_band_matrix(feats, bands, chunk_rows=chunk_rows)
        want = _reference_matrix(feats, bands)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data) and got.indices.dtype == np.int32


@pytest.mark.parametrize("name", ["single", "multi"])
def test_chunked_messages_give_the_whole_column_figures(corpora, name, monkeypatch):
    import datasets
    import pyarrow as pa

    import macro2micro.dataset_builder.corpus.table as table
    from macro2micro.dataset_builder.corpus.table import role_counts, turns_per_row

    ds = corpora[name]
    t = ds.data.table
    chunked = datasets.Dataset(pa.concat_tables([t.slice(0, 1), t.slice(1, 60), t.slice(61)]), info=ds.info)
    assert chunked.data.table.column("messages").num_chunks == 3
    messages = column(ds, "messages")
    want_turns = [sum(m["role"] == "assistant" for m in row) for row in messages]
    assert turns_per_row(chunked).tolist() == turns_per_row(ds).tolist() == want_turns
    assert role_counts(chunked) == role_counts(ds)
    assert is_single_turn(chunked) == is_single_turn(ds) == (name == "single")
    monkeypatch.setattr(table, "_FINGERPRINTS", {})
    assert corpus_fingerprint(chunked) == _reference_fingerprint(ds)


@pytest.mark.parametrize("large", [10**9, 1])
def test_distinct_over_a_wide_vocabulary_sorts_in_place(large, monkeypatch):
    """Codes too large to mark (V^2 >> n-grams) take the in-place sort, and the one-at-a-time lock, exactly."""
    import macro2micro.dataset_builder.metrics.rows as rows_mod
    from macro2micro.dataset_builder.metrics.words import WordIds

    monkeypatch.setattr(rows_mod, "LARGE_CODES", large)
    rng = np.random.default_rng(5)
    lengths = rng.integers(0, 30, size=400)
    wids = WordIds(
        ids=rng.zipf(1.3, size=int(lengths.sum())).clip(max=200_000).astype(np.int32) - 1,
        offsets=np.concatenate(([0], np.cumsum(lengths))),
        vocab=[],
    )
    rows = rng.integers(0, 400, size=700)
    for n in (1, 2, 3):
        assert distinct_n_rows(wids, rows, n, 50) == distinct_n(wids.take(rows), n)


@pytest.mark.parametrize("part", [1, 37, 1_000, 10**9])
def test_distinct_counted_in_parts_equals_one_array(part, monkeypatch):
    """Past PART_CODES, n-gram codes are counted in disjoint parts by leading word: the same exact value."""
    import macro2micro.dataset_builder.metrics.rows as rows_mod
    from macro2micro.dataset_builder.metrics.words import WordIds

    rng = np.random.default_rng(11)
    lengths = rng.integers(0, 25, size=300)
    for top in (40, 200_000):  # codes small enough to mark, and codes that must be sorted
        wids = WordIds(
            ids=rng.zipf(1.4, size=int(lengths.sum())).clip(max=top).astype(np.int32) - 1,
            offsets=np.concatenate(([0], np.cumsum(lengths))),
            vocab=[],
        )
        rows = rng.integers(0, 300, size=500)
        monkeypatch.setattr(rows_mod, "PART_CODES", 10**12)
        whole = {n: distinct_n_rows(wids, rows, n, 64) for n in (2, 3)}
        monkeypatch.setattr(rows_mod, "PART_CODES", part)
        for n in (2, 3):
            assert distinct_n_rows(wids, rows, n, 64) == whole[n] == distinct_n(wids.take(rows), n)
