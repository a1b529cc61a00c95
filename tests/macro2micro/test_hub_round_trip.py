"""The Hub round trip from repo ids alone, against the local Hub stand-in on loopback.

publish a dataset repo -> train two adapters and push them (recorded in the dataset repo) -> delete every
local folder -> evaluate from the dataset repo id and push the results -> the adapter card's snippet
loads the adapter -> the Space, started from the dataset repo id alone, answers through gradio_client ->
--deploy uploads a Space whose app starts from repo ids.

Each command runs as a subprocess: huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE at import.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import make_synthetic_corpus
from tests.hub_stub import HubStub

pytestmark = pytest.mark.slow


def _env(hub, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE")
    }
    return {
        **env,
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": "dummy-token",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }


def _cli(env, cwd, *args, timeout=600):
    proc = subprocess.run(
        [sys.executable, "-m", "macro2micro", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert "dummy-token" not in proc.stdout + proc.stderr
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(cmd, env, cwd, port):
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read()[-3000:]) from None
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("the Space did not answer in 120 s")


def test_everything_from_repo_ids(tmp_path, tiny_model_dir):
    work = tmp_path / "work"
    work.mkdir()
    make_synthetic_corpus(n=160).to_json(str(work / "corpus.jsonl"))
    word = ["--tokenizer", "word", "--low", "3", "--high", "200"]
    tiny = [
        "--set",
        f"model_name_or_path={tiny_model_dir}",
        "max_steps=2",
        "max_length=64",
        "per_device_train_batch_size=2",
        "learning_rate=5e-3",
    ]
    with HubStub() as hub:
        env = _env(hub, tmp_path)
        _cli(
            env,
            work,
            "build",
            "--corpus",
            "corpus.jsonl",
            "--strategies",
            "micro_response",
            "random",
            "--budget",
            "16",
            "--levels",
            "3",
            *word,
            "--out",
            "subsets",
        )
        _cli(
            env,
            work,
            "publish",
            "--corpus",
            "corpus.jsonl",
            "--subsets",
            "subsets",
            word[0],
            word[1],
            "--embedder",
            "none",
            "--self_bleu_sample",
            "10",
            "--repo_id",
            "org/ladders",
            "--out",
            "repo",
        )
        out = _cli(
            env,
            work,
            "train",
            "--dataset",
            "org/ladders",
            "--configs",
            "micro_response_max",
            "random",
            "--recipe",
            "demo",
            *tiny,
            "--push_to_hub",
            "--hub_org",
            "org",
            "--out",
            "runs",
        )
        assert "loss" in out
        dataset = hub.repo("org/ladders", "dataset")
        assert {"adapters/micro_response_max.json", "adapters/random.json"} <= set(dataset.files)
        record = json.loads(dataset.files["adapters/random.json"])
        adapter_id = record["repo_id"]
        assert adapter_id == f"org/{tiny_model_dir.name}-random-lora" and len(record["revision"]) == 40
        shutil.rmtree(work)  # nothing local from here on: repo ids only
        work.mkdir()

        out = _cli(
            env,
            work,
            "evaluate",
            "--dataset",
            "org/ladders",
            "--judge_model",
            str(tiny_model_dir),
            "--prompt_limit",
            "3",
            "--max_new_tokens",
            "6",
            "--push_to_hub",
            "--out",
            "eval",
        )
        assert "published to the dataset repo" in out
        files = hub.repo("org/ladders", "dataset").files
        results = json.loads(files["evaluation/results.json"])
        assert set(results["scores"]) == {"micro_response_max", "base"}
        assert results["adapters"]["micro_response_max"]["repo_id"].endswith("-micro_response_max-lora")
        assert {"evaluation/report.md", "evaluation/score_vs_level.png"} <= set(files)
        card = files["README.md"].decode()
        assert "## Scores" in card and "| `micro_response_max` | 100 % |" in card and "dataset_info:" in card
        adapter_card = hub.repo(results["adapters"]["micro_response_max"]["repo_id"], "model").files["README.md"]
        adapter_card = adapter_card.decode()
        assert "| `random` |" in adapter_card and "library_name: peft" in adapter_card

        # the card's snippet, as written, loads the adapter
        snippet = re.search(r"```python\n(.*?)```", adapter_card, re.S).group(1)
        check = (
            snippet
            + "\nprint(type(model).__name__, sum(p.numel() for n, p in model.named_parameters() if 'lora' in n))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", check], env=env, cwd=work, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0 and proc.stdout.startswith("PeftModel"), proc.stderr[-3000:]

        # the Space, from the dataset repo id alone
        from gradio_client import Client

        port = _free_port()
        server = _serve(
            [sys.executable, "-m", "macro2micro", "space", "--repo", "org/ladders", "--port", str(port)],
            env,
            work,
            port,
        )
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            prompt = f"{results['prompt_rows'][0]['id']}: {results['prompt_rows'][0]['instruction'][:80]}"
            view = client.predict(prompt, ["micro_response_max", "base"], api_name="/compare")
            assert "Baseline: <code>random</code>" in view[1] and "micro_response_max" in view[3] and "base" in view[5]
            assert "judge" in view[3] and view[4] and view[6]  # verdicts in words, both answers
            answer = client.predict("bake bread", "micro_response_max", 4, api_name="/generate")
            assert isinstance(answer, str)
        finally:
            server.terminate()
            server.wait(timeout=30)

        out = _cli(env, work, "space", "--deploy", "org/ladders-space", "--repo", "org/ladders")
        assert "deployed org/ladders-space" in out
        space = hub.repo("org/ladders-space", "space")
        readme = space.files["README.md"].decode()
        assert "sdk: gradio" in readme and re.search(r"sdk_version: \d+\.\d+", readme) and "app_file: app.py" in readme
        requirements = space.files["requirements.txt"].decode()
        wheel = re.search(r"\./wheels/(macro2micro-[^\[\s]+\.whl)\[space,train\]", requirements).group(1)
        assert f"wheels/{wheel}" in space.files and "github.com" not in requirements
        app = tmp_path / "space"
        app.mkdir()
        (app / "app.py").write_bytes(space.files["app.py"])
        port = _free_port()
        server = _serve([sys.executable, "app.py"], {**env, "PORT": str(port)}, app, port)
        try:
            view = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(prompt, ["base"], api_name="/compare")
            assert "Baseline: <code>random</code>" in view[1] and "base" in view[3]
        finally:
            server.terminate()
            server.wait(timeout=30)
