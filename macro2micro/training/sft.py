"""Fine-tune (LoRA via PEFT) on one config of a macro2micro dataset repo with TRL's SFTTrainer.

Loss is on assistant tokens only (chat templates with ``{% generation %}`` markers): on every assistant
turn of a whole conversation, on no system, user or tool token. A row longer than ``max_length`` is cut
there (its later turns are not trained): the run counts such rows. The same file runs under python,
accelerate and the console script:

```bash
# the embedded default on CPU
python macro2micro/training/sft.py --config macro2micro/training/recipes/demo.yaml \
    --dataset_name demo_out/hub_dataset --dataset_config micro_response_max --output_dir runs/micro_response_max

# the paper's model on 8 GPUs
accelerate launch --config_file macro2micro/training/accelerate/multi_gpu.yaml macro2micro/training/sft.py \
    --config macro2micro/training/recipes/llama-2-7b-lora.yaml \
    --dataset_name my-org/sft-diversity-10k --dataset_config micro_response_max \
    --output_dir runs/llama2-micro_response_max --push_to_hub --hub_model_id my-org/llama2-7b-micro_response_max

# two processes on a CPU (gloo ranks; the config says why it names MULTI_GPU)
accelerate launch --config_file macro2micro/training/accelerate/cpu_ddp.yaml macro2micro/training/sft.py \
    --config macro2micro/training/recipes/demo.yaml \
    --dataset_name demo_out/hub_dataset --dataset_config micro_response_max --output_dir runs/micro_response_max

# one adapter per matching config, skipping finished ones
macro2micro train --dataset demo_out/hub_dataset --configs 'micro_response_*' --recipe demo --out runs
```

Every knob is a dataclass field (``ScriptArguments``, TRL's ``SFTConfig`` and ``ModelConfig``)
read from the YAML recipe and overridden on the command line; unknown keys are refused.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.errors import ArtifactError, ModelError, OptionsError
from macro2micro.dataset_builder.utils import require

logger = logging.getLogger(__name__)

RECIPES = Path(__file__).resolve().parent / "recipes"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class M2MScriptArguments:
    """What to train on, on top of TRL's ScriptArguments fields.

    Args:
        dataset_name: dataset repo id or local repo folder (written by ``macro2micro publish``).
        dataset_config: the config (subset) to train on, e.g. ``micro_response_max``.
        dataset_train_split: split to train on.
        dataset_repo_id: the Hub id the model card names as its dataset (default: dataset_name
            when it is a Hub id, else the repo id recorded in the folder's card).
        recipe_name: recorded in the model card.
    """

    dataset_name: str | None = field(default=None, metadata={"help": "dataset repo id or local repo folder"})
    dataset_config: str | None = field(default=None, metadata={"help": "config to train on, e.g. micro_response_max"})
    dataset_train_split: str = field(default="train", metadata={"help": "split to train on"})
    dataset_repo_id: str | None = field(default=None, metadata={"help": "Hub id named in the model card"})
    recipe_name: str | None = field(default=None, metadata={"help": "recipe name for the model card"})
    adapter_dir: str | None = field(
        default=None, metadata={"help": "where the adapter ends up (the card's snippet); default: --output_dir"}
    )

    def __post_init__(self) -> None:
        if not self.dataset_name or not self.dataset_config:
            raise OptionsError(
                "--dataset_name and --dataset_config are required (e.g. demo_out/hub_dataset and micro_response_max)"
            )

    @property
    def dataset(self) -> tuple[str, str]:
        """``(dataset_name, dataset_config)``, which ``__post_init__`` made sure are given."""
        assert self.dataset_name and self.dataset_config
        return self.dataset_name, self.dataset_config


def resolve_recipe(recipe: str) -> Path:
    """A recipe name (``demo``) or path -> the YAML file."""
    path = Path(recipe)
    if path.is_file():
        return path
    candidate = RECIPES / f"{recipe}.yaml"
    if candidate.is_file():
        return candidate
    valid = sorted(p.stem for p in RECIPES.glob("*.yaml"))
    raise OptionsError(f"recipe {recipe!r} is neither a file nor one of {', '.join(valid)}")


def load_recipe(recipe: str, overrides: list[str] | None = None):
    """A recipe plus ``--key value`` overrides, parsed once into TRL's typed ``(SFTConfig, ModelConfig)``
    (unknown keys refused, as TRL's own scripts do); every config of a sweep then trains from copies."""
    path = resolve_recipe(recipe)
    parser = make_parser(with_script_args=False)
    try:
        training_args, model_args = parser.parse_args_and_config(
            ["--config", str(path), "--output_dir", "unset", *(overrides or [])]
        )
    except ValueError as err:  # TRL's unknown keys, and argparse's errors (see make_parser)
        raise OptionsError(f"recipe {path.name} with overrides {overrides or []}: {err}{_near(parser, err)}") from None
    if not model_args.model_name_or_path:
        raise OptionsError(f"recipe {recipe!r} names no model_name_or_path")
    return training_args, model_args


def _near(parser, err: ValueError) -> str:
    """``; did you mean --max_steps?`` for the first unknown ``--key`` an error names, as every other option says."""
    import difflib
    import re

    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    unknown = [f for f in re.findall(r"'(--[A-Za-z0-9_.-]+)'", str(err)) if f not in known]
    near = difflib.get_close_matches(unknown[0], known, n=1) if unknown else []
    return f"; did you mean {near[0]}?" if near else ""


def recipe_model(recipe: str, overrides: list[str] | None = None) -> str:
    """The model a recipe (plus ``--key value`` overrides) fine-tunes, checked to exist before any training."""
    from macro2micro.dataset_builder.models.assets import check_model

    _, model_args = load_recipe(recipe, overrides)
    check_model(model_args.model_name_or_path)
    return model_args.model_name_or_path


def resolve_chat_template(name: str | None) -> str | None:
    """A bare template name -> our templates folder, then TRL's; paths and Hub ids pass through."""
    if not name or os.path.exists(name) or "/" in name:
        return name
    for folder in (TEMPLATES, Path(str(__import__("trl").__file__)).parent / "chat_templates"):
        if (folder / name).is_file():
            return str(folder / name)
    raise ModelError(f"chat template {name!r} not found in {TEMPLATES} or TRL's chat_templates")


def make_parser(with_script_args: bool = True):
    """TRL's parser of ``(M2MScriptArguments,) SFTConfig, ModelConfig``; a bad value raises ValueError instead of
    exiting (when used as a library), as TRL raises for unknown keys."""
    require("trl")
    from trl import ModelConfig, SFTConfig, TrlParser

    class Parser(TrlParser):
        def error(self, message: str):
            raise ValueError(message)

    types: list[Any] = [M2MScriptArguments] if with_script_args else []
    return Parser(types + [SFTConfig, ModelConfig])


def load_train_dataset(script_args: M2MScriptArguments):
    from macro2micro.dataset_builder.hub.repo import load_config

    name, config = script_args.dataset
    ds = load_config(name, config, split=script_args.dataset_train_split)
    if "messages" not in ds.column_names:
        raise ArtifactError(f"{name}/{config} has no 'messages' column (columns: {ds.column_names})")
    return ds.select_columns(["messages"])


def dataset_card_info(script_args: M2MScriptArguments) -> tuple[str | None, dict]:
    """The dataset's Hub id (None for an unpublished local folder) and this config's diversity metrics."""
    from macro2micro.dataset_builder.hub.artifacts import ArtifactError, open_dataset_repo

    name, config = script_args.dataset
    local = Path(name).exists()
    repo_id = script_args.dataset_repo_id or (None if local else name)
    try:
        repo = open_dataset_repo(name)
        metrics = repo.metrics().get(config, {})
        repo_id = repo_id or repo.repo_id()
    except (ArtifactError, OSError, ValueError, RuntimeError):  # not one of our repos: train, with a thinner card
        metrics = {}
    return repo_id, metrics


def cut_rows(trainer, max_length: int | None) -> int:
    """Rows of the prepared training set that fill ``max_length``: TRL cut them there, so their later turns (of a
    conversation) or the end of their reply are not trained."""
    import pyarrow.compute as pc

    if not max_length:
        return 0
    lengths = pc.list_value_length(trainer.train_dataset.with_format("arrow")["input_ids"])
    return int(pc.sum(pc.greater_equal(lengths, max_length)).as_py() or 0)


def labelled_progress(trainer, label: str) -> None:
    """One labelled bar (steps, ETA, the last loss) instead of the trainer's bar and its printed log dicts."""
    from tqdm.auto import tqdm
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback

    class Bar(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = tqdm(total=state.max_steps, desc=label, unit="step", disable=not state.is_local_process_zero)

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}")

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(Bar())


def _finite(value, digits: int | None = None) -> float | None:
    """A loss as JSON can hold it: None when it is nan or infinite (a diverged run says so instead of lying)."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return value if digits is None else round(value, digits)


def main(script_args: M2MScriptArguments, training_args, model_args) -> dict:
    """Train one adapter; returns the run's results (also written to train_results.json)."""
    require("peft")
    from trl import SFTTrainer, get_peft_config

    from macro2micro.dataset_builder.hub.checks import write_json
    from macro2micro.dataset_builder.hub.run_schemas import TrainResults
    from macro2micro.dataset_builder.models.assets import hub_id, resolve_model
    from macro2micro.dataset_builder.utils import torch_threads
    from macro2micro.model_cards.model_card import hyperparameters, render_model_card

    torch_threads()
    # TRL and PEFT still read the attribute transformers 5 deprecated; the warning is theirs, not the user's
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    model_spec = model_args.model_name_or_path
    model_args.model_name_or_path = resolve_model(model_spec)
    training_args.chat_template_path = resolve_chat_template(training_args.chat_template_path)
    training_args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "dtype": model_args.dtype,
        "attn_implementation": model_args.attn_implementation,
    }
    push = bool(training_args.push_to_hub)  # the script run on its own (accelerate launch); sweeps push after renaming
    if push and not training_args.hub_model_id:
        raise OptionsError(
            "--push_to_hub needs --hub_model_id ORG/NAME "
            "(macro2micro train --push_to_hub --hub_org ORG names it for you)"
        )
    # The Trainer would push at every save, from its own card; the adapter is pushed once, by the main process,
    # with ours (push_adapter below).
    training_args.push_to_hub = False
    train = load_train_dataset(script_args)
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=train,
        peft_config=get_peft_config(model_args),
    )
    labelled_progress(trainer, f"train {script_args.dataset_config}")
    trained = len(trainer.train_dataset)  # type: ignore[arg-type]  # TRL drops rows whose labels are all masked
    cut, lost = cut_rows(trainer, training_args.max_length), len(train) - trained
    if cut or lost:
        logger.warning(
            "%s: %d of %d rows reach max_length=%d tokens and are cut there (their later turns are not trained), "
            "and %d rows have no assistant token before it (TRL leaves them out); raise --max_length to train on "
            "whole conversations",
            script_args.dataset_config,
            cut,
            len(train),
            training_args.max_length,
            lost,
        )
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    losses = [_finite(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    train_loss = _finite(result.training_loss, 6)
    if train_loss is None:
        logger.warning(
            "%s: the training loss is not finite (%s): the run diverged",
            script_args.dataset_config,
            result.training_loss,
        )
    accelerator = trainer.accelerator
    logger.info(
        "process %d of %d (%s): trained %d steps",
        accelerator.process_index,
        accelerator.num_processes,
        accelerator.distributed_type.value,
        trainer.state.global_step,
    )
    results = {
        "dataset": script_args.dataset_name,
        "config": script_args.dataset_config,
        "base_model": hub_id(model_spec),
        "recipe": script_args.recipe_name,
        "rows": len(train),
        "rows_trained": trained,
        "rows_cut_at_max_length": cut,
        "steps": trainer.state.global_step,
        "epochs": round(float(trainer.state.epoch or 0.0), 4),
        "train_loss": train_loss,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "train_seconds": round(seconds, 2),
        "processes": accelerator.num_processes,
    }
    if accelerator.is_main_process:  # only rank 0 writes files and pushes
        out = Path(training_args.output_dir)
        logger.info("process %d: saving the adapter and its card to %s", accelerator.process_index, out)
        trainer.save_model(str(out))
        dataset_repo, metrics = dataset_card_info(script_args)
        card = render_model_card(
            {
                **{
                    k: results[k]
                    for k in (
                        "base_model",
                        "config",
                        "recipe",
                        "rows",
                        "steps",
                        "epochs",
                        "train_loss",
                        "train_seconds",
                    )
                },
                "dataset_repo": dataset_repo,
                "metrics": metrics,
                "hyperparameters": hyperparameters(training_args, model_args),
                "local_path": script_args.adapter_dir or str(out),
            }
        )
        card.save(str(out / "README.md"))
        if push:
            from macro2micro.training.hub import push_adapter

            results["hub"] = {
                "repo_id": training_args.hub_model_id,
                "revision": push_adapter(out, training_args.hub_model_id, bool(training_args.hub_private_repo)),
            }
        write_json(TrainResults, results, out / "train_results.json", indent=2)
    accelerator.wait_for_everyone()
    return results


def run(argv: list[str] | None = None) -> dict:
    """Parse a recipe plus overrides (``--config recipe.yaml --key value ...``) and train."""
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    return main(script_args, training_args, model_args)


def train_one(
    recipe: str, dataset: str, config: str, output_dir: str | Path, parsed=None, trained_from: dict | None = None
) -> dict:
    """Train one config into ``output_dir`` atomically: a crash leaves no half-finished adapter.

    Args:
        recipe: the recipe's name or file (recorded in the card).
        parsed: ``(SFTConfig, ModelConfig)`` from :func:`load_recipe` (default: the recipe as it is); copied,
            never changed, so one parse serves a whole sweep.
        trained_from: recorded in ``train_results.json`` (:func:`macro2micro.training.sweep.trained_from`).
    """
    import copy
    import dataclasses

    training_args, model_args = parsed or load_recipe(recipe)
    output_dir = Path(output_dir)
    partial = output_dir.parent / f".{output_dir.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    script_args = M2MScriptArguments(
        dataset_name=str(dataset),
        dataset_config=config,
        recipe_name=resolve_recipe(recipe).stem,
        adapter_dir=str(output_dir),
    )
    results = main(script_args, dataclasses.replace(training_args, output_dir=str(partial)), copy.deepcopy(model_args))
    if trained_from is not None:  # recorded before the rename: a finished adapter always carries it
        from macro2micro.dataset_builder.hub.checks import write_json
        from macro2micro.dataset_builder.hub.run_schemas import TrainResults

        results["trained_from"] = trained_from
        write_json(TrainResults, results, partial / "train_results.json", indent=2)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    os.replace(partial, output_dir)
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    run()
