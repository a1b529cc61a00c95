import json

import numpy as np
import pytest

from macro2micro.dataset_builder.ladders.build import build_family
from macro2micro.dataset_builder.options import BuildOptions
from macro2micro.dataset_builder.selection.ladder import PoolTooSmallError
from tests.conftest import word_knobs


def _options(seed=0, **kw):
    return BuildOptions(
        strategies=["micro_response", "micro_instruction", "random"], budget=30, levels=3, seed=seed, **kw
    )


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_is_byte_identical_per_seed_and_differs_across_seeds(synthetic_corpus, tmp_path):
    m1 = build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "a")
    build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "b")
    build_family(synthetic_corpus, _options(seed=1), word_knobs(), tmp_path / "c")
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    build_a, build_b = json.loads(a.pop("build.json")), json.loads(b.pop("build.json"))
    c.pop("build.json")
    build_a.pop("seconds")
    build_b.pop("seconds")
    assert a == b and build_a == build_b
    assert a["micro_response_max/train-00000-of-00001.parquet"] != c["micro_response_max/train-00000-of-00001.parquet"]
    configs = [m["config"] for m in m1]
    assert configs == [
        "micro_response_min",
        "micro_response_50",
        "micro_response_max",
        "micro_instruction_min",
        "micro_instruction_50",
        "micro_instruction_max",
        "random",
    ]


