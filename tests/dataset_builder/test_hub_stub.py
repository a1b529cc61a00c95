"""Publish to a local stand-in for the Hub API and load a config back through HF_ENDPOINT.

huggingface_hub reads its endpoint at import time, so the client side runs in a subprocess with
HF_ENDPOINT pointing at the stub (loopback only) and HF_HUB_DISABLE_XET=1 (legacy LFS uploads).
"""

import json
import os
import subprocess
import sys
import textwrap

from tests.helpers import build_repo
from tests.hub_stub import HubStub

CLIENT = textwrap.dedent("""
    import json, sys
    from huggingface_hub import DatasetCard
    from dataset_builder.hub import publish_folder
    import datasets
    folder, repo_id = sys.argv[1], sys.argv[2]
    first = publish_folder(folder, repo_id)
    card = DatasetCard.load(repo_id, repo_type="dataset")
    card.data["maintainer_note"] = "added on the Hub by hand"
    card.push_to_hub(repo_id, repo_type="dataset")
    second = publish_folder(folder, repo_id)                      # re-publish: the note must survive
    ds = datasets.load_dataset(repo_id, "micro_response_max", split="train")
    names = datasets.get_dataset_config_names(repo_id)
    card = DatasetCard.load(repo_id, repo_type="dataset")
    print(json.dumps({"commits": [first, second], "rows": len(ds), "first_id": ds[0]["id"], "configs": names,
                      "note": card.data.get("maintainer_note"),
                      "k": card.data["diversity_metrics"]["micro_response_max"]["k"]}))
""")


def test_publish_to_a_local_hub_and_load_back(synthetic_corpus, tmp_path):
    _, metrics = build_repo(synthetic_corpus, tmp_path, budget=30, repo_id="org/ladders", self_bleu_sample=20)
    with HubStub() as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": "dummy-token", "HF_HUB_DISABLE_XET": "1",
               "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf_home"),
               "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        proc = subprocess.run([sys.executable, "-c", CLIENT, str(tmp_path / "repo"), "org/ladders"], env=env,
                              capture_output=True, text=True, timeout=300, cwd=os.getcwd())
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        repo = hub.repos["org/ladders"]
        assert "micro_response_max/train-00000-of-00001.parquet" in repo.files
        assert "dummy-token" not in proc.stdout + proc.stderr  # the token is never printed
    assert result["rows"] == 30
    assert result["first_id"] == json.loads((tmp_path / "repo/manifests/micro_response_max.json").read_text())[
        "selected_ids"][0]
    assert result["configs"][0] == "full" and "micro_response_max" in result["configs"]
    assert result["note"] == "added on the Hub by hand"
    assert result["k"] == metrics["micro_response_max"]["k"]
    assert result["commits"][0] != result["commits"][1]
