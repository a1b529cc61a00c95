import json

import pytest
import torch

from macro2micro.dataset_builder.errors import OptionsError, OutputError
from macro2micro.dataset_builder.hub.artifacts import read_train_results
from macro2micro.training.sft import load_recipe, make_parser, resolve_chat_template, resolve_recipe, train_one
from macro2micro.training.sweep import match_configs, sweep
from tests.training.conftest import tiny_overrides


def test_every_recipe_parses_into_the_dataclasses(tmp_path):
    from macro2micro.training.sft import RECIPES

    recipes = sorted(RECIPES.glob("*.yaml"))
    assert {r.stem for r in recipes} >= {"demo", "llama-2-7b-lora", "llama-3-8b-lora"}
    import yaml

    for recipe in recipes:
        raw = yaml.safe_load(recipe.read_text())
        # GPU recipes ask for bf16, which TrainingArguments refuses on a machine without a GPU.
        cpu = [] if torch.cuda.is_available() or not raw.get("bf16") else ["--bf16", "false", "--use_cpu", "true"]
        script, sft, model = make_parser().parse_args_and_config(
            [
                "--config",
                str(recipe),
                "--dataset_name",
                "org/x",
                "--dataset_config",
                "random",
                "--output_dir",
                str(tmp_path / recipe.stem),
                *cpu,
            ]
        )
        assert model.use_peft and sft.assistant_only_loss, recipe.name
        assert sft.learning_rate == raw["learning_rate"] and model.lora_r == raw["lora_r"], recipe.name
        assert resolve_chat_template(sft.chat_template_path), recipe.name
    with pytest.raises(OptionsError, match="recipe .llama-9. is neither a file nor one of demo"):
        resolve_recipe("llama-9")


def test_unknown_recipe_keys_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_name_or_path: x\nuse_cpu: true\nbf16: false\nlearning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        make_parser().parse_args_and_config(
            ["--config", str(bad), "--dataset_name", "a", "--dataset_config", "b", "--output_dir", str(tmp_path / "o")]
        )


