"""Publish to a local stand-in for the Hub API and read everything back by repo id.

huggingface_hub reads its endpoint and offline flag at import time, so each client runs in a
subprocess with HF_ENDPOINT pointing at the stub (loopback only), HF_HUB_OFFLINE unset, a fresh
HF_HOME and HF_HUB_DISABLE_XET=1 (legacy LFS uploads). The client prints one JSON line.
"""

import json
import os
import subprocess
import sys
import textwrap
import urllib.request

from tests.helpers import build_repo
from tests.hub_stub import HubStub

TOKEN = "dummy-token"


def run_client(hub: HubStub, tmp_path, code: str, *args, timeout: int = 300) -> dict:
    """Run ``code`` in a fresh interpreter against ``hub``; return the JSON of its last stdout line."""
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
        }
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=os.getcwd(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert TOKEN not in proc.stdout + proc.stderr  # the token is never printed
    assert hub.unhandled == []
    return json.loads(proc.stdout.strip().splitlines()[-1])


PUBLISH = """
    import json, sys
    from huggingface_hub import DatasetCard
    from macro2micro.dataset_builder.hub.client import publish_folder
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
"""


def test_publish_to_a_local_hub_and_load_back(synthetic_corpus, tmp_path):
    repo, metrics = build_repo(synthetic_corpus, tmp_path, budget=30, repo_id="org/ladders", self_bleu_sample=20)
    with HubStub() as hub:
        result = run_client(hub, tmp_path, PUBLISH, repo, "org/ladders")
        assert "micro_response_max/train-00000-of-00001.parquet" in hub.repo("org/ladders", "dataset").files
    assert result["rows"] == 30
    assert (
        result["first_id"] == json.loads((repo / "manifests/micro_response_max.json").read_text())["selected_ids"][0]
    )
    assert result["configs"][0] == "full" and "micro_response_max" in result["configs"]
    assert result["note"] == "added on the Hub by hand"
    assert result["k"] == metrics["micro_response_max"]["k"]
    assert result["commits"][0] != result["commits"][1]


ADAPTER = """
    import copy, json, sys
    import torch
    from huggingface_hub import HfApi, ModelCard, ModelCardData
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    out, repo_id = sys.argv[1:3]
    torch.manual_seed(0)
    # The shape of tests/training/conftest.py::tiny_model_dir, built here: importing transformers in the
    # test process as well would double the cost of this test. Token ids stand in for a tokenizer.
    base = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                                        tie_word_embeddings=True)).eval()
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(copy.deepcopy(base), lora).eval()  # random lora_B: the adapter changes the logits
    model.save_pretrained(out)
    data = ModelCardData(base_model="org/tiny-base", library_name="peft", datasets=["org/ladders"])
    ModelCard(f"---\\n{data.to_yaml()}\\n---\\n# tiny LoRA\\n").save(f"{out}/README.md")
    api = HfApi()
    api.create_repo(repo_id, private=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=out, commit_message="LoRA adapter")
    ids = torch.tensor([[1, 5, 9, 12, 7, 3]])
    with torch.no_grad():
        trained, plain = model(ids).logits, base(ids).logits
        reloaded = PeftModel.from_pretrained(base, repo_id).eval()(ids).logits
    card = ModelCard.load(repo_id)
    print(json.dumps({"commit": commit.oid, "sha": api.model_info(repo_id).sha,
                      "files": sorted(api.list_repo_files(repo_id)),
                      "max_diff": float((reloaded - trained).abs().max()),
                      "adapter_effect": float((trained - plain).abs().max()),
                      "card_base": card.data.base_model, "card_datasets": card.data.datasets}))
"""


def test_lora_adapter_round_trip_through_a_model_repo(tmp_path):
    with HubStub() as hub:
        result = run_client(hub, tmp_path, ADAPTER, tmp_path / "adapter", "org/tiny-lora")
        repo = hub.repo("org/tiny-lora")  # a model repo
        downloads = [r for r in hub.requests if r["path"].startswith("/org/tiny-lora/resolve/")]
    assert repo.private and result["sha"] == result["commit"] == repo.sha
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= set(result["files"])
    assert result["adapter_effect"] > 1e-3  # the adapter changes the logits, so equality below means something
    assert result["max_diff"] <= 1e-6  # same logits after the push and the download
    assert result["card_base"] == "org/tiny-base" and result["card_datasets"] == ["org/ladders"]
    fetched = {r["path"].rsplit("/", 1)[1] for r in downloads if r["method"] == "GET" and r["status"] == 200}
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= fetched
    assert all(r["headers"].get("authorization") == f"Bearer {TOKEN}" for r in downloads)


REVISIONS = """
    import json, os, sys
    from huggingface_hub import CommitOperationAdd as Add, CommitOperationDelete, HfApi, hf_hub_download
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError
    repo = sys.argv[1]
    api = HfApi()
    api.create_repo(repo, repo_type="dataset")
    v1 = api.create_commit(repo, [Add("evaluation/results.json", b'{"score": 1}'), Add("data/train.parquet", b"v1"),
                                  Add("old.txt", b"old")], commit_message="v1", repo_type="dataset").oid
    v2 = api.create_commit(repo, [Add("evaluation/results.json", b'{"score": 2}'), Add("data/train.parquet", b"v2"),
                                  CommitOperationDelete("old.txt")], commit_message="v2", repo_type="dataset",
                           parent_commit=v1).oid

    def read(folder):
        return {os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/"): open(os.path.join(d, f)).read()
                for d, _, files in os.walk(folder) for f in files}

    def error(call):
        try:
            call()
        except RepositoryNotFoundError:
            return "RepoNotFound"
        except RemoteEntryNotFoundError:
            return "EntryNotFound"
        except HfHubHTTPError as e:
            return e.response.status_code

    old = read(snapshot_download(repo, repo_type="dataset", revision=v1))
    new = read(snapshot_download(repo, repo_type="dataset"))
    results_v1 = open(hf_hub_download(repo, "evaluation/results.json", repo_type="dataset", revision=v1)).read()
    print(json.dumps({
        "v1": v1, "v2": v2, "old": old, "new": new, "results_v1": results_v1,
        "files_v1": api.list_repo_files(repo, repo_type="dataset", revision=v1),
        "sha": api.dataset_info(repo).sha, "sha_v1": api.dataset_info(repo, revision=v1).sha,
        "main": [b.target_commit for b in api.list_repo_refs(repo, repo_type="dataset").branches if b.name == "main"],
        "titles": [c.title for c in api.list_repo_commits(repo, repo_type="dataset")],
        "lfs": [bool(e.lfs) for e in api.get_paths_info(repo, ["data/train.parquet", "evaluation/results.json"],
                                                        repo_type="dataset")],
        "top": sorted(e.path for e in api.list_repo_tree(repo, repo_type="dataset")),
        "stale_parent": error(lambda: api.create_commit(repo, [Add("x.txt", b"x")], commit_message="late",
                                                        repo_type="dataset", parent_commit=v1)),
        "missing_dir": error(lambda: list(api.list_repo_tree(repo, "nope", repo_type="dataset"))),
        "missing_repo": error(lambda: api.dataset_info("org/nope")),
        "model_not_dataset": error(lambda: api.model_info(repo)),
    }))
"""


def test_old_revisions_of_a_dataset_repo_stay_downloadable(tmp_path):
    with HubStub(root=tmp_path / "hub") as hub:
        result = run_client(hub, tmp_path, REVISIONS, "org/revisions")
    v1, v2 = result["v1"], result["v2"]
    assert result["old"] == {
        ".gitattributes": result["old"][".gitattributes"],
        "data/train.parquet": "v1",
        "evaluation/results.json": '{"score": 1}',
        "old.txt": "old",
    }
    assert "old.txt" not in result["new"] and result["new"]["evaluation/results.json"] == '{"score": 2}'
    assert result["results_v1"] == '{"score": 1}' and "old.txt" in result["files_v1"]
    assert result["sha"] == v2 and result["sha_v1"] == v1 and result["main"] == [v2]
    assert result["titles"] == ["v2", "v1", "initial commit"]
    assert result["lfs"] == [True, False]
    assert result["top"] == [".gitattributes", "data", "evaluation"]
    assert result["stale_parent"] == 412 and result["missing_dir"] == "EntryNotFound"
    assert result["missing_repo"] == result["model_not_dataset"] == "RepoNotFound"

    # A second process started on the same --root serves what the first one stored.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hub_stub", "--port", "0", "--root", str(tmp_path / "hub"), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        url = proc.stdout.readline().strip()
        with urllib.request.urlopen(f"{url}/api/datasets/org/revisions") as r:
            assert json.load(r)["sha"] == v2
        with urllib.request.urlopen(f"{url}/datasets/org/revisions/resolve/{v1}/old.txt") as r:
            assert r.read() == b"old" and r.headers["X-Repo-Commit"] == v1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SPACE = """
    import json, sys
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError
    space, folder = sys.argv[1:3]
    api = HfApi()
    url = api.create_repo(space, repo_type="space", space_sdk="gradio")
    again = api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True)
    try:
        api.create_repo(space, repo_type="space", space_sdk="gradio")
        conflict = None
    except HfHubHTTPError as e:
        conflict = e.response.status_code
    commit = api.upload_folder(repo_id=space, repo_type="space", folder_path=folder, commit_message="app")
    info = api.space_info(space)
    print(json.dumps({"url": url, "again": again, "repo_type": url.repo_type, "conflict": conflict,
                      "commit_url": commit.commit_url, "sdk": info.sdk, "sha": info.sha,
                      "title": info.card_data.title, "files": sorted(s.rfilename for s in info.siblings),
                      "app": open(hf_hub_download(space, "app.py", repo_type="space")).read()}))
"""


def test_space_repo_create_and_upload(tmp_path):
    folder = tmp_path / "space"
    (folder / "assets").mkdir(parents=True)
    (folder / "README.md").write_text("---\ntitle: Macro to micro\nsdk: gradio\napp_file: app.py\n---\n# Space\n")
    (folder / "app.py").write_text("import gradio as gr\n")
    (folder / "requirements.txt").write_text("macro2micro\n")
    (folder / "assets" / "logo.png").write_bytes(b"\x89PNG fake")
    with HubStub() as hub:
        result = run_client(hub, tmp_path, SPACE, "org/demo", folder)
        repo = hub.repo("org/demo", "space")
    assert result["url"] == result["again"] == f"{hub.url}/spaces/org/demo" and result["repo_type"] == "space"
    assert result["conflict"] == 409
    assert result["commit_url"] == f"{hub.url}/spaces/org/demo/commit/{repo.sha}" and result["sha"] == repo.sha
    assert repo.sdk == result["sdk"] == "gradio" and result["title"] == "Macro to micro"
    assert result["files"] == [".gitattributes", "README.md", "app.py", "assets/logo.png", "requirements.txt"]
    assert repo.files["assets/logo.png"] == b"\x89PNG fake" and repo.commits[repo.sha].files["assets/logo.png"][1]
    assert result["app"] == "import gradio as gr\n"


PRIVATE = """
    import json, sys
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError
    repo = sys.argv[1]
    api, anonymous = HfApi(), HfApi(token=False)
    api.create_repo(repo, repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=b'{"score": 3}', path_in_repo="evaluation/results.json", repo_id=repo,
                    repo_type="dataset")

    def hidden(call):
        try:
            call()
        except RepositoryNotFoundError as e:
            return str(e)
        return False

    print(json.dumps({
        "anonymous": {
            "info": hidden(lambda: anonymous.dataset_info(repo)),
            "files": hidden(lambda: anonymous.list_repo_files(repo, repo_type="dataset")),
            "download": hidden(lambda: hf_hub_download(repo, "evaluation/results.json", repo_type="dataset",
                                                       token=False)),
            "exists": anonymous.repo_exists(repo, repo_type="dataset"),
        },
        "with_token": {
            "private": api.dataset_info(repo).private,
            "files": api.list_repo_files(repo, repo_type="dataset"),
            "results": open(hf_hub_download(repo, "evaluation/results.json", repo_type="dataset")).read(),
            "missing_repo_error": hidden(lambda: api.dataset_info("org/nope")),
        },
    }))
"""


def test_private_repo_needs_a_token(tmp_path):
    with HubStub() as hub:
        result = run_client(hub, tmp_path, PRIVATE, "org/private-evals")
        assert hub.repo("org/private-evals", "dataset").private
        requests = [r for r in hub.requests if "private-evals" in r["path"]]
    anonymous, with_token = result["anonymous"], result["with_token"]
    assert all(anonymous[k] for k in ("info", "files", "download")) and anonymous["exists"] is False
    assert with_token == {
        "private": True,
        "files": [".gitattributes", "evaluation/results.json"],
        "results": '{"score": 3}',
        "missing_repo_error": with_token["missing_repo_error"],
    }
    assert with_token["missing_repo_error"] and TOKEN not in json.dumps(result)
    writes = [r for r in requests if r["method"] in ("POST", "PUT")]
    assert writes and all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in writes)
    refused = [r for r in requests if r["status"] == 401]
    assert refused and all("authorization" not in r["headers"] for r in refused)
