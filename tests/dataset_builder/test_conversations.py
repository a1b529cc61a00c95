"""Whole conversations: every turn kept, system prompts, content parts, tool turns, and what ingest changed."""

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.corpus.conversations import TURN_SEPARATOR, shape
from macro2micro.dataset_builder.corpus.formats import normalize_whitespace
from macro2micro.dataset_builder.corpus.ingest import (
    CorpusError,
    CorpusOptions,
    corpus_fingerprint,
    load_corpus,
    save_corpus,
    summarize,
)

ALL = CorpusOptions(multi_turn="all")


def chat(*turns, system=None, **extra):
    """A messages record: ``chat("u1", "a1", "u2", "a2")`` alternates user and assistant."""
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages += [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(turns)]
    return {"messages": messages, **extra}


def test_all_keeps_every_turn_sides_join_turns_system_apart(write_jsonl):
    path = write_jsonl(
        [
            chat("capital of France?", "Arr, 'tis Paris", "and Spain?", "Madrid, matey", system="talk like a pirate"),
            chat("hi", "hello"),
        ]
    )
    ds, report = load_corpus(path, ALL)
    first = ds[0]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert first["system"] == "talk like a pirate"
    assert first["instruction"] == f"capital of France?{TURN_SEPARATOR}and Spain?"
    assert first["response"] == f"Arr, 'tis Paris{TURN_SEPARATOR}Madrid, matey"
    assert ds[1]["system"] == "" and [m["role"] for m in ds[1]["messages"]] == ["user", "assistant"]
    assert report.messages == {"assistant": 3, "user": 3, "system": 1} and report.turns_dropped == 0
    assert summarize(ds, report)["turns"]["per_row"] == {
        "mean": 1.5,
        "max": 2,
        "shares": {"1": 0.5, "2": 0.5, "3": 0.0, "4": 0.0, "5+": 0.0},
    }
    # the system prompt on the instruction side only when asked; dropped when asked
    ds, _ = load_corpus(path, CorpusOptions(multi_turn="all", system_side="instruction"))
    assert ds[0]["instruction"].startswith(f"talk like a pirate{TURN_SEPARATOR}capital of France?")
    ds, report = load_corpus(path, CorpusOptions(multi_turn="all", system="drop"))
    assert ds[0]["system"] == "" and ds[0]["messages"][0]["role"] == "user"
    assert report.changed == {"system_dropped": 1}


def test_first_keeps_the_first_exchange_and_the_log_line_counts_later_turns(write_jsonl, caplog):
    path = write_jsonl([chat("u1", "a1", "u2", "a2", "u3", "a3", system="be brief"), chat("v1", "b1")])
    with caplog.at_level(logging.INFO, logger="macro2micro.dataset_builder.corpus.ingest"):
        ds, report = load_corpus(path)
    assert [m["content"] for m in ds[0]["messages"]] == ["be brief", "u1", "a1"]
    assert report.changed == {"later_turns_dropped": 1} and report.turns_dropped == 4
    assert "multi_turn=first left out 4 later turns of 1 conversations (multi_turn=all keeps them)" in caplog.text
    ds, report = load_corpus(path, CorpusOptions(multi_turn="drop"))
    assert ds["instruction"] == ["v1"] and report.dropped == {"multi_turn": 1}


def test_turns_after_the_last_reply_and_empty_turns(write_jsonl):
    records = [
        chat("u1", "a1", "u2"),  # unanswered last question
        chat("u1", "a1", "  ", "a2"),  # an empty user turn inside a dialogue
        chat("x", "y", system="  "),  # an empty system prompt is left out, not the row
    ]
    ds, report = load_corpus(write_jsonl(records), ALL)
    assert ds["instruction"] == ["u1", "x"] and ds[0]["messages"][-1] == {"role": "assistant", "content": "a1"}
    assert report.dropped == {"empty_turn": 1} and report.turns_dropped == 1
    assert report.changed == {"empty_system_dropped": 1, "trailing_turns_dropped": 1, "whitespace_normalized": 1}


