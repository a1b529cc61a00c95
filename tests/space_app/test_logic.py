import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from macro2micro.space_app import logic
from macro2micro.space_app.logic import UserError


@pytest.fixture
def art(space_artifacts):
    repo, results = space_artifacts
    return logic.load_artifacts(str(repo), str(results))


def test_metrics_table_and_ladder_frame(art):
    table = logic.metrics_table(art)
    assert list(table["config"]) == ["full", "micro_response_min", "micro_response_50", "micro_response_max", "random"]
    assert {"I:mean_length", "R:token_entropy", "k", "coverage"} <= set(table.columns)
    frame = logic.ladder_frame(art, "mean_length", "response")
    ladder = frame[frame["strategy"] == "micro_response"]
    assert list(ladder["level_%"]) == [0, 50, 100] and set(frame["strategy"]) == {"micro_response", "random (control)"}
    flat = frame[frame["strategy"] == "random (control)"]  # no levels: a flat line across the plot
    assert list(flat["level_%"]) == [0, 100] and flat["value"].nunique() == 1
    table = logic.baseline_table(art)
    assert list(table["config"]) == ["random"] and "uniformly at random" in table.iloc[0]["selects"]
    with pytest.raises(UserError, match="unknown metric 'length'; valid: distinct_1"):
        logic.ladder_frame(art, "length", "response")
    with pytest.raises(UserError, match="unknown side 'prompt'"):
        logic.ladder_frame(art, "mean_length", "prompt")


def test_sample_rows_search_and_limits(art):
    rows = logic.sample_rows(art, "micro_response_max", "", 5)
    assert len(rows) == 5 and list(rows.columns) == ["id", "source", "turns", "system", "instruction", "response"]
    assert set(rows["turns"]) == {1} and set(rows["system"]) == {""}
    word = rows.iloc[0]["instruction"].split()[0]
    hits = logic.sample_rows(art, "micro_response_max", word.upper(), 50)
    assert len(hits) >= 1 and all(word in (r.instruction + r.response).lower() for r in hits.itertuples())
    with pytest.raises(UserError, match="unknown config 'nope'"):
        logic.sample_rows(art, "nope")
    with pytest.raises(UserError, match="limit=0"):
        logic.sample_rows(art, "random", "", 0)


def test_compare_scores_correlations(art):
    view = logic.compare_outputs(art, "p1: Question", ["micro_response_max", "micro_response_min"])
    assert "micro_response_max answers prompt 1" in view["columns"][0]["answer"]
    assert view["baseline"]["answer"] == "<p>random answers prompt 1</p>\n" and "random" in view["baseline"]["title"]
    # verdicts B (model as A) then B (model as B): the model won when second, lost when first
    assert "position bias" in view["columns"][0]["title"] and "(score 0.50)" in view["columns"][0]["title"]
    assert view["columns"][2] == {"title": "", "answer": ""}  # unused slots stay empty
    assert "random" not in logic.model_choices(art)
    with pytest.raises(UserError, match="choose one to 4 models"):
        logic.compare_outputs(art, "p1", [])
    with pytest.raises(UserError, match="unknown prompt"):
        logic.compare_outputs(art, "p9", ["base"])
    points, fits = logic.score_frame(art)
    assert list(points["win_rate"]) == [40.0, 50.0, 65.0]
    assert fits.iloc[0]["slope_per_100%"] == "+25.00" and fits.iloc[0]["note"] == ""
    assert set(logic.correlation_frame(art)["side"]) == {"instruction", "response"}
    assert logic.prompt_choices(art)[0].startswith("p0: Question number 0")


def test_missing_results_and_bad_repo(space_artifacts, tmp_path):
    repo, results = space_artifacts
    art = logic.load_artifacts(str(repo))
    with pytest.raises(UserError, match="no evaluation results loaded"):
        logic.score_frame(art)
    from macro2micro.dataset_builder.hub.artifacts import ArtifactError

    with pytest.raises(ArtifactError, match="no such results file"):
        logic.load_artifacts(str(repo), str(tmp_path / "none.json"))
    other = json.loads(results.read_text())  # another dataset's results: refused, not shown beside this one
    other["dataset"] = "elsewhere/hub_dataset"
    other["scores"]["micro_response_17"] = other["scores"]["micro_response_50"]
    other["answers"]["micro_response_17"] = other["answers"]["micro_response_50"]
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(
        ValueError, match="score micro_response_17, which are not configs of .*'elsewhere/hub_dataset'"
    ):
        logic.load_artifacts(str(repo), str(tmp_path / "other.json"))
    with pytest.raises(UserError, match="the limit is 1000"):
        logic.check_live_prompt("x" * 1001, 10)
    with pytest.raises(UserError, match="type a prompt first"):
        logic.check_live_prompt("  ", 10)


