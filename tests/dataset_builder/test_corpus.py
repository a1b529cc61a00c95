import csv
import json

import pytest

from macro2micro.dataset_builder.corpus.ingest import (
    CorpusError,
    CorpusOptions,
    load_corpus,
    normalize_whitespace,
    save_corpus,
)

ALPACA = [
    {"instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
]


def test_alpaca_jsonl_with_input_joined(write_jsonl):
    ds, report = load_corpus(write_jsonl(ALPACA))
    assert ds.column_names == ["id", "source", "system", "instruction", "response", "messages"]
    assert ds["instruction"] == ["Name a colour.", "Add the numbers.\n\n2 and 3"]
    assert ds["response"] == ["Blue.", "5"]
    assert ds[1]["messages"] == [
        {"role": "user", "content": "Add the numbers.\n\n2 and 3"},
        {"role": "assistant", "content": "5"},
    ]
    assert ds["source"] == ["data", "data"]
    assert report.formats == {report.inputs[0]: "alpaca"}
    assert len(set(ds["id"])) == 2 and all(len(i) == 16 for i in ds["id"])


def test_dolly_and_our_own_columns_read_as_instruction_records(write_jsonl):
    """Dolly-15k (instruction, context, response) and a corpus or subset exported to JSONL (instruction, response)."""
    dolly = [
        {"instruction": "Summarize.", "context": "A long text.", "response": "Short.", "category": "summarization"},
        {"instruction": "Name a colour.", "context": "", "response": "Blue.", "category": "open_qa"},
    ]
    ds, report = load_corpus(write_jsonl(dolly, "dolly.jsonl"))
    assert ds["instruction"] == ["Summarize.\n\nA long text.", "Name a colour."]
    assert ds["response"] == ["Short.", "Blue."] and report.formats == {report.inputs[0]: "alpaca"}
    ours = [{"id": "r1", "source": "sharegpt", "instruction": "Hi", "response": "Hello!"}]
    ds, _ = load_corpus(write_jsonl(ours, "ours.jsonl"))
    assert ds["id"] == ["r1"] and ds["source"] == ["sharegpt"] and ds["response"] == ["Hello!"]
    with pytest.raises(CorpusError, match="line 1, field 'output': missing .*'output' or 'response'"):
        load_corpus(write_jsonl([{"instruction": "a", "context": "b"}], "bad.jsonl"))


def test_ids_are_stable_content_hashes(write_jsonl, tmp_path):
    a, _ = load_corpus(write_jsonl(ALPACA, "a.jsonl"))
    b, _ = load_corpus(write_jsonl(list(reversed(ALPACA)), "b.jsonl"))
    assert sorted(a["id"]) == sorted(b["id"])


def test_sharegpt_json_first_turn_and_multi_turn_drop(tmp_path):
    conv = [
        {"from": "human", "value": "Hi there"},
        {"from": "gpt", "value": "Hello!"},
        {"from": "human", "value": "More"},
        {"from": "gpt", "value": "Sure."},
    ]
    records = [
        {"id": "c1", "conversations": conv},
        {
            "id": "c2",
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "Q"},
                {"from": "gpt", "value": "A"},
            ],
        },
        {
            "id": "c3",
            "conversations": [
                {"from": "gpt", "value": "continued"},
                {"from": "human", "value": "x"},
                {"from": "gpt", "value": "y"},
            ],
        },
        {"id": "c4", "conversations": [{"from": "human", "value": "unanswered"}]},
        {
            "id": "c5",
            "conversations": [
                {"from": "human", "value": "u1"},
                {"from": "human", "value": "u2"},
                {"from": "gpt", "value": "answered"},
            ],
        },
    ]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(records))
    ds, report = load_corpus(path)
    assert ds["id"] == ["c1", "c2"]
    assert ds["instruction"] == ["Hi there", "Q"] and ds["response"] == ["Hello!", "A"]
    assert ds["system"] == ["", "Be brief."] and ds[1]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert report.dropped == {"no_response": 1, "starts_with_assistant": 1, "consecutive_user_turns": 1}
    assert load_corpus(path, CorpusOptions(multi_turn="all"))[0]["instruction"][-1] == "u1\n\nu2"
    assert report.changed == {"later_turns_dropped": 1} and report.turns_dropped == 2  # c1 kept its first exchange
    ds, report = load_corpus(path, CorpusOptions(system="drop"))
    assert ds["system"] == ["", ""] and report.changed == {"later_turns_dropped": 1, "system_dropped": 1}
    ds, report = load_corpus(path, CorpusOptions(multi_turn="drop"))
    assert ds["id"] == ["c2"] and report.dropped["multi_turn"] == 2  # c1, and c5 with two user turns


