"""Tampered artifacts, as a stranger edits them: every case is one line naming the file and field, exit 2,
and no byte outside the (unwritten) output changes. The files are those a build and a publish wrote."""

import json
import shutil
from pathlib import Path

import pytest

from macro2micro.dataset_builder.hub.schemas import manifest_hash
from tests.macro2micro.test_faults import WORD, build_args, run, snapshot


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A build folder and its published repo folder (micro_response at 3 levels + random, N=20)."""
    from macro2micro.cli.main import main
    from tests.conftest import make_synthetic_corpus

    root = tmp_path_factory.mktemp("tamper")
    corpus = root / "in" / "data.jsonl"
    corpus.parent.mkdir()
    make_synthetic_corpus(n=120).to_json(str(corpus))
    assert main(build_args(corpus, root / "subsets")) == 0
    publish = ["publish", "--corpus", str(corpus), "--subsets", str(root / "subsets"), *WORD[:2]]
    assert main([*publish, "--embedder", "none", "--self_bleu_sample", "10", "--out", str(root / "repo")]) == 0
    return root


@pytest.fixture
def work(published, tmp_path):
    """A private copy of the corpus, the build folder and the repo folder."""
    for name in ("in", "subsets", "repo"):
        shutil.copytree(published / name, tmp_path / name)
    return tmp_path


def edit_json(path: Path, change, rehash: bool = False) -> None:
    data = json.loads(path.read_text())
    change(data)
    if rehash:
        data["manifest_sha256"] = manifest_hash(data)
    path.write_text(json.dumps(data))


def publish_args(work: Path) -> list[str]:
    return [
        "publish",
        "--corpus",
        str(work / "in" / "data.jsonl"),
        "--subsets",
        str(work / "subsets"),
        *WORD[:2],
        "--embedder",
        "none",
        "--out",
        str(work / "out"),
    ]


def set_key(*keys, value):
    def change(data):
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return change


MANIFEST = "subsets/manifests/micro_response_max.json"
BUILD = "subsets/build.json"


@pytest.mark.parametrize(
    "file, change, rehash, message",
    [
        (BUILD, set_key("options", value=[1, 2]), False, "build.json: field 'options': Input should be a valid dict"),
        (BUILD, set_key("options", value=[]), False, "build.json: field 'options': Input should be a valid dict"),
        (BUILD, set_key("options", "budget", value=float("nan")), False, "field 'options.budget': not a finite"),
        (BUILD, set_key("options", "budget", value=10**400), False, "field 'options.budget': Input should be less"),
        (
            BUILD,
            set_key("options", "budget", value="20"),
            False,
            "field 'options.budget': Input should be a valid int",
        ),
        (
            BUILD,
            lambda d: d["configs"].append(d["configs"][0]),
            False,
            "build.json: field 'configs': 'micro_response_min' appears more than once",
        ),
        (
            BUILD,
            set_key("corpus", "fingerprint", value="0" * 32),
            False,
            "micro_response_min.json: field 'corpus': fingerprint",
        ),
        (BUILD, set_key("options", "budget", value=21), False, "field 'budget': 20, not build.json's N=21"),
        (MANIFEST, set_key("selected_ids", value=["nope"]), True, "1 selected_ids for budget N=20"),
        (MANIFEST, set_key("selected_ids", value=5), True, "field 'selected_ids': Input should be a valid list"),
        (
            MANIFEST,
            lambda d: d["selected_ids"].__setitem__(1, d["selected_ids"][0]),
            True,
            "field 'selected_ids': 's0",
        ),
        (MANIFEST, set_key("strategy", value="../../x"), True, "field 'strategy': '../../x' is not a safe name"),
        (MANIFEST, set_key("k", value=float("inf")), True, "field 'k': not a finite number"),
        (MANIFEST, set_key("type_coverage", value=1.5), True, "field 'type_coverage': Input should be less than"),
        (MANIFEST, set_key("varies", "length_ratio_vs_uniform", value=-1), True, "length_ratio_vs_uniform"),
        (MANIFEST, lambda d: d["selected_ids"].reverse(), False, "'manifest_sha256' does not match"),
    ],
)
def test_a_tampered_build_fails_publish_in_one_line(work, capsys, file, change, rehash, message):
    edit_json(work / file, change, rehash)
    before = snapshot(work)
    rc, line = run(publish_args(work), capsys)
    assert rc == 2 and message in line and "Traceback" not in line, line
    assert snapshot(work) == before and not (work / "out").exists()


def test_an_id_not_in_the_corpus_and_a_huge_name(work, capsys):
    def unknown(d):
        d["selected_ids"][0] = "nope"

    edit_json(work / MANIFEST, unknown, rehash=True)
    before = snapshot(work)
    rc, line = run(publish_args(work), capsys)
    assert rc == 2 and "micro_response_max.json: field 'selected_ids[0]': id 'nope' is not a row of the corpus" in line
    assert snapshot(work) == before
    edit_json(work / MANIFEST, set_key("strategy", value="x" * 10_000_000), rehash=True)
    rc, line = run(publish_args(work), capsys)
    assert rc == 2 and "(10000002 characters) is not a safe name" in line and len(line) < 700, line[:800]
    assert not (work / "out").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (set_key("micro_response_max", "response", "distinct_2", value="lots"), "Input should be a valid number"),
        (set_key("micro_response_max", "rows", value=float("nan")), "'micro_response_max.rows': not a finite"),
        (set_key("../../x", value={}), "field '../../x': '../../x' is not a safe name"),
        (lambda d: d.pop("random"), "its configs are not build.json's (extra: [], missing: ['random'])"),
    ],
)
def test_tampered_metrics_fail_the_space_in_one_line(work, capsys, change, message):
    edit_json(work / "repo/metrics/diversity.json", change)
    before = snapshot(work)
    rc, line = run(["space", "--repo", str(work / "repo"), "--port", "1"], capsys)
    assert rc == 2 and "diversity.json" in line and message in line, line
    assert snapshot(work) == before


def _card(work: Path, old: str, new: str) -> None:
    card = work / "repo" / "README.md"
    text = card.read_text()
    assert old in text
    card.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("configs:", "configs: [a\n  b: : :", "README.md: the front matter is not valid YAML (line"),
        ("path: random/train-*", "path: ../elsewhere/train-*", "'../elsewhere/train-*' is not a path inside the repo"),
        ("path: random/train-*", "path: /tmp/train-*", "'/tmp/train-*' is not a path inside the repo folder"),
        ("path: random/train-*", "path: full/train-*", "lies outside the config's folder random/"),
        ("path: random/train-*", "path: hf://datasets/x/y/train-*", "is not a path inside the repo folder"),
        ("configs:\n", "configs:\n- config_name: random\n  data_files: random/*\n", "'random' appears more than once"),
    ],
)
def test_a_tampered_card_fails_train_in_one_line(work, capsys, old, new, message):
    _card(work, old, new)
    before = snapshot(work)
    args = ["train", "--dataset", str(work / "repo"), "--configs", "*", "--print_commands", "--out", str(work / "r")]
    rc, line = run(args, capsys)
    assert rc == 2 and message in line and "Traceback" not in line, line
    assert snapshot(work) == before and not (work / "r").exists()


def test_a_card_pointing_outside_cannot_be_trained_on(work):
    """``train`` itself (not only --print_commands) reads the card before ``datasets`` follows its data_files."""
    from macro2micro.dataset_builder.errors import ArtifactError
    from macro2micro.dataset_builder.hub.repo import load_config

    assert len(load_config(work / "repo", "random")) == 20
    _card(work, "path: random/train-*", "path: ../../elsewhere/train-*")
    with pytest.raises(ArtifactError, match="is not a path inside the repo folder"):
        load_config(work / "repo", "random")


def test_tampered_runs_fail_evaluate_in_one_line(work, capsys):
    run_dir = work / "runs" / "random"
    run_dir.mkdir(parents=True)
    results = {"config": "random", "base_model": "x/y", "rows": 20, "steps": 1, "train_loss": 1.0}
    (run_dir / "train_results.json").write_text(json.dumps(results))
    (run_dir / "adapter_config.json").write_text('{"base_model_name_or_path": 5}')
    args = ["evaluate", "--runs", str(work / "runs"), "--dataset", str(work / "repo"), "--out", str(work / "ev")]
    before = snapshot(work)
    rc, line = run(args, capsys)
    assert rc == 2 and "random/adapter_config.json: field 'base_model_name_or_path'" in line, line
    (run_dir / "adapter_config.json").write_text("{not json")
    rc, line = run(args, capsys)
    assert rc == 2 and "random/adapter_config.json: not valid JSON" in line, line
    (run_dir / "train_results.json").write_text(json.dumps({**results, "train_loss": "low"}))
    rc, line = run(args, capsys)
    assert rc == 2 and "train_results.json: field 'train_loss'" in line, line
    assert not (work / "ev").exists()
    (run_dir / "train_results.json").unlink()
    (run_dir / "adapter_config.json").unlink()
    assert {k: v for k, v in snapshot(work).items() if not k.startswith("runs/")} == {
        k: v for k, v in before.items() if not k.startswith("runs/")
    }


def results_for(repo: Path) -> dict:
    models = ["micro_response_min", "micro_response_max", "random"]
    score = {"win_rate": 75.0, "ci95": [60.0, 90.0], "prompts_scored": 2, "prompts_total": 2, "unparseable": 0}
    return {
        "dataset": str(repo),
        "baseline": "random",
        "prompt_rows": [{"id": "p0", "instruction": "Bake?"}, {"id": "p1", "instruction": "Code?"}],
        "scores": {m: dict(score) for m in models[:2]},
        "answers": {m: ["yes", "no"] for m in models},
        "verdicts": {
            m: {"model_first": ["A", "tie"], "baseline_first": ["B", None], "per_prompt": [1.0, 0.5]}
            for m in models[:2]
        },
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (set_key("scores", "micro_response_max", "win_rate", value="75"), "'scores.micro_response_max.win_rate'"),
        (set_key("scores", "micro_response_max", "win_rate", value=750.0), "less than or equal to 100"),
        (lambda d: d["answers"]["micro_response_max"].pop(), "answers of 'micro_response_max': 1 for 2 prompt_rows"),
        (set_key("prompt_rows", 1, "id", value="p0"), "'p0' appears more than once"),
        (set_key("verdicts", "micro_response_min", "model_first", 0, value="X"), "model_first[0]"),
        (set_key("baseline", value="../x"), "field 'baseline': '../x' is not a safe name"),
        (lambda d: d["answers"].pop("random"), "the baseline 'random' has no answers"),
        (set_key("fits", value={"micro_response": {"n": 3, "slope": float("nan")}}), "'fits.micro_response.slope'"),
    ],
)
def test_tampered_results_fail_the_space_in_one_line(work, capsys, change, message):
    results = results_for(work / "repo")
    args = ["space", "--repo", str(work / "repo"), "--results", str(work / "results.json"), "--port", "1"]
    (work / "results.json").write_text(json.dumps(results))
    from macro2micro.space_app.logic import load_artifacts

    assert load_artifacts(str(work / "repo"), str(work / "results.json")).results == results  # valid as written
    change(results)
    (work / "results.json").write_text(json.dumps(results))
    before = snapshot(work)
    rc, line = run(args, capsys)
    assert rc == 2 and "results.json: " in line and message in line, line
    assert snapshot(work) == before
