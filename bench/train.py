"""Benchmark of LoRA SFT throughput (not a test): train tokens per second, with and without packing, and on one
torch thread against every core (what training uses).

    python bench/train.py --dataset demo_out/hub_dataset                      # demo recipe, CPU
    python bench/train.py --dataset org/repo --recipe llama-2-7b-lora --steps 20 --peak-tflops 989   # a GPU

Tokens are those the trainer counted (``num_tokens``: padding excluded). On a GPU it also
reports model FLOPs utilization, MFU = 6 x parameters x tokens/s / peak FLOP/s (the forward +
backward estimate of the whole model; LoRA skips the frozen weights' gradient matmuls, so this
slightly overstates the work actually needed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(dataset: str, config: str, recipe: str, steps: int, packing: bool, extra: list[str], threads: int) -> dict:
    import torch

    from macro2micro.training.sft import make_parser, resolve_chat_template, resolve_recipe

    with tempfile.TemporaryDirectory() as out:
        argv = [
            "--config",
            str(resolve_recipe(recipe)),
            "--dataset_name",
            dataset,
            "--dataset_config",
            config,
            "--output_dir",
            out,
            "--max_steps",
            str(steps),
            "--logging_steps",
            "1",
            "--packing",
            str(packing),
            *extra,
        ]
        script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
        from trl import SFTTrainer, get_peft_config

        from macro2micro.dataset_builder.models.assets import resolve_model
        from macro2micro.training.sft import load_train_dataset

        torch.set_num_threads(
            threads
        )  # macro2micro.training.sft.main sets every core (macro2micro.dataset_builder.utils.torch_threads)
        training_args.chat_template_path = resolve_chat_template(training_args.chat_template_path)
        training_args.model_init_kwargs = {"dtype": model_args.dtype}
        trainer = SFTTrainer(
            model=resolve_model(model_args.model_name_or_path),
            args=training_args,
            train_dataset=load_train_dataset(script_args),
            peft_config=get_peft_config(model_args),
        )
        trainer.train()  # the first step includes warm-up; timings below use steps 2..N
        logs = [h for h in trainer.state.log_history if "num_tokens" in h]
        params = sum(p.numel() for p in trainer.model.parameters())
    tokens = logs[-1]["num_tokens"] - logs[0]["num_tokens"]
    seconds = trainer.state.log_history[-1]["train_runtime"] * (len(logs) - 1) / len(logs)
    row = {
        "recipe": recipe,
        "config": config,
        "packing": packing,
        "steps": steps,
        "tokens": int(tokens),
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "params": params,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
    }
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="demo_out/hub_dataset")
    ap.add_argument("--config", default="random")
    ap.add_argument("--recipe", default="demo")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--peak-tflops", type=float, default=None, help="GPU peak bf16 TFLOP/s for MFU (H100 SXM: 989)")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra --key value pairs, as KEY=VALUE")
    ap.add_argument("--json", type=Path, default=None, help="write the rows here too")
    args = ap.parse_args()
    extra = [x for kv in args.extra for x in (f"--{kv.split('=', 1)[0]}", kv.split("=", 1)[1])]
    from macro2micro.dataset_builder.utils import torch_threads

    every_core = torch_threads()
    rows = []  # what training uses (every core), with and without packing; then one thread, for the gain
    for packing, threads in [(False, every_core), (True, every_core)] + ([(False, 1)] if every_core > 1 else []):
        row = run(args.dataset, args.config, args.recipe, args.steps, packing, extra, threads)
        if args.peak_tflops:
            row["mfu"] = round(6 * row["params"] * row["tokens_per_s"] / (args.peak_tflops * 1e12), 4)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
