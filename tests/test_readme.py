"""The README's "Use from Python" section runs as written, and gives the numbers the console script writes."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_synthetic_corpus

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Use from Python") :]
    section = section[: section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """The first block (corpus, ladders, metrics, the measurement) run in a folder holding ``my_sft.jsonl``."""
    import os

    work = tmp_path_factory.mktemp("readme")
    corpus = make_synthetic_corpus(n=400)
    with open(work / "my_sft.jsonl", "w") as f:
        for q, a in zip(corpus["instruction"], corpus["response"], strict=True):
            f.write(json.dumps({"instruction": q, "input": "", "output": a}) + "\n")
    here = os.getcwd()
    os.chdir(work)
    try:
        namespace: dict = {}
        exec(compile(python_blocks()[0], "README.md", "exec"), namespace)  # noqa: S102  (the README's own code)
    finally:
        os.chdir(here)
    return work, namespace


def test_the_python_section_builds_a_length_controlled_ladder_in_memory(readme_run):
    work, ns = readme_run
    import datasets

    subsets = ns["subsets"]
    assert isinstance(subsets, datasets.DatasetDict) and not (work / "subsets").exists()
    assert {"micro_response_min", "micro_response_lengthctl_max", "random"} <= set(subsets)
    assert all(len(ds) == 100 for ds in subsets.values())
    assert ns["measured"] == ns["metrics"]["micro_response_lengthctl_max"]["response"]  # the README asserts it too
    assert sorted(p.name for p in work.iterdir()) == ["my_sft.jsonl"]  # nothing written but the data


def test_the_api_gives_the_numbers_the_console_script_writes(readme_run):
    """Same corpus, options and seed through the CLI: the same rows in every config, the same seven metrics."""
    work, ns = readme_run
    cli = [sys.executable, "-m", "macro2micro"]
    build = [*cli, "build", "--corpus", "my_sft.jsonl", "--strategies", "micro_response", "random"]
    build += ["--budget", "100", "--levels", "3", "--length_window", "auto", "--out", "cli_subsets"]
    subprocess.run(build, cwd=work, check=True, capture_output=True)
    publish = [*cli, "publish", "--subsets", "cli_subsets", "--embedder", "static", "--out", "cli_repo"]
    subprocess.run(publish, cwd=work, check=True, capture_output=True)
    written = json.loads((work / "cli_repo" / "metrics" / "diversity.json").read_text())
    subsets, metrics = ns["subsets"], ns["metrics"]
    assert list(written) == list(metrics)
    for config in subsets:
        cli_manifest = json.loads((work / "cli_subsets" / "manifests" / f"{config}.json").read_text())
        assert cli_manifest["selected_ids"] == subsets.manifests[config]["selected_ids"], config
        # all but the source names: the file's rows are "my_sft", the in-memory dataset's "dataset"
        same = {k for k in cli_manifest if k not in ("varies", "manifest_sha256")}
        assert {k: cli_manifest[k] for k in same} == {k: subsets.manifests[config][k] for k in same}, config
    for config in written:
        for side in ("instruction", "response"):
            assert written[config][side] == metrics[config][side], (config, side)


@pytest.mark.slow  # trains two adapters of the demo recipe and judges them
def test_the_python_section_publishes_trains_and_evaluates(readme_run):
    import os

    work, ns = readme_run
    here = os.getcwd()
    os.chdir(work)
    try:
        exec(compile(python_blocks()[1], "README.md", "exec"), ns)  # noqa: S102
    finally:
        os.chdir(here)
    assert (work / "my_repo" / "README.md").exists()
    assert set(ns["runs"]) == {"micro_response_min", "micro_response_max"}
    assert set(ns["results"]["scores"]) == {"micro_response_max", "base"}  # each judged against the baseline, min
