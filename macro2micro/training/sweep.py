"""Train one adapter per matching config; skip finished ones; or print the launch commands.

    macro2micro train --dataset demo_out/hub_dataset --configs 'micro_response_*,random' --recipe demo --out runs
    macro2micro train ... --print_commands --accelerate_config multi_gpu.yaml   # for a scheduler

A config is finished when ``OUT/{config}/train_results.json`` exists: each adapter is trained in
a hidden ``.partial`` folder and renamed into place only when complete, so a crashed sweep
resumes where it stopped. The file records what the adapter was trained from (``trained_from``: the
recipe and its file's hash, the resolved overrides, the config's manifest and parquet hashes); a rerun
skips only an adapter whose record matches, and refuses one trained otherwise unless ``--retrain``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shlex
from pathlib import Path

from macro2micro.dataset_builder.errors import ArtifactError, OptionsError, OutputError
from macro2micro.dataset_builder.hub.artifacts import read_train_results
from macro2micro.dataset_builder.hub.checks import write_json
from macro2micro.dataset_builder.hub.run_schemas import TrainResults
from macro2micro.training.sft import load_recipe, resolve_recipe, train_one

logger = logging.getLogger(__name__)
SFT_SCRIPT = Path(__file__).resolve().parent / "sft.py"


def match_configs(dataset: str, patterns: list[str] | str) -> list[str]:
    """Configs of the dataset repo matching glob patterns, in repo order.

    A length-controlled config (``*_lengthctl_*``) matches only a pattern that names ``lengthctl``, so
    ``micro_response_*`` means the plain ladder; ``full`` (the whole corpus, many times a subset's size)
    matches only when named exactly, so ``'*'`` means every subset.
    """
    from macro2micro.dataset_builder.defaults import FULL_CONFIG
    from macro2micro.dataset_builder.hub.artifacts import card_configs
    from macro2micro.dataset_builder.naming import LENGTH_CONTROLLED, check_name
    from macro2micro.dataset_builder.options import split_list

    if (Path(dataset) / "build.json").is_file() and not (Path(dataset) / "README.md").is_file():
        raise OptionsError(f"{dataset} is the output of `macro2micro build`: train on the repo folder `publish` makes")
    names = [check_name(n, f"{dataset}: config") for n in card_configs(dataset)]
    wanted = split_list(patterns)

    def matches(name: str, pattern: str) -> bool:
        if name == FULL_CONFIG:
            return pattern == FULL_CONFIG
        return fnmatch.fnmatchcase(name, pattern) and (LENGTH_CONTROLLED in pattern or LENGTH_CONTROLLED not in name)

    out = [n for n in names if any(matches(n, p) for p in wanted)]
    if not out:
        raise OptionsError(f"no config of {dataset} matches {' '.join(wanted)!r}; configs: {', '.join(names)}")
    return out


def launch_command(
    recipe: str, dataset: str, config: str, out: Path, accelerate_config: str | None, overrides: list[str]
) -> str:
    launcher = ["accelerate", "launch"] + (["--config_file", accelerate_config] if accelerate_config else [])
    args = [
        str(SFT_SCRIPT),
        "--config",
        str(resolve_recipe(recipe)),
        "--dataset_name",
        dataset,
        "--dataset_config",
        config,
        "--output_dir",
        str(out / config),
        *overrides,
    ]
    return shlex.join(launcher + args)


def sweep(
    dataset: str,
    patterns: str | list[str],
    recipe: str,
    out: str | Path,
    overrides: list[str] | None = None,
    print_commands: bool = False,
    accelerate_config: str | None = None,
    hub_org: str | None = None,
    private: bool = False,
    retrain: bool = False,
) -> dict[str, dict | str]:
    """Train (or print the command for) every matching config not finished yet; push each with ``hub_org``.

    An adapter trained from another recipe, other overrides or other rows of its config is refused (one line
    naming its folder and what differs), or retrained with ``retrain``.

    A pushed adapter is named ``{hub_org}/{base}-{config}-lora``; when ``dataset`` is a Hub id the push is
    recorded in it (``adapters/{config}.json``). A finished adapter not pushed yet is pushed on a rerun.

    Returns:
        Per config: the training results, ``"skipped"`` or the launch command.
    """
    out = Path(out)
    overrides = overrides or []
    parsed = load_recipe(recipe, overrides)  # typed once; each config trains a copy
    done: dict[str, dict | str] = {}
    plan = []  # every finished adapter checked before any training: a refusal never comes hours in
    for config in match_configs(dataset, patterns):
        source = trained_from(recipe, dataset, config, overrides, parsed)
        plan.append((config, source, finished(out / config, source, retrain)))
    for config, source, results in plan:
        results_file = out / config / "train_results.json"
        if print_commands:
            done[config] = (
                "skipped" if results else launch_command(recipe, dataset, config, out, accelerate_config, overrides)
            )
            continue
        if results:
            if not hub_org or results.get("hub"):
                logger.info("%s: finished already, skipped", config)
                done[config] = "skipped"
                continue
        else:
            logger.info("%s: training with recipe %s", config, recipe)
            results = train_one(recipe, dataset, config, out / config, parsed, trained_from=source)
        if hub_org:
            results["hub"] = publish_adapter(out / config, dataset, config, results, hub_org, private)
            write_json(TrainResults, results, results_file, indent=2)
        done[config] = results
    return done


def _jsonable(value):
    from macro2micro.model_cards.model_card import readable

    value = readable(value)
    return value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)


def trained_from(recipe: str, dataset: str, config: str, overrides: list[str], parsed) -> dict:
    """What an adapter of ``config`` trained now comes from, as ``train_results.json`` records it.

    Args:
        overrides: ``--key value`` arguments; recorded as the values the recipe resolved them to.
        parsed: ``(SFTConfig, ModelConfig)`` of the recipe plus the overrides (:func:`load_recipe`).
    """
    from macro2micro.dataset_builder.hub.artifacts import open_dataset_repo

    path = resolve_recipe(recipe)
    keys = [a[2:].partition("=")[0] for a in overrides if a.startswith("--")]
    resolved = {k: _jsonable(getattr(next((a for a in parsed[::-1] if hasattr(a, k)), None), k, None)) for k in keys}
    repo = open_dataset_repo(dataset)
    files = sorted((repo.path / config).glob("*.parquet"))
    if not files:
        raise ArtifactError(f"{dataset}: config {config} has no parquet file under {config}/")
    data = hashlib.sha256()
    for f in files:
        data.update(f.read_bytes())
    has_manifest = (repo.path / "manifests" / f"{config}.json").is_file()
    return json.loads(
        json.dumps(
            {
                "recipe": path.stem,
                "recipe_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "overrides": resolved,
                "dataset": dataset,
                "config": config,
                "manifest_sha256": repo.manifest(config)["manifest_sha256"] if has_manifest else None,
                "data_sha256": data.hexdigest(),
            }
        )
    )


# ``dataset`` is left out: the same rows from a moved folder, or from its Hub copy, train the same adapter
COMPARED = ("recipe", "recipe_sha256", "overrides", "config", "manifest_sha256", "data_sha256")


def finished(folder: Path, source: dict, retrain: bool) -> dict | None:
    """The results of the adapter in ``folder`` when it was trained from ``source``; None when it is to be trained.

    Raises:
        OutputError: it was trained from something else, and ``retrain`` is not set.
    """
    results_file = folder / "train_results.json"
    if not results_file.exists():
        return None
    results = read_train_results(results_file)
    recorded = results.get("trained_from")
    if recorded is None:
        logger.warning(
            "%s records no trained_from (an older macro2micro, or sft.py run on its own): kept as it is; "
            "pass --retrain to retrain it",
            folder,
        )
        return None if retrain else results
    differs = [k for k in COMPARED if recorded.get(k) != source[k]]
    if not differs:
        return results

    def show(value) -> str:
        return value[:12] if isinstance(value, str) and len(value) == 64 else json.dumps(value)

    what = "; ".join(f"{k} {show(recorded.get(k))}, now {show(source[k])}" for k in differs)
    if retrain:
        logger.info("%s was trained otherwise (%s): retraining it", folder, what)
        return None
    raise OutputError(
        f"{folder} holds an adapter trained otherwise ({what}): pass --retrain to retrain it, or choose another --out"
    )


def publish_adapter(folder: Path, dataset: str, config: str, results: dict, hub_org: str, private: bool) -> dict:
    """Push one finished adapter and, when its dataset is a Hub repo, record it there."""
    from macro2micro.training.hub import adapter_repo_id, push_adapter, register_adapter

    repo_id = adapter_repo_id(hub_org, results["base_model"], config)
    record = {
        "repo_id": repo_id,
        "revision": push_adapter(folder, repo_id, private),
        "base_model": results["base_model"],
        "recipe": results["recipe"],
        "config": config,
    }
    if not Path(dataset).exists():
        register_adapter(dataset, config, record)
    logger.info("%s: pushed to %s (%s)", config, repo_id, record["revision"][:12])
    return record
