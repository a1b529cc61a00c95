"""bench/gpu.py at tiny sizes on the CPU (``--smoke``), so the GPU benchmark does not rot between GPU runs."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_smoke_runs_every_recipe_and_the_encoder(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/gpu.py"),
            "--smoke",
            "--recipes",
            "demo",
            "llama-2-7b-lora",
            "llama-3-8b-lora",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["recipe"] for r in result["train"]] == ["demo", "llama-2-7b-lora", "llama-3-8b-lora"]
    for row in result["train"]:
        assert row["device"] == "cpu" and row["tokens_per_s"] > 0 and row["params_lora"] > 0
        assert row["flops_per_token"] > 4 * row["params_frozen_no_embeddings"]
        assert "mfu" not in row  # no peak to divide by on a CPU
    gc = {r["recipe"]: r["gradient_checkpointing"] for r in result["train"]}
    assert gc == {"demo": False, "llama-2-7b-lora": True, "llama-3-8b-lora": True}  # the recipes' own settings
    assert result["encode"][0]["texts_per_s"] > 0 and result["encode"][0]["dtype"] == "float32"
    assert len(proc.stdout.strip().splitlines()) == 4  # one JSON line per row


def test_gpu_benchmark_refuses_to_run_without_a_gpu_unless_smoke(tmp_path):
    import torch

    if torch.cuda.is_available():
        return
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench/gpu.py")], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 2 and "no CUDA device: run on a GPU, or use --smoke" in proc.stderr
