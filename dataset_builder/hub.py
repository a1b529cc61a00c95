"""The Hub dataset repo: metrics per config, a folder laid out as the repo, and one-commit publishing.

    REPO/README.md                         card: YAML (configs, licence, tags, diversity_metrics) + body
    REPO/{config}/train-00000-of-00001.parquet
    REPO/full/train-00000-of-00001.parquet the whole corpus (the default config)
    REPO/manifests/{config}.json           selection manifests
    REPO/metrics/diversity.json            the same metrics as the card, schema-free

The folder is checked by loading every config back with ``load_dataset(folder, config)`` before
it is renamed into place, and published with one ``HfApi.upload_folder`` commit, so a failed
upload changes nothing on the Hub.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .build import PARQUET_NAME
from .metrics import METRICS, bootstrap_ci, side_metrics, words
from .utils import atomic_dir

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parents[1] / "model_cards" / "templates" / "dataset_card.md"
FULL_CONFIG = "full"
METRIC_SHORT = {"distinct_1": "D-1", "distinct_2": "D-2", "embedding_distance": "Emb", "mean_length": "Len",
                "compression_ratio": "CR", "self_bleu": "SB", "token_entropy": "Ent"}
TYPE_DESC = {"macro": "a semantic cluster (embeddings + HDBSCAN)", "meso": "a normalized tag",
             "micro": "a mid-frequency token of the model tokenizer"}


@dataclass
class MetricOptions:
    """How the diversity metrics are computed.

    Args:
        tokenizer: model spec whose tokenizer counts lengths and entropy.
        embedder: sentence-embedding model spec for the embedding distance (None skips it).
        max_seq_length: embedding truncation, in word pieces.
        self_bleu_sample: texts sampled per side for Self-BLEU.
        bootstrap: resamples for confidence intervals (0: none).
        seed: seeds the Self-BLEU samples and the bootstrap.
    """

    tokenizer: str = "embedded:smollm2-135m-instruct"
    embedder: str | None = "embedded:all-minilm-l6-v2"
    max_seq_length: int = 128
    self_bleu_sample: int = 200
    bootstrap: int = 0
    seed: int = 0


def read_build(build_dir: str | Path) -> tuple[dict, dict[str, dict]]:
    """``build.json`` and every manifest of a build folder (validated)."""
    build_dir = Path(build_dir)
    info_file = build_dir / "build.json"
    if not info_file.exists():
        raise FileNotFoundError(f"{build_dir}: no build.json: not a folder written by `macro2micro build`")
    info = json.loads(info_file.read_text())
    manifests = {}
    for config in info["configs"]:
        mfile = build_dir / "manifests" / f"{config}.json"
        pfile = build_dir / config / PARQUET_NAME
        for f in (mfile, pfile):
            if not f.exists():
                raise FileNotFoundError(f"{build_dir}: config {config!r} lists {f.relative_to(build_dir)}, which is missing")
        manifests[config] = json.loads(mfile.read_text())
    return info, manifests


def compute_metrics(corpus, manifests: dict[str, dict], options: MetricOptions) -> dict[str, dict]:
    """Per config (and ``full``): the seven metrics on both sides, plus k, pool size and coverage.

    Features are computed once over the corpus (token ids and embeddings are cached on disk) and
    sliced per config by row index.
    """
    from tqdm.auto import tqdm

    from .embeddings import embed_texts
    from .micro import load_tokenizer, token_features
    from .strategies import fingerprint

    fp = fingerprint(corpus)
    for config, m in manifests.items():
        if m["corpus"]["fingerprint"] != fp:
            raise ValueError(f"config {config!r} was built from corpus {m['corpus']['fingerprint']}, "
                             f"not the given corpus {fp}: pass the corpus the build used (--corpus)")
    row_of = {rid: i for i, rid in enumerate(corpus["id"])}
    tok = options.tokenizer if options.tokenizer == "word" else load_tokenizer(options.tokenizer)
    sides = {}
    for side in ("instruction", "response"):
        texts = list(corpus[side])
        feats = token_features(texts, tok, fingerprint=f"{fp}:{side}")
        ids = [feats.ids[feats.offsets[i]:feats.offsets[i + 1]] for i in range(len(texts))]
        emb = None
        if options.embedder:
            emb, _ = embed_texts(texts, options.embedder, fingerprint=f"{fp}:{side}",
                                 max_seq_length=options.max_seq_length)
        sides[side] = (texts, ids, emb, [words(t) for t in texts])
    selections = {FULL_CONFIG: np.arange(len(corpus))}
    for config, m in manifests.items():
        selections[config] = np.array([row_of[i] for i in m["selected_ids"]])
    out: dict[str, dict] = {}
    for config, idx in tqdm(selections.items(), desc="metrics", unit="config", leave=False):
        entry: dict[str, Any] = {}
        for side, (texts, ids, emb, tokenized) in sides.items():
            sub_texts = [texts[i] for i in idx]
            sub_ids = [ids[i] for i in idx]
            sub_tok = [tokenized[i] for i in idx]
            sub_emb = emb[idx] if emb is not None else None
            entry[side] = side_metrics(sub_texts, sub_ids, sub_emb, options.self_bleu_sample, options.seed,
                                       tokenized=sub_tok)
            if options.bootstrap:
                entry[f"{side}_ci95"] = bootstrap_ci(sub_texts, sub_ids, sub_emb, options.bootstrap, options.seed,
                                                     tokenized=sub_tok)
        m = manifests.get(config, {})
        entry.update(rows=int(len(idx)), k=m.get("k"), pool_size=m.get("pool_size", len(corpus)),
                     type_coverage=m.get("type_coverage"), strategy=m.get("strategy", FULL_CONFIG),
                     level=m.get("level"))
        out[config] = entry
    return out


def _configs_yaml(configs: list[str]) -> list[dict]:
    return [{"config_name": c, "data_files": [{"split": "train", "path": f"{c}/train-*"}],
             **({"default": True} if c == FULL_CONFIG else {})} for c in configs]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def render_card(info: dict, manifests: dict[str, dict], metrics: dict[str, dict], corpus_rows: int,
                repo_id: str, license: str, source_note: str, existing: dict | None = None):
    """The DatasetCard: our metadata merged over ``existing`` (foreign keys are kept)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    configs = [FULL_CONFIG] + list(manifests)
    ours = {
        "license": license,
        "task_categories": ["text-generation"],
        "language": ["en"],
        "size_categories": [_size_category(corpus_rows)],
        "tags": ["sft", "instruction-tuning", "dataset-diversity", "macro2micro"],
        "pretty_name": f"macro2micro diversity ladders (N={info['options']['budget']})",
        "configs": _configs_yaml(configs),
        "macro2micro_repo_id": repo_id,  # lets adapter cards trained from a local copy name the Hub repo
        "diversity_metrics": {c: {k: v for k, v in metrics[c].items() if k in ("instruction", "response", "k",
                                                                                 "pool_size", "type_coverage")}
                              for c in configs},
    }
    data = {**(existing or {}), **ours}
    strategies, seen = [], set()
    for m in manifests.values():
        if m["strategy"] != "random" and m["strategy"] not in seen:
            seen.add(m["strategy"])
            strategies.append({"name": m["strategy"], "side": m["side"], "type_desc": TYPE_DESC[m["granularity"]]})
    build_lines = []
    for name in seen:
        m = next(x for x in manifests.values() if x["strategy"] == name)
        build_lines.append(f"`{name}`: options `{json.dumps(m['options'], sort_keys=True)}`, "
                           f"{m['n_types']} types")
    rows = [{"config": c, "k": metrics[c]["k"] if metrics[c]["k"] is not None else "-",
             "pool": metrics[c]["pool_size"],
             "coverage": metrics[c]["type_coverage"] if metrics[c]["type_coverage"] is not None else "-",
             **{side: {k: "-" if v is None else f"{v:.3f}" for k, v in metrics[c][side].items()}
                for side in ("instruction", "response")}} for c in configs]
    example = next((c for c in manifests if c.endswith("_max")), configs[-1])
    return DatasetCard.from_template(
        DatasetCardData(**data), template_path=str(TEMPLATE), pretty_name=ours["pretty_name"],
        repo_id=repo_id, budget=info["options"]["budget"], corpus_rows=corpus_rows,
        corpus_fingerprint=info["corpus"]["fingerprint"], strategies=strategies, levels=info["level_names"],
        seed=info["options"]["seed"], build_lines=build_lines, metric_names=list(METRICS),
        metric_short=METRIC_SHORT, metric_rows=rows, example_config=example, source_note=source_note)


