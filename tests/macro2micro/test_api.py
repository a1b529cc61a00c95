"""The Python API on its own: wrong values fail in one line as the library's own errors, and a build saved
from memory publishes from its folder alone."""

import json

import pytest

import macro2micro as m2m
from tests.conftest import make_synthetic_corpus


@pytest.fixture(scope="module")
def corpus():
    raw = make_synthetic_corpus(n=240)
    ds, _ = m2m.load_corpus(raw)
    return ds


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"budget": "fifty"}, "budget='fifty': expected int, got str"),
        ({"budget": 50, "seed": 1.5}, "seed=1.5: expected int, got float"),
        ({"budget": 50, "levels": "3"}, "levels='3': expected int, got str"),
        ({"budget": 50, "multi_turn": "some"}, "multi_turn='some'"),
        ({"budget": 50, "budgett": 3}, "did you mean budget?"),
    ],
)
def test_a_keyword_of_the_wrong_type_is_an_options_error_naming_it(corpus, fields, message):
    with pytest.raises(m2m.OptionsError) as err:
        m2m.build_ladders(corpus, **fields)
    assert message in str(err.value)


def test_arguments_of_the_wrong_kind_are_named(corpus):
    with pytest.raises(m2m.Macro2MicroError, match="subsets: expected Subsets .* got Dataset"):
        m2m.score_subsets(corpus)
    with pytest.raises(m2m.OptionsError, match="embedder: expected a EmbedderOptions .* got int 3"):
        m2m.score_subsets("anywhere", embedder=3)


def test_a_build_saved_from_memory_publishes_from_its_folder_alone(corpus, tmp_path):
    subsets = m2m.build_ladders(corpus, strategies=["micro_response", "random"], budget=40, levels=3, seed=0)
    folder = subsets.save(tmp_path / "sub")
    assert (folder / "corpus" / "dataset_info.json").is_file()  # the in-memory corpus, kept beside the configs
    again = m2m.read_subsets(folder)
    assert again.corpus is not None and again.corpus.num_rows == corpus.num_rows
    m2m.publish(folder, tmp_path / "repo", embedder="none")
    metrics = json.loads((tmp_path / "repo" / "metrics" / "diversity.json").read_text())
    assert set(subsets) <= set(metrics.get("configs", metrics))
    # saving again replaces our own earlier output; a folder of something else is refused unless told
    assert subsets.save(folder) == folder
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(m2m.OutputError, match="other"):
        subsets.save(other)
    assert (other / "notes.txt").read_text() == "mine"
    subsets.save(other, overwrite=True)
    assert not (other / "notes.txt").exists() and (other / "build.json").is_file()


def test_an_ingested_folder_is_not_reshaped_silently(tmp_path, caplog):
    """Its rows were shaped at ingest: another shape asked for is refused; the default is replaced by the
    folder's own, said, and recorded as what was read."""
    from tests.conftest import make_synthetic_corpus

    m2m.ingest(make_synthetic_corpus(n=200), tmp_path / "c_all", multi_turn="all")
    with pytest.raises(m2m.OptionsError, match="was ingested with --multi_turn all; --multi_turn drop cannot"):
        m2m.build_ladders(str(tmp_path / "c_all"), strategies=["random"], budget=20, multi_turn="drop")
    with caplog.at_level("WARNING"):
        subsets = m2m.build_ladders(str(tmp_path / "c_all"), strategies=["random"], budget=20, levels=3)
    assert "the default --multi_turn first does not reshape them" in caplog.text
    assert subsets.info["corpus"]["read_with"]["multi_turn"] == "all"


def test_load_corpus_takes_records_and_names_what_it_cannot_take():
    ds, report = m2m.load_corpus(
        [{"instruction": "Say hi", "output": "Hi!"}, {"instruction": "Add 2+2", "output": "4"}]
    )
    assert ds["instruction"] == ["Say hi", "Add 2+2"] and report.kept == 2
    with pytest.raises(m2m.InputError, match=r"corpus\[1\]: expected a path, a Hub id or a datasets.Dataset, got int"):
        m2m.load_corpus(["a.jsonl", 3])


def test_shards_that_number_their_rows_alike_keep_every_row(tmp_path):
    for shard in ("part1", "part2"):
        rows = [{"id": i, "instruction": f"{shard} question {i}", "output": f"answer {i}"} for i in range(5)]
        (tmp_path / f"{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds, report = m2m.load_corpus([str(tmp_path / "part1.jsonl"), str(tmp_path / "part2.jsonl")])
    assert report.kept == 10 and ds["id"][:2] == ["0", "1"] and ds["id"][5:7] == ["part2/0", "part2/1"]
    assert report.changed["id_prefixed_with_input"] == 5
    (tmp_path / "dup.jsonl").write_text(
        "".join(json.dumps({"id": 1, "instruction": f"q{i}", "output": "a"}) + "\n" for i in range(2))
    )
    with pytest.raises(m2m.CorpusError, match="already used by .*--ids content"):
        m2m.load_corpus(str(tmp_path / "dup.jsonl"))
    ds, _ = m2m.load_corpus(str(tmp_path / "dup.jsonl"), ids="content")
    assert len(ds) == 2
