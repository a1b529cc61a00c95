"""GPU readiness benchmark (not a test): LoRA training steps of each recipe's architecture, and the macro embedder's
encoder, with random weights: no download, no dataset.

    python bench/gpu.py --json bench_out/gpu.json                 # one CUDA GPU: Llama-2-7B and Llama-3-8B recipes
    python bench/gpu.py --recipes llama-2-7b-lora --steps 20      # one recipe, longer
    python bench/gpu.py --smoke                                   # tiny sizes on the CPU (the test suite runs this)

For each recipe it builds the architecture from the published dimensions of the model the recipe names
(``ARCHITECTURES``; a ``LlamaConfig`` in code, random bf16 weights on the GPU), wraps it in the recipe's LoRA
(rank, alpha, dropout, target modules), and runs ``--steps`` optimizer steps (after ``--warmup`` untimed ones) at
the recipe's sequence length and per-device batch, with its gradient checkpointing and AdamW at its learning
rate, on packed sequences (every row ``max_length`` tokens, as ``packing: true`` gives; random token ids, since
throughput does not depend on them). It reports train tokens/s and model FLOPs utilization:

    MFU = tokens/s x (4 x frozen params + 6 x LoRA params + 12 x layers x hidden x seq) / peak bf16 FLOP/s

(per token: the frozen weights' forward and input-gradient matmuls, the LoRA weights' forward and both
gradients, and attention's score and value matmuls over the whole sequence; embedding tables excluded;
recomputation under gradient checkpointing is not counted, as MFU does not count it). The peak is looked up from
the GPU's name (H100/H200: 989 TFLOP/s dense bf16) or given with ``--peak-tflops``.

Then it encodes with the macro embedder's architecture (a random-init ``BertModel`` of all-MiniLM-L6-v2's
config: 6 layers, 384 wide) at the embedder's default truncation (128 word pieces), mean pooling and
normalization as sentence-transformers does, and reports texts/s in float32 (what ``embed_texts`` runs) and bf16.

Sized to finish in under 8 minutes on one H200-class GPU (two 7-8B recipes, 10 + 2 steps each, and the encoder).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Published dimensions of the models the recipes name (their config.json on the Hub).
ARCHITECTURES = {
    "meta-llama/Llama-2-7b-hf": dict(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
    ),
    "meta-llama/Meta-Llama-3-8B": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        tie_word_embeddings=False,
    ),
    "embedded:smollm2-135m-instruct": dict(  # HuggingFaceTB/SmolLM2-135M-Instruct
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        tie_word_embeddings=True,
    ),
}
# sentence-transformers/all-MiniLM-L6-v2 (a BertModel)
MINILM = dict(
    hidden_size=384,
    num_hidden_layers=6,
    num_attention_heads=12,
    intermediate_size=1536,
    vocab_size=30522,
    max_position_embeddings=512,
)
SMOKE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}  # dense bf16
GPU_RECIPES = ("llama-2-7b-lora", "llama-3-8b-lora")


def recipe_settings(name: str) -> dict:
    import yaml

    from macro2micro.training.sft import resolve_recipe

    return yaml.safe_load(resolve_recipe(name).read_text())


def peak_tflops(device_name: str, given: float | None) -> float | None:
    if given:
        return given
    return next((v for k, v in PEAK_TFLOPS.items() if k in device_name), None)


def train_steps(recipe: str, steps: int, warmup: int, device: str, smoke: bool) -> dict:
    """LoRA training steps of one recipe's architecture (random weights); tokens/s and the FLOPs per token."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    r = recipe_settings(recipe)
    dims = dict(ARCHITECTURES[r["model_name_or_path"]])
    seq, batch = int(r["max_length"]), int(r["per_device_train_batch_size"])
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if smoke:
        dims.update(SMOKE, vocab_size=256, max_position_embeddings=128)
        seq, batch = 64, 2
    config = LlamaConfig(**dims, attn_implementation="sdpa" if device == "cuda" else "eager")
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # weights made in the recipe's dtype, on the device: no fp32 copy of 7B
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    embeddings = sum(m.weight.numel() for m in (model.get_input_embeddings(), model.get_output_embeddings()))
    if dims.get("tie_word_embeddings"):
        embeddings //= 2  # one tensor, counted once among the parameters
    targets = r["lora_target_modules"]
    lora = LoraConfig(
        r=r["lora_r"],
        lora_alpha=r["lora_alpha"],
        lora_dropout=r.get("lora_dropout", 0.0),
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    if r.get("gradient_checkpointing"):
        if hasattr(model, "activation_checkpointing_enable"):  # transformers 5's name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    lora_params = sum(p.numel() for p in trainable)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad) - embeddings
    flops_per_token = 4 * frozen + 6 * lora_params + 12 * dims["num_hidden_layers"] * dims["hidden_size"] * seq
    optimizer = torch.optim.AdamW(trainable, lr=float(r["learning_rate"]))
    ids = torch.randint(0, dims["vocab_size"], (batch, seq), device=device)
    times = []
    for step in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    seconds = sum(times)
    row = {
        "recipe": recipe,
        "model": r["model_name_or_path"] + (" (smoke: tiny dimensions)" if smoke else ""),
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "seq_len": seq,
        "batch": batch,
        "steps": steps,
        "gradient_checkpointing": bool(r.get("gradient_checkpointing")),
        "lora": {"r": r["lora_r"], "alpha": r["lora_alpha"], "targets": targets},
        "params_frozen_no_embeddings": int(frozen),
        "params_lora": int(lora_params),
        "flops_per_token": int(flops_per_token),
        "seconds": round(seconds, 3),
        "tokens_per_s": round(steps * batch * seq / seconds, 1),
        "final_loss": round(float(loss.detach()), 4),
    }
    if device == "cuda":
        row["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        torch.cuda.reset_peak_memory_stats()
    del model, optimizer
    if device == "cuda":
        torch.cuda.empty_cache()
    return row


def encode(device: str, smoke: bool, batches: int, batch: int = 256, seq: int = 128) -> list[dict]:
    """Texts/s of the macro embedder's architecture (random-init MiniLM-L6 BertModel), mean-pooled and normalized."""
    import torch
    from transformers import BertConfig, BertModel

    dims = dict(MINILM)
    if smoke:
        dims.update(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=256)
        batch, seq = 8, 32
    rows = []
    for dtype in (torch.float32, torch.bfloat16) if device == "cuda" else (torch.float32,):
        torch.manual_seed(0)
        with torch.device(device):
            model = BertModel(BertConfig(**dims)).to(dtype).eval()
        ids = torch.randint(0, dims["vocab_size"], (batch, seq), device=device)
        mask = torch.ones_like(ids)
        times = []
        with torch.inference_mode():
            for i in range(batches + 2):
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
                torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()
                if device == "cuda":
                    torch.cuda.synchronize()
                if i >= 2:  # two warm-up batches
                    times.append(time.perf_counter() - start)
        rows.append(
            {
                "embedder": "all-MiniLM-L6-v2 architecture" + (" (smoke: tiny dimensions)" if smoke else ""),
                "device": device,
                "dtype": str(dtype).removeprefix("torch."),
                "seq_len": seq,
                "batch": batch,
                "texts_per_s": round(batches * batch / sum(times), 1),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipes", nargs="+", default=list(GPU_RECIPES), help="recipe names (demo is also known)")
    ap.add_argument("--steps", type=int, default=10, help="timed optimizer steps per recipe")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--encode-batches", type=int, default=40, help="timed encoder batches (of 256 texts)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s (default: by GPU name)")
    ap.add_argument("--smoke", action="store_true", help="tiny dimensions on the CPU: checks the code, not the GPU")
    ap.add_argument("--json", type=Path, default=None, help="write the result here too")
    args = ap.parse_args(argv)
    import warnings

    import torch

    # PEFT still reads the attribute transformers 5 deprecated; the warning is theirs (as in training/sft.py)
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

    if args.smoke:
        device, name, steps, warmup, batches = "cpu", "cpu", 2, 1, 2
    elif not torch.cuda.is_available():
        ap.error("no CUDA device: run on a GPU, or use --smoke to check the code on a CPU")
    else:
        device, name = "cuda", torch.cuda.get_device_name(0)
        steps, warmup, batches = args.steps, args.warmup, args.encode_batches
    peak = None if args.smoke else peak_tflops(name, args.peak_tflops)
    result = {"device": name, "peak_tflops_bf16": peak, "torch": torch.__version__, "train": [], "encode": []}
    start = time.perf_counter()
    for recipe in args.recipes:
        row = train_steps(recipe, steps, warmup, device, args.smoke)
        if peak:
            row["mfu"] = round(row["tokens_per_s"] * row["flops_per_token"] / (peak * 1e12), 4)
        print(json.dumps(row), flush=True)
        result["train"].append(row)
    for row in encode(device, args.smoke, batches):
        print(json.dumps(row), flush=True)
        result["encode"].append(row)
    result["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
