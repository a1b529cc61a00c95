"""Two processes on CPU (gloo) train one demo-recipe adapter through ``accelerate launch``: both ranks train, only
rank 0 saves, writes the card and pushes (to the Hub stand-in, once), and the adapter loads and generates.

accelerate 1.15 starts several local processes only through torchrun's launcher (the MULTI_GPU path); the
recipe's ``use_cpu: true`` makes each a gloo CPU rank (``training/accelerate/cpu_ddp.yaml``). The other
accelerate configs are checked to parse; which of them were run is in the README.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub_stub import HubStub
from tests.training.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parents[2]
ACCELERATE = ROOT / "macro2micro/training/accelerate"
TOKEN = "dummy-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(hub: HubStub, tmp_path: Path) -> dict:
    drop = {"HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        {
            "HF_ENDPOINT": hub.url,
            "HF_TOKEN": TOKEN,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HOME": str(tmp_path / "hf_home"),
            "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "OMP_NUM_THREADS": "1",  # two ranks on a small machine
            "MASTER_ADDR": "127.0.0.1",
        }
    )
    return env


def test_two_cpu_processes_train_one_adapter_and_only_rank_0_writes_and_pushes(tiny_model_dir, tiny_repo, tmp_path):
    out = tmp_path / "adapter"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ACCELERATE / "cpu_ddp.yaml"),
        "--main_process_port",
        str(_free_port()),
        str(ROOT / "macro2micro/training/sft.py"),
        "--config",
        str(ROOT / "macro2micro/training/recipes/demo.yaml"),
        "--dataset_name",
        str(tiny_repo),
        "--dataset_config",
        "micro_response_max",
        "--output_dir",
        str(out),
        "--recipe_name",
        "demo",
        "--push_to_hub",
        "true",
        "--hub_model_id",
        "org/ddp-adapter",
        *tiny_overrides(tiny_model_dir),
    ]
    with HubStub() as hub:
        proc = subprocess.run(
            command, env=_env(hub, tmp_path), capture_output=True, text=True, timeout=900, cwd=tmp_path
        )
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-5000:]
        commits = [r for r in hub.requests if r["method"] == "POST" and r["path"].endswith("/commit/main")]
        repo = hub.repo("org/ddp-adapter")
    for rank in (0, 1):
        assert f"process {rank} of 2 (MULTI_CPU): trained 3 steps" in log
    assert log.count("saving the adapter and its card") == 1 and "process 0: saving the adapter" in log
    assert [c["path"] for c in commits] == ["/api/models/org/ddp-adapter/commit/main"]  # one push, by rank 0
    assert TOKEN not in log
    results = json.loads((out / "train_results.json").read_text())
    assert results["processes"] == 2 and results["steps"] == 3 and results["rows"] == 16
    assert results["hub"] == {"repo_id": "org/ddp-adapter", "revision": repo.sha}
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md"} <= set(repo.files)

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out).eval()
    ids = tok("bake bread w1", return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    assert generated.shape[1] > ids["input_ids"].shape[1]
    assert isinstance(tok.decode(generated[0, ids["input_ids"].shape[1] :]), str)


@pytest.mark.parametrize("config", sorted(p.name for p in ACCELERATE.glob("*.yaml")))
def test_every_accelerate_config_parses(config):
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = load_config_from_file(str(ACCELERATE / config))
    assert loaded.num_processes >= 1 and loaded.compute_environment.value == "LOCAL_MACHINE"
