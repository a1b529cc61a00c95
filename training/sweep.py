"""Train one adapter per matching config; skip finished ones; or print the launch commands.

    macro2micro train --dataset demo_out/hub_dataset --configs 'micro_response_*,random' --recipe demo --out runs
    macro2micro train ... --print-commands --accelerate-config training/accelerate/multi_gpu.yaml   # for a scheduler

A config is finished when ``OUT/{config}/train_results.json`` exists: each adapter is trained in
a hidden ``.partial`` folder and renamed into place only when complete, so a crashed sweep
resumes where it stopped.
"""

from __future__ import annotations

import fnmatch
import logging
import shlex
from pathlib import Path

from .sft import resolve_recipe, train_one

logger = logging.getLogger(__name__)
SFT_SCRIPT = Path(__file__).resolve().parent / "sft.py"


def match_configs(dataset: str, patterns: list[str] | str) -> list[str]:
    """Configs of the dataset repo matching glob patterns, in repo order.

    A length-controlled config (``*_lengthctl_*``) matches only a pattern that names ``lengthctl``, so
    ``micro_response_*`` means the plain ladder.
    """
    import datasets

    from dataset_builder.naming import LENGTH_CONTROLLED, check_name
    from dataset_builder.options import split_list

    names = [check_name(n, f"{dataset}: config") for n in datasets.get_dataset_config_names(dataset)]
    wanted = split_list(patterns)
    out = [n for n in names if any(fnmatch.fnmatchcase(n, p) and (LENGTH_CONTROLLED in p or LENGTH_CONTROLLED not in n)
                                   for p in wanted)]
    if not out:
        raise ValueError(f"no config of {dataset} matches {' '.join(wanted)!r}; configs: {', '.join(names)}")
    return out


def launch_command(recipe: str, dataset: str, config: str, out: Path, accelerate_config: str | None,
                   overrides: list[str]) -> str:
    launcher = ["accelerate", "launch"] + (["--config_file", accelerate_config] if accelerate_config else [])
    args = [str(SFT_SCRIPT), "--config", str(resolve_recipe(recipe)), "--dataset_name", dataset,
            "--dataset_config", config, "--output_dir", str(out / config), *overrides]
    return shlex.join(launcher + args)


def sweep(dataset: str, patterns: str, recipe: str, out: str | Path, overrides: list[str] | None = None,
          print_commands: bool = False, accelerate_config: str | None = None) -> dict[str, dict | str]:
    """Train (or print the command for) every matching config not finished yet.

    Returns:
        Per config: the training results, ``"skipped"`` or the launch command.
    """
    out = Path(out)
    overrides = overrides or []
    done: dict[str, dict | str] = {}
    for config in match_configs(dataset, patterns):
        if (out / config / "train_results.json").exists():
            logger.info("%s: finished already, skipped", config)
            done[config] = "skipped"
            continue
        if print_commands:
            done[config] = launch_command(recipe, dataset, config, out, accelerate_config, overrides)
            continue
        logger.info("%s: training with recipe %s", config, recipe)
        done[config] = train_one(recipe, dataset, config, out / config, overrides)
    return done