def test_live_generation_from_a_trained_adapter(tiny_model_dir, tiny_repo, tmp_path):
    from macro2micro.space_app.app import live_generate
    from macro2micro.training.sweep import sweep
    from tests.training.conftest import tiny_overrides

    sweep(str(tiny_repo), "random", "demo", tmp_path / "runs", tiny_overrides(tiny_model_dir))
    art = logic.load_artifacts(str(tiny_repo), runs=str(tmp_path / "runs"))
    from tests.space_app.conftest import reference_answer

    answer = live_generate(art, "bake bread w1", "random", 5)
    assert answer == reference_answer(tmp_path / "runs" / "random", "bake bread w1", 5)
    with pytest.raises(UserError, match="unknown adapter 'nope'; valid: random"):
        live_generate(art, "hi", "nope", 5)
    with pytest.raises(UserError, match="max_new_tokens=500"):
        live_generate(art, "hi", "random", 500)


def test_verdict_words_and_safe_rendering():
    from macro2micro.space_app.compare import verdict_words
    from macro2micro.space_app.sanitize import markdown_html, text_html

    assert verdict_words("m", "b", "A", "B") == "judge preferred m in both orders"
    assert verdict_words("m", "b", "B", "A") == "judge preferred b (the baseline) in both orders"
    assert verdict_words("m", "b", "tie", "tie") == "judge called a tie in both orders"
    assert "called a tie in the other" in verdict_words("m", "b", "A", "tie")
    assert "position bias" in verdict_words("m", "b", "A", "A")
    assert "no parseable verdict in the other" in verdict_words("m", "b", None, "B")
    text = 'See ![cat](http://img.example.invalid/cat.png) <form action="x"><img src=y></form>\n```python\nx = 1 < 2'
    safe = markdown_html(text)
    assert "![" not in safe and "[image: cat — http://img.example.invalid/cat.png]" in safe
    assert "<form" not in safe and "&lt;form" in safe and "<img" not in safe
    assert '<pre><code class="language-python">x = 1 &lt; 2' in safe  # code kept verbatim, the open fence closed
    assert markdown_html("use `<b>` here") == "<p>use <code>&lt;b&gt;</code> here</p>\n"
    assert "empty answer" in markdown_html("  \n ") and "empty answer" in markdown_html(None)
    assert logic.shown_answer(" ", 6) == "(the adapter generated nothing in 6 new tokens)"
    assert logic.shown_answer("w w", 6) == "w w"
    assert text_html("${x} {{y}} `z`") == "&#36;&#123;x&#125; &#123;&#123;y&#125;&#125; &#96;z&#96;"