def test_messages_parquet_and_saved_dataset_folder(tmp_path):
    import datasets

    rows = {
        "messages": [
            [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}],
            [{"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}],
        ],
        "source": ["s1", "s2"],
    }
    ds0 = datasets.Dataset.from_dict(rows)
    ds0.to_parquet(tmp_path / "m.parquet")
    ds, _ = load_corpus(tmp_path / "m.parquet")
    assert ds["instruction"] == ["u1", "u2"] and ds["source"] == ["s1", "s2"]
    datasets.DatasetDict({"train": ds0}).save_to_disk(str(tmp_path / "saved"))
    ds, report = load_corpus(tmp_path / "saved")
    assert ds["response"] == ["a1", "a2"] and report.formats[str(tmp_path / "saved")] == "messages"
    with pytest.raises(CorpusError, match="no split 'test'"):
        load_corpus(tmp_path / "saved", CorpusOptions(split="test"))


def test_prompt_completion_strings_and_message_lists(write_jsonl):
    ds, _ = load_corpus(
        write_jsonl(
            [
                {"prompt": "p1", "completion": "c1"},
                {
                    "prompt": [{"role": "user", "content": "p2"}],
                    "completion": [{"role": "assistant", "content": "c2"}],
                },
            ]
        )
    )
    assert ds["instruction"] == ["p1", "p2"] and ds["response"] == ["c1", "c2"]


def test_csv_with_column_mapping(tmp_path):
    path = tmp_path / "qa.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["qid", "question", "answer"])
        w.writerow(["q1", "Why is the sky blue?", "Rayleigh scattering."])
        w.writerow(["q2", "Two plus two?", 'Four, with a comma, and "quotes".'])
    opts = CorpusOptions(format="columns", columns={"instruction": "question", "response": "answer", "id": "qid"})
    ds, _ = load_corpus(path, opts)
    assert ds["id"] == ["q1", "q2"] and ds["response"][1] == 'Four, with a comma, and "quotes".'
    with pytest.raises(CorpusError, match=r"qa.csv, line 2, field 'answr': missing"):
        load_corpus(path, CorpusOptions(format="columns", columns={"instruction": "question", "response": "answr"}))


def test_whitespace_normalized_and_duplicates_empties_caps_counted(write_jsonl):
    records = [
        {"instruction": "  Hello\r\nworld  \n\n\n\nagain ", "output": "ok"},
        {"instruction": "Hello\nworld\n\nagain", "output": "ok"},  # duplicate once normalized
        {"instruction": "   ", "output": "x"},
        {"instruction": "q", "output": "\n\t\n"},
        {"instruction": "long " * 50, "output": "fine"},
    ]
    ds, report = load_corpus(write_jsonl(records), CorpusOptions(max_instruction_chars=100))
    assert ds["instruction"] == ["Hello\nworld\n\nagain"]
    assert report.dropped == {"duplicate": 1, "empty_instruction": 1, "empty_response": 1, "instruction_too_long": 1}
    assert report.rows_read == 5 and report.kept == 1


def test_normalize_whitespace_keeps_indentation():
    assert normalize_whitespace("def f():\n    return 1   \n") == "def f():\n    return 1"


@pytest.mark.parametrize(
    "content, message",
    [
        (
            '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n',
            r"data.jsonl, line 2: malformed JSON",
        ),
        ('{"instruction": "a"}\n', r"data.jsonl, line 1, field 'output': missing"),
        (
            '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": null}]}\n',
            r"data.jsonl, line 1, messages\[1\], field 'content': null$",
        ),
        ('{"messages": [{"content": "a"}]}\n', r"data.jsonl, line 1, messages\[0\], field 'role': missing$"),
        ('{"instruction": "a", "output": 3}\n', r"data.jsonl, line 1, field 'output': expected a string, got int"),
        ('{"question": "a", "answer": "b"}\n', r"data.jsonl, line 1: unknown format: keys \['answer', 'question'\]"),
        ("[1, 2]\n", r"data.jsonl, line 1: expected a JSON object per record, got list"),
        (
            '{"conversations": [{"from": "alien", "value": "x"}]}\n',
            r"line 1, conversations\[0\], field 'from': unknown role 'alien'; valid: assistant, bard",
        ),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "data.jsonl"
    path.write_text(content)
    with pytest.raises(CorpusError, match=message):
        load_corpus(path)


def test_undecodable_bytes_and_empty_file(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"instruction": "a", "output": "b"}\n{"instruction": "\xff\xfe", "output": "b"}\n')
    with pytest.raises(CorpusError, match=r"data.jsonl, line 2: bytes are not valid UTF-8"):
        load_corpus(path)
    bad_json = tmp_path / "bad.json"
    bad_json.write_bytes(b'[\n{"instruction": "\xff", "output": "b"}]')
    with pytest.raises(CorpusError, match=r"bad.json, line 2: bytes are not valid UTF-8"):
        load_corpus(bad_json)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(CorpusError, match=r"empty.jsonl: file is empty"):
        load_corpus(empty)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    with pytest.raises(CorpusError, match=r"blank.jsonl: holds no records"):
        load_corpus(blank)
    with pytest.raises(CorpusError, match=r"unsupported file type '.txt'"):
        (tmp_path / "x.txt").write_text("hi")
        load_corpus(tmp_path / "x.txt")


def test_on_error_skip_counts_bad_rows(write_jsonl):
    path = write_jsonl(
        [
            '{"instruction": "a", "output": "b"}',
            "{broken",
            '{"instruction": "c", "output": 5}',
            '{"instruction": "d", "output": "e"}',
        ]
    )
    ds, report = load_corpus(path, CorpusOptions(on_error="skip"))
    assert ds["instruction"] == ["a", "d"]
    assert report.dropped == {"invalid": 2} and report.rows_read == 4  # the unreadable line was read too
    assert (
        "line 2: malformed JSON (Expecting property name enclosed in double quotes at column 2)" in (report.errors[0])
        and "line 3, field 'output'" in report.errors[1]
    )


def test_duplicate_given_ids_are_an_error(write_jsonl):
    with pytest.raises(CorpusError, match=r"line 2, field 'id': id 'x' already used by .*line 1"):
        load_corpus(
            write_jsonl(
                [{"id": "x", "instruction": "a", "output": "b"}, {"id": "x", "instruction": "c", "output": "d"}]
            )
        )


def test_options_validated_at_the_boundary():
    with pytest.raises(ValueError, match="format='yaml' is not a known format; valid: auto, alpaca"):
        CorpusOptions(format="yaml")
    with pytest.raises(ValueError, match=r"needs columns for \['response'\]"):
        CorpusOptions(format="columns", columns={"instruction": "q"})
    with pytest.raises(ValueError, match="on_error='ignore'"):
        CorpusOptions(on_error="ignore")


def test_failed_stage_writes_nothing_and_keeps_old_output(tmp_path, write_jsonl):
    from macro2micro.cli.main import main

    out = tmp_path / "corpus"
    assert main(["ingest", "--corpus", str(write_jsonl(ALPACA)), "--out", str(out)]) == 0
    before = sorted(p.name for p in out.iterdir())
    assert before == [".macro2micro-output.json", "dataset", "report.json", "summary.json"]
    bad = write_jsonl(['{"instruction": 1, "output": "x"}'], "bad.jsonl")
    assert main(["ingest", "--corpus", str(bad), "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".corpus.tmp")]
    new_out = tmp_path / "never"
    assert main(["ingest", "--corpus", str(bad), "--out", str(new_out)]) == 2
    assert not new_out.exists()


def test_save_corpus_summary(tmp_path, write_jsonl):
    ds, report = load_corpus(write_jsonl(ALPACA))
    save_corpus(ds, report, tmp_path / "c")
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["rows"] == 2 and summary["response"]["chars"]["max"] == 5
    assert len(summary["fingerprint"]) == 32


def test_fingerprint_is_the_content_hash_of_the_rows_seen(write_jsonl):
    """The Arrow-buffer hash equals the definition, also through a select()ed Dataset's indices."""
    import hashlib

    from macro2micro.dataset_builder.corpus.ingest import corpus_fingerprint

    ds, _ = load_corpus(write_jsonl([{"instruction": f"q{i}", "output": f"a{i}"} for i in range(20)]))

    def definition(d):
        h = hashlib.sha256()
        for column in ("id", "instruction", "response"):
            for value in d[column]:
                h.update(value.encode() + b"\x00")
            h.update(b"\x01")
        return h.hexdigest()[:32]

    assert corpus_fingerprint(ds) == definition(ds)
    part = ds.select([3, 1, 7])
    assert corpus_fingerprint(part) == definition(part) != corpus_fingerprint(ds)
