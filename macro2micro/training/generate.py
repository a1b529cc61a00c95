"""Answers of a base model or a LoRA adapter to an evaluation prompt set, batched and cached.

Prompt sets: ``embedded`` (24 varied prompts bundled for the demo and tests), or any JSONL/JSON
file or Hub dataset whose rows carry ``instruction`` (AlpacaEval 2.0), ``prompt``, or ``turns``
(Arena-Hard's ``question.jsonl``: the first turn's ``content``).

Answers are cached per (base model, adapter weights hash, prompt-set hash, decoding options);
:func:`generate_together` answers several adapters of one base model in shared batches, cached per group.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from macro2micro.dataset_builder.errors import InputError, OptionsError
from macro2micro.dataset_builder.utils import atomic_write_text, cache_dir, sha256_text, stable_json

logger = logging.getLogger(__name__)

EMBEDDED_PROMPTS = Path(__file__).resolve().parent / "data" / "eval_prompts.jsonl"


@dataclass(frozen=True)
class Decoding:
    """Decoding options (recorded with every answer set).

    Args:
        max_new_tokens: answer length cap.
        temperature: 0 = greedy.
        max_prompt_tokens: prompts are cut to this many tokens (from the left of the chat).
        batch_size: prompts per generate call (with :func:`generate_together`, prompts of all its models).
        precision: float32 or bfloat16 (mixed, autocast): what the model computes at.
    """

    max_new_tokens: int = 96
    temperature: float = 0.0
    max_prompt_tokens: int = 512
    batch_size: int = 16
    precision: str = "float32"


def _row_prompt(row: dict, where: str) -> str:
    if isinstance(row.get("instruction"), str):
        return row["instruction"]
    if isinstance(row.get("prompt"), str):
        return row["prompt"]
    turns = row.get("turns")
    if isinstance(turns, list) and turns and isinstance(turns[0], dict) and isinstance(turns[0].get("content"), str):
        return turns[0]["content"]
    raise InputError(
        f"{where}: no prompt: expected a string 'instruction' (AlpacaEval), 'prompt', or "
        f"'turns'[0].content (Arena-Hard); keys {sorted(row)[:8]}"
    )


def load_prompts(spec: str = "embedded", limit: int | None = None) -> list[dict]:
    """``[{"id", "instruction"}]`` from ``embedded``, a JSONL/JSON file, or a Hub dataset id (eval/test/train)."""
    rows: list[dict] = []
    path = EMBEDDED_PROMPTS if spec == "embedded" else Path(spec)
    if path.is_file():
        for i, row in enumerate(_records(path)):
            rows.append(
                {
                    "id": str(row.get("id", row.get("question_id", i))),
                    "instruction": _row_prompt(row, f"{path}, record {i}"),
                }
            )
    else:
        import datasets

        from macro2micro.dataset_builder.corpus.readers import looks_like_hub_id

        if not looks_like_hub_id(spec):
            raise OptionsError(f"prompt set {spec!r}: no such file (and not a Hub dataset id of the form org/name)")
        try:
            dd = datasets.load_dataset(spec)
        except Exception as err:  # offline, missing, private: one line naming the id
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise OptionsError(
                f"prompt set {spec!r}: not a local file, and not a loadable Hub dataset ({reason})"
            ) from None
        split = next((s for s in ("eval", "test", "train") if s in dd), None)
        if split is None:
            raise InputError(f"{spec}: no eval, test or train split (splits: {list(dd)})")
        for i, row in enumerate(dd[split]):
            rows.append({"id": str(row.get("id", i)), "instruction": _row_prompt(row, f"{spec}, row {i}")})
    if not rows:
        raise InputError(f"prompt set {spec!r} is empty")
    return rows[:limit] if limit else rows


def _records(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    try:
        return (
            json.loads(text)
            if path.suffix == ".json"
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


def load_references(path: str | Path) -> tuple[dict[str, str], str]:
    """Reference answers, AlpacaEval-style ``[{"instruction", "output", "generator"}]``: ``({instruction: output},
    generator)``."""
    path = Path(path)
    records = _records(path)
    refs, generators = {}, set()
    for i, row in enumerate(records):
        if not isinstance(row, dict) or not isinstance(row.get("output"), str):
            raise InputError(
                f"{path}, record {i}: a reference answer needs a string 'output' (AlpacaEval style: "
                "instruction, output, generator)"
            )
        refs[_row_prompt(row, f"{path}, record {i}")] = row["output"]
        generators.add(str(row.get("generator") or path.stem))
    if not refs:
        raise InputError(f"{path}: holds no reference answers")
    return refs, ", ".join(sorted(generators))


def adapter_identity(adapter: str | Path | None) -> str:
    if adapter is None:
        return "base"
    weights = Path(adapter) / "adapter_model.safetensors"
    h = hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.exists() else str(adapter)
    return f"{Path(adapter).name}:{h}"


def generate_answers(
    base_model: str,
    adapter: str | Path | None,
    prompts: list[dict],
    decoding: Decoding = Decoding(),
    use_cache: bool = True,
    chat_template: str | None = None,
) -> list[str]:
    """Answers in prompt order.

    Args:
        chat_template: the template to prompt with (evaluation passes one template to every model so
            that all see the same format); default: the adapter's tokenizer's, else the base's.
    """
    key = sha256_text(
        base_model, adapter_identity(adapter), stable_json(prompts), stable_json(asdict(decoding)), chat_template or ""
    )[:24]
    cache_file = cache_dir("generations") / f"{key}.json"
    if use_cache and cache_file.exists():
        return json.loads(cache_file.read_text())["answers"]
    from macro2micro.dataset_builder.models.llm import generate_chat, load_chat_model

    tok, model, device = load_chat_model(base_model, adapter, chat_template, shared=True)
    try:
        answers = generate_chat(
            tok,
            model,
            device,
            [p["instruction"] for p in prompts],
            decoding.batch_size,
            decoding.max_new_tokens,
            decoding.temperature,
            decoding.max_prompt_tokens,
            decoding.precision,
        )
    finally:
        if adapter is not None:
            model.unload()  # the LoRA layers out again: the shared base model is as it was loaded
    record = {
        "base_model": base_model,
        "adapter": adapter_identity(adapter),
        "decoding": asdict(decoding),
        "prompts": [p["id"] for p in prompts],
        "answers": answers,
    }
    if use_cache:
        atomic_write_text(cache_file, json.dumps(record, ensure_ascii=False))
    return answers


def _tokenizer_files(path: Path | str) -> str:
    """What decides a model folder's prompt tokens: its tokenizer files' bytes (``""`` where it has none)."""
    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
    return sha256_text(*((Path(path) / n).read_bytes().hex() if (Path(path) / n).exists() else "" for n in names))


def generate_together(
    base_model: str,
    models: Mapping[str, str | Path | None],
    prompts: list[dict],
    decoding: Decoding = Decoding(),
    use_cache: bool = True,
    chat_template: str | None = None,
) -> dict[str, list[str]]:
    """``{name: answers}`` of several LoRA adapters of one base model (None: the base itself), in shared batches.

    Every batch holds prompts of several models (PEFT's mixed-adapter batches: each row goes through its own
    adapter), so the models' decode steps share passes over the base weights: on 2 CPU cores, 5 models x 12
    prompts took 23.5 s in one batch against 5 x 9-12 s one model at a time. Which rows share a batch moves the
    floating-point sums a little, so a model's greedy answers can differ from :func:`generate_answers`'s in a
    few tokens; the answers are cached per group (every model's weights, the prompts, decoding). Models whose
    tokenizer files differ from the first's are answered one at a time.
    """
    names = list(models)
    key = sha256_text(
        "together",
        base_model,
        stable_json([[n, adapter_identity(models[n])] for n in names]),
        stable_json(prompts),
        stable_json(asdict(decoding)),
        chat_template or "",
    )[:24]
    cache_file = cache_dir("generations") / f"{key}.json"
    if use_cache and cache_file.exists():
        return json.loads(cache_file.read_text())["answers"]
    adapters = {n: Path(p) for n, p in models.items() if p is not None}
    first = _tokenizer_files(next(iter(adapters.values()))) if adapters else ""
    together = [n for n in names if models[n] is None or _tokenizer_files(adapters[n]) == first]
    if len(together) < 2 or not adapters.keys() & set(together):
        together = []  # nothing to share a batch with: one model at a time
    answers = _mixed_batches(base_model, {n: models[n] for n in together}, prompts, decoding, chat_template)
    for n in names:
        if n not in answers:
            answers[n] = generate_answers(base_model, models[n], prompts, decoding, use_cache, chat_template)
    answers = {n: answers[n] for n in names}
    if use_cache:
        record = {"base_model": base_model, "decoding": asdict(decoding), "prompts": [p["id"] for p in prompts]}
        record["models"] = {n: adapter_identity(models[n]) for n in names}
        atomic_write_text(cache_file, json.dumps({**record, "answers": answers}, ensure_ascii=False))
    return answers


def _mixed_batches(
    base_model: str, models: Mapping[str, str | Path | None], prompts: list[dict], decoding: Decoding, chat_template
) -> dict[str, list[str]]:
    from macro2micro.dataset_builder.models.llm import generate_chat, load_chat_model

    if not models:
        return {}
    first = next(n for n, p in models.items() if p is not None)
    tok, model, device = load_chat_model(base_model, models[first], chat_template, shared=True)
    slot = {
        n: ("__base__" if p is None else "default" if n == first else f"m{i}")
        for i, (n, p) in enumerate(models.items())
    }
    try:
        for n, p in models.items():
            if p is not None and n != first:
                model.load_adapter(str(p), adapter_name=slot[n])
        rows = [(n, p["instruction"]) for n in models for p in prompts]
        out = generate_chat(
            tok,
            model,
            device,
            [text for _, text in rows],
            decoding.batch_size,
            decoding.max_new_tokens,
            decoding.temperature,
            decoding.max_prompt_tokens,
            decoding.precision,
            adapter_names=[slot[n] for n, _ in rows],
        )
    finally:
        model.unload()  # every adapter out again: the shared base model is as it was loaded
    return {n: out[i * len(prompts) : (i + 1) * len(prompts)] for i, n in enumerate(models)}
