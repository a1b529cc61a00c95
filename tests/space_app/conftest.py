import json

import pytest

HOSTILE_MODEL = "micro_response_50"
HOSTILE_ANSWER = (
    'Look: ![cat](http://img.example.invalid/cat.png) <form action="http://form.example.invalid">'
    '<input name="q"></form>\n```python\nprint("this fence is never closed")'
)


@pytest.fixture(scope="session")
def space_artifacts(tmp_path_factory):
    """A small published repo (micro_response ladder + random) and a results.json shaped as
    `macro2micro evaluate` writes it (answers and verdicts made up for 3 prompts)."""
    from macro2micro.training.analysis import analyze
    from tests.conftest import make_synthetic_corpus
    from tests.helpers import build_repo

    tmp = tmp_path_factory.mktemp("space")
    repo, metrics = build_repo(make_synthetic_corpus(n=120), tmp, repo_id="org/space-test")
    models = ["micro_response_min", "micro_response_50", "micro_response_max", "random", "base"]
    prompts = [{"id": f"p{i}", "instruction": f"Question number {i} about bread?"} for i in range(3)]
    scores = {"micro_response_min": 40.0, "micro_response_50": 50.0, "micro_response_max": 65.0, "base": 30.0}
    result = analyze({k: v for k, v in scores.items() if k != "base"}, metrics)
    results = {
        "dataset": str(repo),
        "baseline": "random",
        "prompts": "embedded",
        "prompt_rows": prompts,
        "judge": "test",
        "decoding": {},
        "note": "made-up scores for tests",
        "scores": {
            m: {
                "win_rate": s,
                "ci95": [s - 5, s + 5],
                "prompts_scored": 3,
                "prompts_total": 3,
                "unparseable": 0,
                "position_consistency": 1.0,
            }
            for m, s in scores.items()
        },
        "answers": {m: [f"{m} answers prompt {i}" for i in range(3)] for m in models},
        "verdicts": {
            m: {"model_first": ["A", "B", "tie"], "baseline_first": ["B", "B", "A"], "per_prompt": [1.0, 0.5, 0.25]}
            for m in scores
        },
        "fits": result["fits"],
        "correlations": result["correlations"],
    }
    results["answers"][HOSTILE_MODEL][0] = HOSTILE_ANSWER  # opens a fence it never closes, after an image and a form
    (tmp / "results.json").write_text(json.dumps(results))
    return repo, tmp / "results.json"


from tests.training.conftest import tiny_model_dir, tiny_repo  # noqa: E402,F401  (shared fixtures)


def reference_answer(adapter_dir, prompt: str, max_new_tokens: int) -> str:
    """An adapter's greedy answer computed independently of the Space: PEFT on the base model, the adapter's own
    tokenizer and chat template, one unpadded prompt."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
    tok = AutoTokenizer.from_pretrained(str(adapter_dir))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter_dir)).eval()
    chat = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    enc = tok(chat, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()
