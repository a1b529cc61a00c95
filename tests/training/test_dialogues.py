"""Training on whole conversations: the loss covers every assistant turn and no system, user or tool token, for
every chat template a recipe uses; a dialogue ladder loads into SFTTrainer and trains a demo-recipe adapter."""

import json

import pytest
import yaml

from macro2micro.training.sft import RECIPES, load_recipe, resolve_chat_template, train_one
from tests.training.conftest import tiny_overrides

SYSTEM = "talk like a pirate"
THREE_TURNS = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "bake bread"},
    {"role": "assistant", "content": "knead dough w3"},
    {"role": "user", "content": "python loop"},
    {"role": "assistant", "content": "debug class w5"},
    {"role": "user", "content": "planet orbit"},
    {"role": "assistant", "content": "star comet w9"},
]
WITH_TOOLS = [
    {"role": "user", "content": "football score"},
    {"role": "tool_call", "content": '{"name": "scores", "arguments": {"team": "w1"}}'},
    {"role": "tool", "content": "goal goal w7"},
    {"role": "assistant", "content": "two goals w2"},
]
# the end-of-turn text each template puts inside its {% generation %} block, after the reply
END_OF_TURN = ("<|im_end|>", "<|eot_id|>")


def recipe_templates() -> list[str]:
    return sorted({yaml.safe_load(p.read_text())["chat_template_path"] for p in RECIPES.glob("*.yaml")})


def label_spans(model_dir, template: str, conversations: list[list[dict]], max_length: int = 512):
    """TRL's own data path (SFTTrainer with assistant_only_loss): per row, the decoded runs of trained tokens and
    the decoded text of every masked token."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(model_dir / "unused"),
        max_length=max_length,
        assistant_only_loss=True,
        chat_template_path=resolve_chat_template(template),
        use_cpu=True,
        bf16=False,
        report_to="none",
    )
    trainer = SFTTrainer(
        model=str(model_dir), args=args, train_dataset=datasets.Dataset.from_dict({"messages": conversations})
    )
    tok = trainer.processing_class
    out = []
    for row in trainer.train_dataset:
        spans, run, masked = [], [], []
        for token, label in zip(row["input_ids"], row["labels"], strict=True):
            if label != -100:
                run.append(token)
                continue
            masked.append(token)
            if run:
                spans.append(tok.decode(run))
                run = []
        if run:
            spans.append(tok.decode(run))
        out.append((spans, tok.decode(masked), tok))
    return out


def assert_exactly_the_replies(spans: list[str], masked: str, messages: list[dict], eos: str) -> None:
    """One trained run per assistant turn, each exactly its reply and the end-of-turn token; every system and user
    text among the masked tokens."""
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(spans) == len(replies), spans
    for span, reply in zip(spans, replies, strict=True):
        text = span.strip()
        assert text.startswith(reply.strip()) and text[len(reply.strip()) :].strip() in (*END_OF_TURN, eos), span
    for m in messages:
        if m["role"] in ("system", "user"):
            assert m["content"].strip() in masked


@pytest.mark.parametrize("template", recipe_templates())
def test_the_loss_covers_every_assistant_turn_and_nothing_else(tiny_model_dir, template):
    assert template in ("chatml_training.jinja", "llama2_training.jinja", "llama3_training.jinja")
    conversations = [THREE_TURNS] if template.startswith("llama2") else [THREE_TURNS, WITH_TOOLS]
    rows = label_spans(tiny_model_dir, template, conversations)
    for (spans, masked, tok), messages in zip(rows, conversations, strict=True):
        assert_exactly_the_replies(spans, masked, messages, tok.eos_token)
    assert SYSTEM in rows[0][1]  # rendered, and masked
    if len(rows) > 1:
        assert "goal goal w7" in rows[1][1]  # the tool's result is context: rendered, and masked


def test_the_llama2_template_refuses_tool_turns_it_cannot_render(tiny_model_dir):
    from jinja2 import TemplateError

    with pytest.raises(TemplateError, match="the Llama-2 chat format has no tool_call turn"):
        label_spans(tiny_model_dir, "llama2_training.jinja", [WITH_TOOLS])


def test_a_dialogue_ladder_loads_into_sfttrainer_and_trains_a_demo_adapter(tiny_model_dir, tmp_path):
    import datasets

    from macro2micro.dataset_builder.corpus.table import turns_per_row
    from macro2micro.dataset_builder.hub.repo import COLUMNS, load_config
    from tests.conftest import make_synthetic_corpus
    from tests.helpers import build_repo

    corpus = make_synthetic_corpus(n=200, max_turns=3, system="be brief")
    repo, metrics = build_repo(corpus, tmp_path, budget=16, levels=3)
    configs = datasets.get_dataset_config_names(str(repo))
    assert {"full", "random", "micro_response_min", "micro_response_max"} <= set(configs)
    for config in configs:  # each loads with load_dataset into TRL's SFTTrainer, the loss on exactly the replies
        ds = load_config(repo, config)
        assert ds.column_names == COLUMNS and set(ds["system"]) == {"be brief"}
        assert (turns_per_row(ds) == [sum(m["role"] == "assistant" for m in row) for row in ds["messages"]]).all()
        rows = label_spans(tiny_model_dir, "chatml_training.jinja", ds["messages"], max_length=1024)
        for (spans, masked, tok), messages in zip(rows, ds["messages"], strict=True):
            assert_exactly_the_replies(spans, masked, messages, tok.eos_token)
    assert turns_per_row(load_config(repo, "full")).max() == 3
    out = tmp_path / "micro_response_max"
    overrides = tiny_overrides(tiny_model_dir)
    overrides[overrides.index("--max_length") + 1] = "1024"
    results = train_one("demo", str(repo), "micro_response_max", out, load_recipe("demo", overrides))
    assert results["steps"] == 3 and results["rows"] == results["rows_trained"] == 16
    assert results["rows_cut_at_max_length"] == 0
    assert json.loads((out / "train_results.json").read_text()) == results
    short = train_one(
        "demo",
        str(repo),
        "micro_response_max",
        tmp_path / "short",
        load_recipe("demo", tiny_overrides(tiny_model_dir)),
    )
    assert short["rows_cut_at_max_length"] > 0  # 64 tokens: later turns cut, and the run says so