def test_configs_load_and_manifests_describe_them(synthetic_corpus, tmp_path):
    import datasets

    build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "out")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out/micro_response_50/*.parquet"), split="train")
    assert ds.column_names == ["id", "source", "system", "instruction", "response", "messages"] and len(ds) == 30
    manifest = json.loads((tmp_path / "out/manifests/micro_response_50.json").read_text())
    assert manifest["selected_ids"] == list(ds["id"])
    for key in (
        "strategy",
        "side",
        "level",
        "k",
        "pool_size",
        "options",
        "seed",
        "corpus",
        "versions",
        "type_info",
        "manifest_sha256",
    ):
        assert key in manifest, key
    assert manifest["side"] == "response" and manifest["level"] == 0.5 and manifest["options"]["tokenizer"] == "word"
    from macro2micro.dataset_builder.ladders.build import manifest_hash

    assert manifest_hash(manifest) == manifest["manifest_sha256"]


def test_failed_build_leaves_earlier_output(synthetic_corpus, tmp_path):
    out = tmp_path / "out"
    build_family(synthetic_corpus, _options(), word_knobs(), out)
    before = _files(out)
    with pytest.raises(PoolTooSmallError, match="budget N=100000"):
        build_family(
            synthetic_corpus, BuildOptions(strategies=["random", "micro_response"], budget=100_000), word_knobs(), out
        )
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_build_options_validated():
    from macro2micro.dataset_builder.ladders.registry import resolve_strategies

    with pytest.raises(ValueError, match="unknown strategy 'macro'; valid: .*or all"):
        resolve_strategies(BuildOptions(strategies=["macro"]).strategies)
    with pytest.raises(ValueError, match="budget=0"):
        BuildOptions(budget=0)
    assert "micro_response" in resolve_strategies(BuildOptions(strategies=["all"]).strategies)
    assert BuildOptions(strategies=["micro_response,random", "macro_response"]).strategies == [
        "micro_response",
        "random",
        "macro_response",
    ]
    with pytest.raises(ValueError, match="name at least one strategy"):
        BuildOptions(strategies=[","])
    with pytest.raises(ValueError, match=r"replicates=0: a whole number of draws, 1 \(no replicates\) to 100"):
        BuildOptions(replicates=0)


def test_cli_build(synthetic_corpus, tmp_path, capsys):
    from macro2micro.cli.main import main

    synthetic_corpus.to_json(str(tmp_path / "c.jsonl"))
    rc = main(
        [
            "build",
            "--corpus",
            str(tmp_path / "c.jsonl"),
            "--strategies",
            "micro_response",
            "random",
            "--tokenizer",
            "word",
            "--low",
            "3",
            "--high",
            "200",
            "--budget",
            "25",
            "--levels",
            "3",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 0
    assert "wrote 4 configs" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "o/manifests").iterdir()) == [
        "micro_response_50.json",
        "micro_response_max.json",
        "micro_response_min.json",
        "random.json",
    ]


def test_length_controlled_ladder_holds_mean_length_while_k_rises(tmp_path):
    from tests.conftest import make_synthetic_corpus

    corpus = make_synthetic_corpus(n=800)
    manifests = build_family(
        corpus,
        BuildOptions(strategies=["micro_response"], budget=100, levels=7, length_window="auto"),
        word_knobs(),
        tmp_path / "o",
    )
    plain = [m for m in manifests if "lengthctl" not in m["config"]]
    ctl = [m for m in manifests if "lengthctl" in m["config"]]
    assert [m["config"] for m in ctl][::6] == ["micro_response_lengthctl_min", "micro_response_lengthctl_max"]

    def means(ms):
        return np.array([m["varies"]["length"]["response"]["mean"] for m in ms])

    assert means(plain).max() / means(plain).min() > 1.3  # longer texts carry more types: the plain ladder drifts
    assert np.abs(means(ctl) / means(ctl).mean() - 1).max() <= 0.05
    ks = [m["k"] for m in ctl]
    assert all(a < b for a, b in zip(ks, ks[1:], strict=False))
    lo, hi = ctl[0]["length_control"]["window"]
    lengths = np.array([len(t.split()) for t in corpus["response"]])
    rows = {rid: i for i, rid in enumerate(corpus["id"])}
    for m in ctl:
        sel = lengths[[rows[i] for i in m["selected_ids"]]]
        assert sel.min() >= lo and sel.max() <= hi
    info = json.loads((tmp_path / "o/build.json").read_text())
    assert info["length_control"]["micro_response_lengthctl"]["met"]
    realised = info["length_control"]["micro_response_lengthctl"]["realised"]  # auto keeps it rising where it can
    assert realised == [m["types_covered"] for m in ctl]
    assert all(a < b for a, b in zip(realised, realised[1:], strict=False))
    assert any("mean response length moves" in w for w in info["warnings"]["micro_response"])


def _two_sources(n: int = 300):
    """Half 'chat' rows with long, varied responses; half 'short' rows answering with two of four words."""
    import datasets

    from macro2micro.dataset_builder.corpus.ingest import corpus_features
    from tests.conftest import make_synthetic_corpus

    base = make_synthetic_corpus(n=n)
    rows = {k: list(base[k]) for k in ("id", "system", "instruction", "response")}
    rows["source"] = ["chat" if i % 2 else "short" for i in range(n)]
    words = ["bake", "bread", "oven", "flour"]
    rows["response"] = [
        r if i % 2 else f"{words[i % 4]} {words[(i // 4) % 4]}" for i, r in enumerate(rows["response"])
    ]
    rows["messages"] = [
        [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        for q, a in zip(rows["instruction"], rows["response"], strict=True)
    ]
    return datasets.Dataset.from_dict(rows, features=corpus_features())


def test_warnings_for_repeated_levels_few_types_and_source_drift(tmp_path, caplog):
    import logging

    from macro2micro.dataset_builder.options import MicroOptions

    knobs = word_knobs()
    knobs.micro = MicroOptions(low=3, high=200)
    with caplog.at_level(logging.WARNING):
        build_family(
            _two_sources(), BuildOptions(strategies=["micro_response"], budget=140, levels=7), knobs, tmp_path / "o"
        )
    warnings = json.loads((tmp_path / "o/build.json").read_text())["warnings"]["micro_response"]
    assert any("source 'short' moves from" in w for w in warnings)
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert set(warnings) <= set(logged)
    # N close to the rows that carry a type: k_min near k_max, fewer type counts than levels, repeated pools.
    typed = json.loads((tmp_path / "o/manifests/micro_response_max.json").read_text())["samples_with_types"]
    build_family(
        _two_sources(),
        BuildOptions(strategies=["micro_response"], budget=typed - 2, levels=7),
        knobs,
        tmp_path / "few",
    )
    warnings = json.loads((tmp_path / "few/build.json").read_text())["warnings"]["micro_response"]
    assert any("type count(s)" in w and "for 7 levels" in w for w in warnings)
    assert any("share k=" in w and "the same level drawn twice" in w for w in warnings)
    manifests = [json.loads(p.read_text()) for p in sorted((tmp_path / "few/manifests").glob("*.json"))]
    assert any(m["varies"].get("same_pool_as_previous") for m in manifests)


def test_random_control_and_sampler_facts_in_the_manifests(synthetic_corpus, tmp_path):
    build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "o")
    info = json.loads((tmp_path / "o/build.json").read_text())
    rc = info["random_control"]
    assert rc["population"] == "the whole corpus" and rc["corpus_rows"] == len(synthetic_corpus)
    assert set(rc["outside_ladder"]) == {"micro_response", "micro_instruction"}
    m = json.loads((tmp_path / "o/manifests/micro_response_50.json").read_text())
    assert m["type_quota"] == 1 and m["n_balanced"] + m["n_filled"] == 30
    assert {"length", "sources", "length_ratio_vs_uniform", "overlap_with_previous"} <= set(m["varies"])
    assert abs(sum(m["varies"]["sources"].values()) - 1) < 1e-3


def test_baselines_build_as_configs_with_manifests_byte_identical_on_a_rerun(synthetic_corpus, tmp_path):
    from tests.conftest import bow_knobs

    options = BuildOptions(
        strategies=["micro_response", "longest", "kcenter", "deita", "instag", "random"], budget=30, levels=3
    )
    made = build_family(synthetic_corpus, options, bow_knobs(), tmp_path / "a")
    build_family(synthetic_corpus, options, bow_knobs(), tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    a.pop("build.json"), b.pop("build.json")
    assert a == b
    configs = [m["config"] for m in made]
    assert configs[3:] == ["longest", "kcenter", "deita", "instag", "random"]
    means = {m["config"]: m["varies"]["length"]["response"]["mean"] for m in made}
    assert max(means, key=means.get) == "longest"
    for name in ("longest", "kcenter", "deita", "instag"):
        m = json.loads((tmp_path / "a/manifests" / f"{name}.json").read_text())
        assert m["granularity"] == "baseline" and m["level"] is None and len(m["selected_ids"]) == 30
        assert m["reference"] and m["differs_from_original"] and "length_ratio_vs_uniform" in m["varies"]
    assert json.loads((tmp_path / "a/manifests/longest.json").read_text())["varies"]["length_ratio_vs_uniform"] > 1.2
    info = json.loads((tmp_path / "a/build.json").read_text())
    assert set(info["random_control"]["outside_ladder"]) == {"micro_response"}  # baselines are not ladders


def test_replicates_are_named_apart_and_replicate_0_keeps_the_bytes_of_a_build_without_them(
    synthetic_corpus, tmp_path
):
    from tests.conftest import bow_knobs

    def options(replicates):
        return BuildOptions(
            strategies=["micro_response", "longest", "kcenter", "random"],
            budget=30,
            levels=3,
            replicates=replicates,
            length_window="auto",
        )

    build_family(synthetic_corpus, options(1), bow_knobs(), tmp_path / "one")
    made = build_family(synthetic_corpus, options(3), bow_knobs(), tmp_path / "three")
    one, three = _files(tmp_path / "one"), _files(tmp_path / "three")
    one.pop("build.json")
    assert {k: three[k] for k in one} == one  # every file of the plain build, byte for byte
    configs = [m["config"] for m in made]
    ladder = ["micro_response_min", "micro_response_50", "micro_response_max"]
    assert configs[:9] == ladder + [f"{c}_r1" for c in ladder] + [f"{c}_r2" for c in ladder]
    assert "micro_response_lengthctl_max_r2" in configs
    # longest's rows do not depend on a draw: one config, not three equal ones
    assert configs[-7:] == ["longest", "kcenter", "kcenter_r1", "kcenter_r2", "random", "random_r1", "random_r2"]
    m = {x["config"]: x for x in made}
    for r in (1, 2):
        rep = m[f"micro_response_50_r{r}"]
        assert rep["replicate"] == r and rep["replicate_of"] == "micro_response_50"
        assert rep["k"] == m["micro_response_50"]["k"] and rep["pool_size"] == m["micro_response_50"]["pool_size"]
        assert rep["selected_ids"] != m["micro_response_50"]["selected_ids"]
        assert m[f"random_r{r}"]["selected_ids"] != m["random"]["selected_ids"]
    assert "replicate" not in m["micro_response_50"]
    info = json.loads(three["build.json"])
    assert info["replicates"] == {"draws": 3, "not_replicated": ["longest"]}
    assert set(info["configs"]) == set(configs)


def test_cli_build_with_baselines_replicates_and_an_llm_scorer(synthetic_corpus, tmp_path, capsys):
    from macro2micro.cli.main import main
    from tests.conftest import BOW_EMBEDDER, bow_knobs
    from tests.dataset_builder.test_tagging import _Server

    bow_knobs()  # registers the bag-of-words embedder under its spec

    def reply_for(prompt):  # complexity from the query's length, quality from the response's: scores vary
        text = prompt.rsplit("Query: ", 1)[-1] if "complexity" in prompt else prompt.rsplit("Response: ", 1)[-1]
        return f"Score: {1 + len(text.split()) % 6}"

    server = _Server(reply_for)
    synthetic_corpus.to_json(str(tmp_path / "c.jsonl"))
    try:
        rc = main(
            [
                "build",
                "--corpus",
                str(tmp_path / "c.jsonl"),
                "--strategies",
                "longest,deita,kcenter,random",
                "--tokenizer",
                "word",
                "--embedder",
                BOW_EMBEDDER,
                "--deita_scorer",
                "openai",
                "--deita_scorer_url",
                server.url,
                "--deita_scorer_model",
                "judge-8b",
                "--replicates",
                "2",
                "--budget",
                "25",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    finally:
        server.close()
    assert rc == 0
    assert "wrote 6 configs" in capsys.readouterr().out
    names = sorted(p.stem for p in (tmp_path / "o/manifests").iterdir())
    assert names == ["deita", "kcenter", "kcenter_r1", "longest", "random", "random_r1"]
    deita = json.loads((tmp_path / "o/manifests/deita.json").read_text())
    assert deita["scorer"]["name"] == "llm:judge-8b" and deita["scorer"]["stats"]["calls"] == 2 * len(synthetic_corpus)
    assert "judge-8b" in deita["differs_from_original"] and deita["options"]["scorer"] == "openai"
    assert len(server.calls) == 2 * len(synthetic_corpus)