def load_config(repo: str | Path, config: str, split: str = "train"):
    """``load_dataset(repo, config, split)`` that never serves stale rows for a local folder.

    datasets 5.2 caches a local repo folder under its basename and config name only: a rebuilt
    folder, or another folder of the same name, is answered from the old cache (seen here). For
    local folders we re-read the parquet (cheap) and skip the check against the stale split sizes.
    """
    import datasets

    if Path(repo).is_dir():
        return datasets.load_dataset(str(repo), config, split=split, download_mode="force_redownload",
                                     verification_mode="no_checks")
    return datasets.load_dataset(str(repo), config, split=split)


def validate_folder(folder: str | Path, configs: list[str] | None = None) -> dict[str, int]:
    """Load every config of a repo folder with ``load_dataset``; returns rows per config."""
    import datasets

    folder = str(folder)
    names = configs or datasets.get_dataset_config_names(folder)
    out = {}
    for name in names:
        ds = load_config(folder, name)
        if ds.column_names != ["id", "source", "instruction", "response", "messages"]:
            raise ValueError(f"{folder}: config {name!r} has columns {ds.column_names}")
        out[name] = len(ds)
    return out


def write_repo_folder(corpus, build_dir: str | Path, out_dir: str | Path, metrics: dict[str, dict],
                      repo_id: str = "your-org/macro2micro-subsets", license: str = "other",
                      source_note: str = "See the corpus's own licence.", existing_card: dict | None = None) -> Path:
    """Write (atomically) and validate the dataset repo folder."""
    build_dir, out_dir = Path(build_dir), Path(out_dir)
    info, manifests = read_build(build_dir)
    with atomic_dir(out_dir) as tmp:
        (tmp / FULL_CONFIG).mkdir()
        corpus.to_parquet(str(tmp / FULL_CONFIG / PARQUET_NAME))
        (tmp / "manifests").mkdir()
        for config in manifests:
            (tmp / config).mkdir()
            shutil.copy2(build_dir / config / PARQUET_NAME, tmp / config / PARQUET_NAME)
            shutil.copy2(build_dir / "manifests" / f"{config}.json", tmp / "manifests" / f"{config}.json")
        (tmp / "metrics").mkdir()
        (tmp / "metrics" / "diversity.json").write_text(json.dumps(metrics, indent=1))  # build order
        (tmp / "build.json").write_text((build_dir / "build.json").read_text())
        card = render_card(info, manifests, metrics, len(corpus), repo_id, license, source_note, existing_card)
        card.save(str(tmp / "README.md"))
        rows = validate_folder(tmp, [FULL_CONFIG] + list(manifests))
        logger.info("validated %d configs with load_dataset: %s", len(rows), rows)
    return out_dir