PIECES = list("<>![]()`\\\n *_:/\"'=&#;{}$") + ["img", "src", "http", " x", "iframe", "svg", "srcset"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
@example("```=")  # a fence whose info string is "=": class="language-=" holds an "=" of its own
def test_no_markup_that_loads_survives_the_sanitizer(text):
    import re

    from macro2micro.space_app.sanitize import ALLOWED_TAGS, markdown_html

    safe = markdown_html(text)
    tags = re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>", safe)  # text keeps no literal '<': only real tags
    assert {name.lower() for name, _ in tags} <= ALLOWED_TAGS
    # attribute names: what precedes '=' once the quoted values (which may hold '=' themselves) are taken out
    attributes = {a.lower() for _, attrs in tags for a in re.findall(r"([\w-]+)=", re.sub(r'"[^"]*"', '""', attrs))}
    assert attributes <= {"href", "title", "class", "style", "start", "rel"}
    assert all(re.fullmatch(r"text-align:\w+", v) for v in re.findall(r'style="([^"]*)"', safe))


def test_two_judged_configs_the_space_says_why_fits_and_r_are_blank(space_artifacts, tmp_path):
    from macro2micro.training.analysis import analyze

    repo, results_file = space_artifacts
    res = json.loads(results_file.read_text())
    keep = ["micro_response_min", "micro_response_max"]
    res["scores"] = {m: {**res["scores"][m], "win_rate": 75.0} for m in keep}
    res["verdicts"] = {m: res["verdicts"][m] for m in keep}
    result = analyze({m: 75.0 for m in keep}, logic.load_artifacts(str(repo)).metrics)
    res.update(fits=result["fits"], correlations=result["correlations"], analysis_notes=result["notes"])
    res["analysis_gaps"] = result["gaps"]
    (tmp_path / "two.json").write_text(json.dumps(res))
    art = logic.load_artifacts(str(repo), str(tmp_path / "two.json"))
    points, fits = logic.score_frame(art)
    assert list(points["win_rate"]) == [75.0, 75.0]
    row = fits.iloc[0]
    assert row["strategy"] == "micro_response" and row["r"] == "" and "a fit needs at least 3" in row["note"]
    corr = logic.correlation_frame(art)
    assert (corr["r"] == "").all() and corr["why blank"].str.contains("r needs at least 3").all() and len(corr) == 14
    assert any("Pearson r is missing for 14 metric(s)" in n for n in logic.analysis_notes(art))


def test_baselines_show_beside_the_ladders(tmp_path):
    from tests.conftest import bow_knobs, make_synthetic_corpus
    from tests.helpers import build_repo

    repo, _ = build_repo(
        make_synthetic_corpus(n=120), tmp_path, strategies=("micro_response", "longest", "kcenter"), knobs=bow_knobs()
    )
    art = logic.load_artifacts(str(repo))
    table = logic.baseline_table(art)
    assert list(table["config"]) == ["longest", "kcenter"]
    assert table.iloc[0]["from"].startswith("Zhao, Andriushchenko") and "ICLR 2018" in table.iloc[1]["from"]
    assert table.iloc[0]["R mean len"] == max(m["response"]["mean_length"] for m in art.metrics.values())
    frame = logic.ladder_frame(art, "mean_length", "response")
    assert {"longest (baseline)", "kcenter (baseline)", "micro_response"} == set(frame["strategy"])


def test_replicates_show_as_level_means_with_their_spread_and_the_fit_says_what_noise_it_covers(tmp_path):
    from macro2micro.training.analysis import analyze
    from tests.conftest import make_synthetic_corpus
    from tests.helpers import build_repo

    repo, metrics = build_repo(make_synthetic_corpus(n=120), tmp_path, replicates=2)
    ladder = [c for c in metrics if c.startswith("micro_response")]
    assert len(ladder) == 6
    per_prompt = {c: [1.0, 0.0, 0.5, float(metrics[c]["level"] > 0.4)] for c in ladder}
    scores = {c: 100 * sum(v) / len(v) for c, v in per_prompt.items()}
    result = analyze(scores, metrics, per_prompt, resamples=200)
    results = {
        "dataset": str(repo),
        "baseline": "random",
        "prompt_rows": [{"id": f"p{i}", "instruction": f"q{i}"} for i in range(4)],
        "scores": {
            c: {"win_rate": v, "ci95": [0.0, 100.0], "prompts_scored": 4, "prompts_total": 4}
            for c, v in scores.items()
        },
        "answers": {c: ["an answer"] * 4 for c in [*ladder, "random"]},
        "verdicts": {
            c: {"model_first": ["A"] * 4, "baseline_first": ["B"] * 4, "per_prompt": v} for c, v in per_prompt.items()
        },
        "fits": result["fits"],
        "level_spreads": result["level_spreads"],
        "correlations": result["correlations"],
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    art = logic.load_artifacts(str(repo), str(tmp_path / "results.json"))
    frame = logic.ladder_frame(art, "mean_length", "response")
    means = frame[frame["strategy"] == "micro_response"]
    assert list(means["level_%"]) == [0, 50, 100]  # one point per level: the mean of its two draws
    expected = (
        metrics["micro_response_max"]["response"]["mean_length"]
        + metrics["micro_response_max_r1"]["response"]["mean_length"]
    ) / 2
    assert means.iloc[-1]["value"] == pytest.approx(expected)
    assert list(logic.baseline_table(art)["config"]) == ["random"]  # its replicate is not another baseline
    points, fits = logic.score_frame(art)
    assert len(points[points["strategy"] == "micro_response"]) == 3
    assert fits.iloc[0]["noise"] == "prompts + replicates" and fits.iloc[0]["n"] == 6
    spread = logic.spread_frame(art)
    assert list(spread["n"]) == [2, 2, 2] and list(spread["level_%"]) == [0, 50, 100]
