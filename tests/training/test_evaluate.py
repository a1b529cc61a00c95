import json
from pathlib import Path

import numpy as np
import pytest

from macro2micro.training.generate import Decoding, load_prompts
from macro2micro.training.judge import Judge, parse_verdict, win_rate
from tests.dataset_builder.test_tagging import _Server
from tests.training.conftest import tiny_overrides


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("After comparing, my final verdict is [[A]]", "A"),
        ("[[B]]", "B"),
        ("It's a tie: [[C]].", "tie"),
        ("First I thought [[A]] but on reflection [[B]]", "B"),
        ("Assistant A is better.", None),
        ("", None),
    ],
)
def test_parse_recorded_verdicts(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_win_rate_swap_and_tie_arithmetic():
    # prompt 1: model wins in both orders (A first, then B when swapped) -> 1
    # prompt 2: position bias, judge always says A -> model 1 then 0 -> 0.5
    # prompt 3: tie + loss -> 0.25; prompt 4: unparseable both -> excluded
    wr = win_rate(["A", "A", "tie", None], ["B", "A", "A", None], resamples=200)
    assert wr.per_prompt == [1.0, 0.5, 0.25, None]
    assert wr.win_rate == pytest.approx(100 * (1 + 0.5 + 0.25) / 3, abs=1e-3)  # reported to 3 decimals
    assert wr.prompts_scored == 3 and wr.unparseable == 2
    assert wr.position_consistency == pytest.approx(1 / 3, abs=1e-4)  # only prompt 1 agrees across orders
    assert wr.ci95[0] <= wr.win_rate <= wr.ci95[1]
    with pytest.raises(ValueError, match="2 forward verdicts but 1 swapped"):
        win_rate(["A", "B"], ["A"])


def test_judge_through_a_local_openai_server():
    def reply_for(prompt):
        # prefers the longer answer, whichever side it is on
        a = prompt.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End")[0]
        b = prompt.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End")[0]
        return "Verdict: [[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "I can't decide"

    from macro2micro.dataset_builder.models.llm import OpenAIBackend

    server = _Server(reply_for)
    try:
        judge = Judge(OpenAIBackend(server.url, "judge-70b"))
        wr = judge.compare(["q1", "q2", "q3"], ["long answer", "x", "same"], ["short", "longer one", "same"])
    finally:
        server.close()
    assert wr.per_prompt == [1.0, 0.0, None] and wr.win_rate == 50.0 and wr.unparseable == 2
    assert len(judge.failures) == 2 and len(server.calls) == 6


def test_prompt_sets(tmp_path):
    assert len(load_prompts("embedded")) == 24 and len(load_prompts("embedded", limit=5)) == 5
    arena = tmp_path / "question.jsonl"
    arena.write_text(json.dumps({"question_id": "q1", "turns": [{"content": "Hi?"}]}) + "\n")
    assert load_prompts(str(arena)) == [{"id": "q1", "instruction": "Hi?"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl, record 0: no prompt"):
        load_prompts(str(bad))


def test_evaluate_end_to_end_with_tiny_models(tiny_model_dir, tiny_repo, tmp_path):
    from macro2micro.training.evaluate import evaluate
    from macro2micro.training.judge import LocalChoiceBackend
    from macro2micro.training.sweep import sweep

    sweep(str(tiny_repo), "micro_response_*,random", "demo", tmp_path / "runs", tiny_overrides(tiny_model_dir))
    results = evaluate(
        tmp_path / "runs",
        str(tiny_repo),
        tmp_path / "eval",
        "embedded",
        "random",
        LocalChoiceBackend(str(tiny_model_dir)),
        Decoding(max_new_tokens=8, batch_size=4),
        limit=6,
        note="tiny models",
    )
    assert set(results["scores"]) == {"micro_response_min", "micro_response_50", "micro_response_max", "base"}
    for s in results["scores"].values():
        assert 0 <= s["win_rate"] <= 100 and s["unparseable"] == 0 and s["prompts_scored"] == 6
    assert set(results["fits"]) == {"micro_response"} and results["fits"]["micro_response"]["n"] == 3
    assert len(results["answers"]["random"]) == 6
    assert results["decoding"]["precision"] == "float32" and results["judge_precision"] == "float32"
    saved = json.loads((tmp_path / "eval/results.json").read_text())
    assert saved["scores"] == results["scores"] and (tmp_path / "eval/score_vs_level.png").exists()
    from huggingface_hub import ModelCard

    card = ModelCard.load(str(tmp_path / "runs/micro_response_max/README.md"))
    assert f"| `random` | {results['scores']['micro_response_max']['win_rate']:.1f} |" in card.text
    assert card.data.macro2micro["scores"]["random"]["win_rate"] == results["scores"]["micro_response_max"]["win_rate"]
    assert "Not evaluated yet" not in card.text and "| distinct_2 |" in card.text  # re-rendered whole
    with pytest.raises(ValueError, match="baseline 'nope' is neither an adapter .*'base', nor a file"):
        evaluate(tmp_path / "runs", str(tiny_repo), tmp_path / "e2", baseline="nope")
    judge = LocalChoiceBackend(str(tiny_model_dir))
    decoding = Decoding(max_new_tokens=8, batch_size=4)
    vs_base = evaluate(
        tmp_path / "runs", str(tiny_repo), tmp_path / "e3", "embedded", "base", judge, decoding, limit=6
    )
    assert vs_base["baseline"] == "base" and "random" in vs_base["scores"] and "base" not in vs_base["scores"]
    prompts = load_prompts("embedded", limit=6)
    refs = tmp_path / "gpt4_reference.json"
    refs.write_text(
        json.dumps(
            [
                {"instruction": p["instruction"], "output": f"reference {i}", "generator": "gpt4"}
                for i, p in enumerate(prompts)
            ]
        )
    )
    vs_ref = evaluate(tmp_path / "runs", str(tiny_repo), tmp_path / "e4", "embedded", str(refs), judge, decoding)
    assert vs_ref["baseline"] == "reference" and vs_ref["baseline_info"]["generator"] == "gpt4"
    assert vs_ref["answers"]["reference"] == [f"reference {i}" for i in range(6)]
    assert set(vs_ref["scores"]) == {"micro_response_min", "micro_response_50", "micro_response_max", "random", "base"}
    with pytest.raises(ValueError, match="no reference answer for 18 of 24 prompts"):
        evaluate(
            tmp_path / "runs",
            str(tiny_repo),
            tmp_path / "e5",
            str(load_prompts.__globals__["EMBEDDED_PROMPTS"]),
            str(refs),
            judge,
            decoding,
        )


def test_margin_judge_cancels_position_bias():
    from macro2micro.training.judge import Judge

    class Biased:
        """Prefers position A by a margin of 5; prefers answers containing 'good' by 1."""

        model = "biased"

        def margins(self, prompts):
            out = []
            for p in prompts:
                a = p.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End")[0]
                b = p.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End")[0]
                out.append(5 + ("good" in a) - ("good" in b))
            return out

    wr = Judge(Biased()).compare(["q1", "q2", "q3"], ["good", "bad", "same"], ["bad", "good", "same"])
    assert wr.per_prompt == [1.0, 0.0, 0.5] and wr.win_rate == 50.0 and wr.position_consistency == 1.0


def test_constant_scores_fit_has_no_r():
    from macro2micro.training.analysis import fit_ladder

    fit = fit_ladder([0, 0.5, 1], [50, 50, 50])
    assert fit["slope"] == 0.0 and fit["r"] is None


def test_evaluate_with_replicates_fits_every_draw_and_reports_spreads_and_the_bootstrap_interval(
    tiny_model_dir, tmp_path
):
    from macro2micro.training.evaluate import evaluate
    from macro2micro.training.judge import LocalChoiceBackend
    from macro2micro.training.sweep import sweep
    from tests.conftest import make_synthetic_corpus
    from tests.helpers import build_repo

    repo, metrics = build_repo(make_synthetic_corpus(n=120), tmp_path, replicates=2)
    assert metrics["micro_response_max"]["replicates"]["configs"] == ["micro_response_max", "micro_response_max_r1"]
    sweep(str(repo), "micro_response_*,random", "demo", tmp_path / "runs", tiny_overrides(tiny_model_dir))
    results = evaluate(
        tmp_path / "runs",
        str(repo),
        tmp_path / "eval",
        "embedded",
        "random",
        LocalChoiceBackend(str(tiny_model_dir)),
        Decoding(max_new_tokens=8, batch_size=4),
        limit=6,
    )
    fit = results["fits"]["micro_response"]
    assert fit["n"] == 6 and fit["replicates_per_level"] == [2, 2, 2]
    assert fit["noise_sources"] == ["prompts", "replicates"] and len(fit["slope_ci95_bootstrap"]) == 2
    assert isinstance(fit["within_noise"], bool)
    assert [row["n"] for row in results["level_spreads"]["micro_response"]] == [2, 2, 2]
    report = (tmp_path / "eval/report.md").read_text()
    assert "Scores per level across replicates" in report and "| `micro_response` | 50 % | 2 |" in report
    assert "95 % CI, prompts + replicates (bootstrap)" in report


def test_shared_prefix_leaves_every_sequence_a_token_of_its_own():
    from macro2micro.training.judge import shared_prefix

    assert shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert shared_prefix([[1, 2, 3], [1, 2, 3]]) == 2 and shared_prefix([[7]]) == 0 and shared_prefix([]) == 0


def test_judge_runs_a_shared_beginning_once_with_the_logits_of_whole_prompts(tiny_model_dir):
    """One question's judge prompts for several models share everything up to the model's answer: the backend runs
    that once and reuses its keys and values; each row's logits are those of its prompt run alone, unpadded."""
    from macro2micro.training.judge import MIN_SHARED_TOKENS, Judge, LocalChoiceBackend, shared_prefix

    backend = LocalChoiceBackend(str(tiny_model_dir), batch_size=3)
    judge = Judge(backend)
    answers = ["Use a tuple.", "Lists change; tuples do not.", "No idea", "A list is mutable, a tuple is not.", "x"]
    prompts = [judge._prompt("What is a tuple?", a, "A baseline answer.") for a in answers]
    tok, model, device, choices = backend._load()
    ids = [tok(c, add_special_tokens=False)["input_ids"] for c in backend._chats(tok, prompts)]
    assert shared_prefix(ids) >= MIN_SHARED_TOKENS  # the reuse path is the one under test
    reused = backend._logits(prompts)
    alone = [backend._logits_whole(tok, model, device, choices, [p])[0] for p in prompts]
    assert np.allclose(reused, alone, atol=1e-5)
    assert len({tuple(r) for r in reused}) == len(answers)  # each row saw its own answer


def test_judging_many_models_at_once_gives_each_models_own_verdicts(tiny_model_dir):
    from macro2micro.training.judge import Judge, LocalChoiceBackend

    judge = Judge(LocalChoiceBackend(str(tiny_model_dir)))
    questions = ["What is a tuple?", "Name a colour.", "Add 2 and 2."]
    baseline = ["A baseline answer.", "Blue.", "4"]
    answers = {"m1": ["Immutable list.", "Red", "five"], "m2": ["no", "Green, or blue.", "2 + 2 = 4"], "m3": baseline}
    together = judge.against_baseline(questions, answers, baseline)
    for name, own in answers.items():
        assert together[name] == judge.both_orders(questions, own, baseline)
    assert together["m3"] == (["tie"] * 3, ["tie"] * 3)  # the baseline against itself


def test_generation_shares_one_base_model_and_gives_it_back_without_the_adapter(tiny_model_dir, tmp_path, monkeypatch):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from macro2micro.dataset_builder.models.llm import generate_chat, load_chat_model
    from macro2micro.training.generate import Decoding, generate_answers, generate_together

    torch.manual_seed(1)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora).save_pretrained(tmp_path / "adapter")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "adapter")  # as training saves it
    rows = load_prompts("embedded", limit=3)
    decoding = Decoding(max_new_tokens=6)
    template = (
        Path(generate_chat.__globals__["__file__"]).parents[2] / "training/templates/chatml_training.jinja"
    ).read_text()

    def fresh(adapter):
        tok, model, device = load_chat_model(str(tiny_model_dir), adapter, template)
        return generate_chat(tok, model, device, [r["instruction"] for r in rows], 8, 6, 0.0, 512)

    shared = [
        generate_answers(str(tiny_model_dir), a, rows, decoding, use_cache=False, chat_template=template)
        for a in (tmp_path / "adapter", None)
    ]
    assert shared == [fresh(str(tmp_path / "adapter")), fresh(None)] and shared[0] != shared[1]

    # Several adapters in shared batches: each row goes through its own adapter (float32, a tiny model: the same
    # greedy answers as one model at a time), the base model comes back bare, and the group is cached.
    torch.manual_seed(2)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora).save_pretrained(tmp_path / "other")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "other")
    models = {"a": tmp_path / "adapter", "base": None, "b": tmp_path / "other"}
    together = generate_together(
        str(tiny_model_dir), models, rows, Decoding(max_new_tokens=6, batch_size=4), True, template
    )
    assert list(together) == ["a", "base", "b"]
    assert together == {"a": shared[0], "base": shared[1], "b": fresh(str(tmp_path / "other"))}
    assert together["b"] != together["a"]
    assert (
        generate_answers(str(tiny_model_dir), None, rows, decoding, use_cache=False, chat_template=template)
        == shared[1]
    )
    from macro2micro.dataset_builder.models import llm

    monkeypatch.setattr(llm, "generate_chat", None)  # a second call is answered from the cache
    again = generate_together(
        str(tiny_model_dir), models, rows, Decoding(max_new_tokens=6, batch_size=4), True, template
    )
    assert again == together


def test_bfloat16_answers_and_verdicts_run_under_autocast_close_to_float32(tiny_model_dir):
    """eval_precision=bfloat16: the answering model decodes and the judge scores under bfloat16 autocast; the
    judge's logits stay near float32's (a tiny random model's, so a loose bound)."""
    from macro2micro.dataset_builder.models.llm import generate_chat, load_chat_model
    from macro2micro.training.judge import TEMPLATES, Judge, LocalChoiceBackend

    template = (TEMPLATES / "chatml_training.jinja").read_text()
    tok, model, device = load_chat_model(str(tiny_model_dir), chat_template=template)
    answers = generate_chat(tok, model, device, ["Name a colour.", "Add 2 and 2."], 2, 6, precision="bfloat16")
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    full, half = LocalChoiceBackend(str(tiny_model_dir)), LocalChoiceBackend(str(tiny_model_dir), precision="bfloat16")
    prompts = [Judge(full)._prompt("What is a tuple?", a, "A baseline answer.") for a in ("Immutable.", "No idea")]
    assert np.allclose(full._logits(prompts), half._logits(prompts), atol=0.1)