def test_content_parts_joined_non_text_rows_dropped_by_reason(write_jsonl):
    """The issue's file: under --on_error skip, 3 of 4 rows were dropped, rows of text parts among them."""
    text = [{"type": "text", "text": "Describe"}, {"type": "text", "text": "this."}]
    image = [{"type": "text", "text": "What is it?"}, {"type": "image_url", "image_url": {"url": "x.png"}}]
    records = [
        {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "A cat."}]},
        {"messages": [{"role": "user", "content": image}, {"role": "assistant", "content": "A dog."}]},
        {"messages": [{"role": "user", "content": "plain"}, {"role": "assistant", "content": [text[0]]}]},
        {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}, {"role": "assistant", "content": "?"}]},
    ]
    ds, report = load_corpus(write_jsonl(records), CorpusOptions(on_error="skip"))
    assert ds["instruction"] == ["Describe\nthis.", "plain"] and ds["response"] == ["A cat.", "Describe"]
    assert ds[0]["messages"][0] == {"role": "user", "content": "Describe\nthis."}
    assert report.dropped == {"non_text_image_url": 1, "non_text_input_audio": 1}
    assert report.changed == {"content_parts_joined": 1}
    bad = write_jsonl([{"messages": [{"role": "user", "content": [{"text": "no type"}]}]}], "bad.jsonl")
    with pytest.raises(CorpusError, match=r"bad.jsonl, line 1, messages\[0\], field 'content'\[0\]: expected a"):
        load_corpus(bad)


def test_tool_turns_kept_counted_and_outside_both_sides(write_jsonl):
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
    openai = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "18 C, sunny"},
            {"role": "assistant", "content": "It is 18 C and sunny."},
        ]
    }
    glaive = {
        "conversations": [
            {"from": "human", "value": "Convert 5 USD"},
            {"from": "function_call", "value": '{"name": "fx", "arguments": {"usd": 5}}'},
            {"from": "observation", "value": '{"eur": 4.6}'},
            {"from": "gpt", "value": "That is 4.60 EUR."},
        ]
    }
    files = [write_jsonl([openai], "openai.jsonl"), write_jsonl([glaive], "glaive.jsonl")]
    for options in (CorpusOptions(), ALL):  # the first exchange holds the tool turns before the first reply
        ds, report = load_corpus(files, options)
        roles = [[m["role"] for m in row] for row in ds["messages"]]
        assert roles == [["user", "tool_call", "tool", "assistant"]] * 2
        assert ds["instruction"] == ["Weather in Paris?", "Convert 5 USD"]
        assert ds["response"] == ["It is 18 C and sunny.", "That is 4.60 EUR."]
        assert json.loads(ds[0]["messages"][1]["content"]) == {"tool_calls": [call]}
        assert report.messages == {"assistant": 2, "tool": 2, "tool_call": 2, "user": 2}
        assert report.changed == {"tool_calls_as_turns": 1}


def test_duplicates_are_whole_conversations_and_the_fingerprint_sees_system_prompts(write_jsonl):
    records = [chat("q", "a", system="be kind"), chat("q", "a", system="be rude"), chat("q", "a", system="be kind")]
    ds, report = load_corpus(write_jsonl(records))
    assert ds["system"] == ["be kind", "be rude"] and report.dropped == {"duplicate": 1}
    kind, _ = load_corpus(write_jsonl([chat("q", "a", system="be kind")], "k.jsonl"))
    rude, _ = load_corpus(write_jsonl([chat("q", "a", system="be rude")], "r.jsonl"), CorpusOptions())
    assert kind["id"] != rude["id"] and corpus_fingerprint(kind) != corpus_fingerprint(rude)
    pair, _ = load_corpus(write_jsonl([{"instruction": "q", "output": "a"}], "p.jsonl"))
    plain, _ = load_corpus(write_jsonl([chat("q", "a")], "c.jsonl"))
    assert pair["id"] == plain["id"] and corpus_fingerprint(pair) == corpus_fingerprint(plain)