def publish_folder(folder: str | Path, repo_id: str, private: bool = False, dry_run: bool = False,
                   token: str | None = None, commit_message: str | None = None, validate: bool = True) -> str:
    """Create the repo if needed, merge the card metadata already there, upload in one commit.

    The token comes from ``token``, ``HF_TOKEN`` or the saved login, and is never printed.
    Returns the commit URL (or a description of what would be uploaded, on a dry run).
    ``validate=False`` skips re-loading every config, for a folder :func:`write_repo_folder` just
    wrote and checked.
    """
    from huggingface_hub import DatasetCard, HfApi
    from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError

    folder = Path(folder)
    if validate:
        validate_folder(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if dry_run:
        size = sum((folder / f).stat().st_size for f in files)
        return f"dry run: would upload {len(files)} files ({size / 1e6:.1f} MB) to datasets/{repo_id}"
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    try:
        remote = DatasetCard.load(repo_id, repo_type="dataset", token=token)
        local = DatasetCard.load(str(folder / "README.md"))
        merged = {**remote.data.to_dict(), **local.data.to_dict()}
        if merged != local.data.to_dict():
            from huggingface_hub import DatasetCardData

            local.data = DatasetCardData(**merged)
            staging = folder.parent / f".{folder.name}.card"
            staging.mkdir(exist_ok=True)
            local.save(str(staging / "README.md"))
            shutil.copy2(staging / "README.md", folder / "README.md")
            shutil.rmtree(staging, ignore_errors=True)
    except (EntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError, FileNotFoundError):
        pass  # a new repo has no card yet
    info = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
                             commit_message=commit_message or "macro2micro: publish diversity ladders")
    return str(getattr(info, "commit_url", info))
