"""Adapters on the Hub: predictable repo names, pushes, and the dataset repo's list of its family's adapters.

An adapter of config ``C`` fine-tuned from ``org-x/Base-Model`` is pushed as ``{hub_org}/Base-Model-C-lora``.
When the dataset is a Hub repo, the push is also recorded there, one small file per adapter
(``adapters/{config}.json``: repo id, revision, base model), so that evaluation and the Space find
a family's adapters from the dataset repo id alone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.hub.artifacts import ADAPTERS_DIR
from macro2micro.dataset_builder.hub.checks import read_model, validate
from macro2micro.dataset_builder.hub.client import HubError, _reason
from macro2micro.dataset_builder.hub.run_schemas import AdapterConfig, AdapterRecord
from macro2micro.dataset_builder.naming import check_name, check_repo_id
from macro2micro.model_cards.model_card import adapter_repo_name, rerender_model_card

logger = logging.getLogger(__name__)
IGNORE = ["checkpoint-*", "*.pt", "training_args.bin", ".*"]


def adapter_repo_id(hub_org: str, base_model: str, config: str) -> str:
    return check_repo_id(f"{hub_org}/{adapter_repo_name(base_model, config)}", "adapter repo id")


def push_adapter(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """Push one adapter folder (its card re-rendered to name the repo); returns the commit sha."""
    from huggingface_hub import HfApi

    from macro2micro.dataset_builder.models.assets import hub_id

    folder = Path(folder)
    config_file = folder / "adapter_config.json"
    adapter_config = read_model(AdapterConfig, config_file, "the adapter's PEFT config")
    # A local path (the embedded model's cache folder) means nothing elsewhere: name the base by its Hub id.
    adapter_config["base_model_name_or_path"] = hub_id(adapter_config["base_model_name_or_path"])
    config_file.write_text(json.dumps(adapter_config, indent=2))
    rerender_model_card(folder / "README.md", repo_id=repo_id)
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            ignore_patterns=IGNORE,
            commit_message="macro2micro: LoRA adapter",
        )
    except Exception as err:
        raise HubError(f"model repo {repo_id!r}: push failed ({_reason(err)})") from None
    return info.oid


def register_adapter(dataset_repo: str, config: str, record: dict) -> None:
    """Record a pushed adapter in its dataset repo (``adapters/{config}.json``), one commit."""
    from huggingface_hub import HfApi

    check_name(config)
    validate(AdapterRecord, record, f"{ADAPTERS_DIR}/{config}.json")  # what evaluate and the Space will read back
    try:
        HfApi().upload_file(
            path_or_fileobj=json.dumps(record, indent=1).encode(),
            path_in_repo=f"{ADAPTERS_DIR}/{config}.json",
            repo_id=dataset_repo,
            repo_type="dataset",
            commit_message=f"macro2micro: adapter of {config} ({record['repo_id']})",
        )
    except Exception as err:
        raise HubError(
            f"dataset repo {dataset_repo!r}: could not record the adapter of {config} ({_reason(err)})"
        ) from None


def publish_results(out_dir: str | Path, dataset_repo: str, results: dict, runs: str | Path | None = None) -> str:
    """Commit the evaluation into its dataset repo, in one commit: ``evaluation/`` (results, report, plots) and
    the card re-rendered with a scores table. Each pushed adapter's card is re-rendered with its score and pushed.

    Returns the dataset commit's URL.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    from macro2micro.dataset_builder.hub.artifacts import RESULTS_FILE, open_dataset_repo
    from macro2micro.model_cards.dataset_card import render_from_repo

    check_repo_id(dataset_repo, "dataset repo id")
    if Path(dataset_repo).exists():
        raise OptionsError(f"--push_to_hub needs --dataset as a Hub repo id, not the folder {dataset_repo}")
    out_dir = Path(out_dir)
    repo = open_dataset_repo(dataset_repo)
    card = render_from_repo(repo, results)
    folder = Path(RESULTS_FILE).parent.as_posix()
    ops = [
        CommitOperationAdd(f"{folder}/{p.name}", str(p))
        for p in sorted(out_dir.iterdir())
        if p.is_file() and p.suffix in (".json", ".md", ".png") and not p.name.startswith(".")
    ]
    ops.append(CommitOperationAdd("README.md", card.content.encode()))
    api = HfApi()
    try:
        info = api.create_commit(
            repo_id=dataset_repo,
            repo_type="dataset",
            operations=ops,
            commit_message=f"macro2micro: evaluation against {results['baseline']}",
        )
    except Exception as err:
        raise HubError(f"dataset repo {dataset_repo!r}: could not publish the evaluation ({_reason(err)})") from None
    for config, adapter in (results.get("adapters") or {}).items():
        if config in results["scores"]:  # the baseline adapter is not scored against itself
            _push_scores(api, adapter["repo_id"], config, {results["baseline"]: results["scores"][config]}, runs)
    return info.commit_url


def _push_scores(api, repo_id: str, config: str, scores: dict, runs: str | Path | None) -> None:
    """Re-render one adapter's card with its scores and push it (the local copy too, when there is one)."""
    import tempfile

    from huggingface_hub import hf_hub_download

    local = Path(runs) / config / "README.md" if runs else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            card = Path(tmp) / "README.md"
            card.write_bytes(
                (local if local and local.exists() else Path(hf_hub_download(repo_id, "README.md"))).read_bytes()
            )
            rerender_model_card(card, repo_id=repo_id, scores=scores)
            api.upload_file(
                path_or_fileobj=str(card),
                path_in_repo="README.md",
                repo_id=repo_id,
                commit_message="macro2micro: scores",
            )
            if local and local.exists():
                local.write_bytes(card.read_bytes())
    except Exception as err:
        raise HubError(f"model repo {repo_id!r}: could not update its card with scores ({_reason(err)})") from None