def test_system_prompts_of_every_format(write_jsonl, tmp_path):
    orca = write_jsonl([{"system_prompt": "You are a tutor.", "question": "2+2?", "response": "4"}], "orca.jsonl")
    opts = CorpusOptions(format="columns", columns="instruction=question,response=response,system=system_prompt")
    ds, _ = load_corpus(orca, opts)
    assert ds["system"] == ["You are a tutor."] and ds[0]["messages"][0]["role"] == "system"
    turns = [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]
    sharegpt = {"system": "Be terse.", "conversations": turns}
    ds, _ = load_corpus(write_jsonl([sharegpt], "sg.jsonl"))
    assert ds["system"] == ["Be terse."]
    prompt = {"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "p"}], "completion": "c"}
    ds, _ = load_corpus(write_jsonl([prompt], "pc.jsonl"))
    assert ds["system"] == ["S"] and ds["instruction"] == ["p"] and ds["response"] == ["c"]


def test_every_change_is_counted_once_per_row_and_only_for_kept_rows(write_jsonl):
    records = [
        {"instruction": "Hello  \r\nworld ", "output": "ok"},  # whitespace
        {"instruction": "Add", "input": "2 and 3", "output": "5"},  # input appended
        {"instruction": "Hello\nworld", "output": "ok"},  # a duplicate once normalized: dropped, not counted
        {"instruction": "clean", "output": "row"},
    ]
    ds, report = load_corpus(write_jsonl(records))
    assert report.kept == 3 and report.dropped == {"duplicate": 1}
    assert report.changed == {"input_appended": 1, "whitespace_normalized": 1}


def test_max_rows_keeps_a_seeded_uniform_sample_after_cleaning(write_jsonl, tmp_path):
    records = [{"instruction": f"q{i} ", "output": f"a{i}"} for i in range(50)] + [{"instruction": "", "output": "x"}]
    path = write_jsonl(records)
    ds, report = load_corpus(path, CorpusOptions(max_rows=10, sample_seed=3))
    again, _ = load_corpus(path, CorpusOptions(max_rows=10, sample_seed=3))
    other, _ = load_corpus(path, CorpusOptions(max_rows=10, sample_seed=4))
    assert len(ds) == 10 and ds["id"] == again["id"] != other["id"]
    order = [int(q[1:]) for q in ds["instruction"]]
    assert order == sorted(order)  # the corpus order is kept
    assert report.dropped == {"empty_instruction": 1, "over_max_rows": 40}
    assert report.sample == {"max_rows": 10, "seed": 3, "from_rows": 50}
    assert report.changed == {"whitespace_normalized": 10}  # counted over the rows kept
    summary = save_corpus(ds, report, tmp_path / "c")
    assert summary["sample"] == report.sample and summary["rows"] == 10
    whole, _ = load_corpus(path, CorpusOptions(max_rows=100))
    assert len(whole) == 50


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.bz2", ".jsonl.zst", ".csv.gz", ".json.bz2", ".csv.zst"])
def test_compressed_inputs_read_by_suffix_with_located_errors(tmp_path, suffix):
    import bz2
    import gzip

    import zstandard

    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".zst": zstandard.ZstdCompressor().compress}
    inner, comp = suffix.rsplit(".", 1)
    pairs = [("Why?", "Because."), ("Name a colour", "Blue")]
    if inner == ".jsonl":
        good = "".join(json.dumps({"instruction": q, "output": a}) + "\n" for q, a in pairs)
        bad, where = good + '{"instruction": "x", "output": 3}\n', "line 3, field 'output': expected a string"
    elif inner == ".csv":
        good = "question,answer\n" + "".join(f'"{q}","{a}"\n' for q, a in pairs)
        bad, where = good + '"x"\n', "line 4, field 'answer': missing"
    else:
        good = json.dumps([{"instruction": q, "output": a} for q, a in pairs])
        bad, where = good[:-1], "malformed JSON"
    opts = CorpusOptions(format="columns", columns="instruction=question,response=answer") if inner == ".csv" else None
    path = tmp_path / f"data{suffix}"
    path.write_bytes(compress[f".{comp}"](good.encode()))
    ds, report = load_corpus(tmp_path, opts)  # a folder finds compressed files too
    assert ds["instruction"] == ["Why?", "Name a colour"] and ds["source"] == ["data", "data"]
    path.write_bytes(compress[f".{comp}"](bad.encode()))
    with pytest.raises(CorpusError, match=rf"data{suffix.replace('.', '[.]')}, .*{where}"):
        load_corpus(path, opts)
    blob = compress[f".{comp}"](good.encode() * 400)
    path.write_bytes(blob[: len(blob) // 2])
    name = suffix.replace(".", "[.]")
    with pytest.raises(CorpusError, match=rf"data{name}(, line \d+)?: the \w+ stream ends early"):
        load_corpus(path, opts)


def test_compression_refusals_and_the_missing_extra(tmp_path, monkeypatch, write_jsonl):
    import gzip
    import sys

    (tmp_path / "x.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(CorpusError, match=r"unsupported file type '.parquet.gz'"):
        load_corpus(tmp_path / "x.parquet.gz")
    (tmp_path / "y.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CorpusError, match=r"y.jsonl.gz, line 1: not a valid gzip stream"):
        load_corpus(tmp_path / "y.jsonl.gz")
    (tmp_path / "z.jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(ImportError, match=r"pip install 'macro2micro\[zstd\]'"):
        load_corpus(tmp_path / "z.jsonl.zst")


ROLE = st.sampled_from(["user", "assistant", "system", "tool"])
TEXT = st.text(alphabet=st.sampled_from("ab \n\t"), max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ROLE, TEXT), max_size=8))
def test_all_keeps_every_turn_up_to_the_last_reply(turns):
    """Property: a row kept under multi_turn=all holds every turn up to the last reply, normalized, in order;
    its sides are exactly its user and assistant turns joined."""
    row = shape(turns, ALL, normalize_whitespace)
    if isinstance(row, str):
        return
    expected = [(r, normalize_whitespace(t)) for r, t in turns if r != "system" or normalize_whitespace(t)]
    last = max(i for i, (r, _) in enumerate(expected) if r == "assistant")
    assert row.messages == expected[: last + 1] and row.turns_dropped == len(expected) - last - 1
    assert row.instruction == TURN_SEPARATOR.join(t for r, t in row.messages if r == "user")
    assert row.response == TURN_SEPARATOR.join(t for r, t in row.messages if r == "assistant")
    assert row.system == TURN_SEPARATOR.join(t for r, t in row.messages if r == "system")
    assert next(r for r, _ in row.messages if r != "system") == "user"


def test_a_corpus_folder_written_before_the_system_column_opens_with_an_empty_one(write_jsonl, tmp_path):
    import datasets

    from macro2micro.dataset_builder.corpus.ingest import open_corpus

    ds, report = load_corpus(write_jsonl([{"instruction": "q", "output": "a"}, {"instruction": "r", "output": "b"}]))
    save_corpus(ds, report, tmp_path / "c")
    old = datasets.load_from_disk(str(tmp_path / "c/dataset")).remove_columns("system")
    old.save_to_disk(str(tmp_path / "old/dataset"))
    (tmp_path / "old/summary.json").write_text((tmp_path / "c/summary.json").read_text())
    opened, fp = open_corpus(CorpusOptions(corpus=[str(tmp_path / "old")]))
    assert opened.column_names == ds.column_names and opened["system"] == ["", ""]
    assert fp == corpus_fingerprint(ds) == corpus_fingerprint(opened)
    sampled, _ = open_corpus(CorpusOptions(corpus=[str(tmp_path / "c")], max_rows=1, sample_seed=5))
    assert len(sampled) == 1 and sampled["id"][0] in ds["id"]