def test_labels_cover_only_assistant_tokens(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = open(resolve_chat_template("chatml_training.jinja")).read()
    messages = [{"role": "user", "content": "bake bread w1 w2"}, {"role": "assistant", "content": "knead dough w3"}]
    enc = tok.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == "knead dough w3<|im_end|>"
    assert "bake" not in trained and sum(mask) < len(ids)


def test_train_one_adapter_changes_reloads_and_carries_a_card(tiny_model_dir, tiny_repo, tmp_path):
    from peft import AutoPeftModelForCausalLM, PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = tmp_path / "micro_response_max"
    parsed = load_recipe("demo", tiny_overrides(tiny_model_dir))
    results = train_one("demo", str(tiny_repo), "micro_response_max", out, parsed)
    assert results["steps"] == 3 and results["rows"] == 16 and results["config"] == "micro_response_max"
    assert json.loads((out / "train_results.json").read_text()) == results
    weights = load_file(out / "adapter_model.safetensors")
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # B starts at zero: training moved it
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    x = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        base_logits = base(x).logits
        peft_logits = PeftModel.from_pretrained(base, out)(x).logits
        auto_logits = AutoPeftModelForCausalLM.from_pretrained(out)(x).logits
    assert torch.allclose(peft_logits, auto_logits, atol=1e-5)
    assert not torch.allclose(peft_logits, base_logits, atol=1e-4)
    card = (out / "README.md").read_text()
    from huggingface_hub import ModelCard

    data = ModelCard.load(str(out / "README.md")).data
    assert data.library_name == "peft" and data.datasets == ["org/tiny-ladders"]
    assert "macro2micro:micro_response_max" in data.tags
    assert "`micro_response_max`" in card and "| distinct_2 |" in card and "Recipe `demo`" in card
    assert "3 optimizer steps" in card and "`lr_scheduler_type` | `constant`" in card  # as run, readable
    assert 'PeftModel.from_pretrained(base, "' in card
    assert not list(tmp_path.glob(".*partial"))


def test_sweep_skips_finished_configs(tiny_model_dir, tiny_repo, tmp_path):
    assert match_configs(str(tiny_repo), "micro_response_m*") == ["micro_response_min", "micro_response_max"]
    assert "full" not in match_configs(str(tiny_repo), "*")  # the whole corpus only when named
    assert match_configs(str(tiny_repo), "full") == ["full"]
    build_output = tmp_path / "subsets"
    build_output.mkdir()
    (build_output / "build.json").write_text("{}")
    with pytest.raises(ValueError, match="is the output of `macro2micro build`: train on the repo folder"):
        match_configs(str(build_output), "*")
    with pytest.raises(ValueError, match="no config of .* matches 'nope_\\*'; configs: full, "):
        match_configs(str(tiny_repo), "nope_*")
    first = sweep(
        str(tiny_repo), "micro_response_min,random", "demo", tmp_path / "runs", tiny_overrides(tiny_model_dir)
    )
    assert all(isinstance(r, dict) for r in first.values()) and set(first) == {"micro_response_min", "random"}
    stamp = (tmp_path / "runs/random/adapter_model.safetensors").stat().st_mtime_ns
    second = sweep(
        str(tiny_repo), "micro_response_min,random", "demo", tmp_path / "runs", tiny_overrides(tiny_model_dir)
    )
    assert second == {"micro_response_min": "skipped", "random": "skipped"}
    assert (tmp_path / "runs/random/adapter_model.safetensors").stat().st_mtime_ns == stamp
    record = json.loads((tmp_path / "runs/random/train_results.json").read_text())["trained_from"]
    assert record["recipe"] == "demo" and record["overrides"]["max_steps"] == 3 and record["config"] == "random"
    manifest = json.loads((tiny_repo / "manifests/random.json").read_text())
    assert record["manifest_sha256"] == manifest["manifest_sha256"]
    other = tiny_overrides(tiny_model_dir)
    other[other.index("--max_steps") + 1] = "2"
    with pytest.raises(OutputError, match=r"runs/random holds an adapter trained otherwise \(overrides "):
        sweep(str(tiny_repo), "micro_response_max,random", "demo", tmp_path / "runs", other)
    assert not (tmp_path / "runs/micro_response_max").exists()  # refused before any training
    with pytest.raises(OutputError, match='"max_steps": 3.*, now .*"max_steps": 2.*pass --retrain'):
        sweep(str(tiny_repo), "micro_response_min", "demo", tmp_path / "runs", other, print_commands=True)
    again = sweep(str(tiny_repo), "random", "demo", tmp_path / "runs", other, retrain=True)
    assert again["random"]["steps"] == 2
    retrained = read_train_results(tmp_path / "runs/random/train_results.json")
    assert retrained["trained_from"]["overrides"]["max_steps"] == 2
    older = json.loads((tmp_path / "runs/random/train_results.json").read_text())
    del older["trained_from"]  # a record of an older macro2micro stays readable, and is kept
    (tmp_path / "runs/random/train_results.json").write_text(json.dumps(older))
    assert sweep(str(tiny_repo), "random", "demo", tmp_path / "runs", tiny_overrides(tiny_model_dir)) == {
        "random": "skipped"
    }
    commands = sweep(
        str(tiny_repo),
        "micro_response_*",
        "demo",
        tmp_path / "runs",
        tiny_overrides(tiny_model_dir),
        print_commands=True,
        accelerate_config="macro2micro/training/accelerate/multi_gpu.yaml",
    )
    assert commands["micro_response_min"] == "skipped"
    assert commands["micro_response_max"].startswith(
        "accelerate launch --config_file macro2micro/training/accelerate/multi_gpu.yaml "
    )
    assert "--dataset_config micro_response_max" in commands["micro_response_max"]


def test_a_recipe_is_parsed_once_into_typed_configs_and_bad_overrides_name_themselves():
    training_args, model_args = load_recipe("demo", ["--max_steps", "5", "--lora_r", "4"])
    assert training_args.max_steps == 5 and model_args.lora_r == 4 and model_args.use_peft
    with pytest.raises(OptionsError, match="not_a_knob"):
        load_recipe("demo", ["--not_a_knob", "1"])
    with pytest.raises(OptionsError, match=r"\['--max_stepz', '2'\]; did you mean --max_steps\?$"):
        load_recipe("demo", ["--max_stepz", "2"])
    with pytest.raises(OptionsError, match="max_steps"):
        load_recipe("demo", ["--max_steps", "many"])
