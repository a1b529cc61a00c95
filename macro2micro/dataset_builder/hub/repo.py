"""The dataset repo folder: parquet per config, manifests, metrics and the card, checked with ``load_dataset``.

    REPO/README.md                         card: YAML (configs, licence, tags, diversity_metrics) + body
    REPO/{config}/train-00000-of-00001.parquet
    REPO/full/train-00000-of-00001.parquet the whole corpus (the default config)
    REPO/manifests/{config}.json           selection manifests
    REPO/metrics/diversity.json            the same metrics as the card, schema-free
    REPO/build.json                        the build's options

The card is rendered by :mod:`model_cards` and handed in as text; this module writes the files
and loads every config back before the folder is accepted.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from macro2micro.dataset_builder.defaults import CORPUS_COLUMNS, FULL_CONFIG, PARQUET_NAME
from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.hub.artifacts import METRICS_FILE, card_configs
from macro2micro.dataset_builder.hub.checks import write_json
from macro2micro.dataset_builder.hub.schemas import MetricsFile
from macro2micro.dataset_builder.utils import stream_batches, whole_files

logger = logging.getLogger(__name__)

COLUMNS = list(CORPUS_COLUMNS)


def configs_yaml(configs: list[str]) -> list[dict]:
    """The card's ``configs:`` entries (``full`` is the default config)."""
    return [
        {
            "config_name": c,
            "data_files": [{"split": "train", "path": f"{c}/train-*"}],
            **({"default": True} if c == FULL_CONFIG else {}),
        }
        for c in configs
    ]


def write_parquet(ds, path: str | Path) -> None:
    """``ds.to_parquet(path)``, byte for byte, written from ``ds``'s Arrow files batch by batch when it is exactly
    those files (a corpus read back from disk): ``to_parquet`` reads the memory-mapped table, and every page it
    touches stays in the resident set, the whole corpus at the end. Any other Dataset goes to ``to_parquet``.

    The same writer, options, row groups and metadata as ``datasets``' ``ParquetDatasetWriter``: tables of its
    batch size, cut from the same record batches (tests compare the bytes).
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets.arrow_writer import get_parquet_column_options
    from datasets.io.parquet import ParquetDatasetWriter

    files = whole_files(ds)
    if not files or not _file_schema(files[0]).equals(ds.data.schema, check_metadata=True):
        ds.to_parquet(str(path))
        return
    like = ParquetDatasetWriter(ds, str(path))  # its batch size (row group size) and options; writes nothing
    schema = ds.features.arrow_schema
    writer = pq.ParquetWriter(
        str(path),
        schema=schema,
        use_content_defined_chunking=like.use_content_defined_chunking,
        write_page_index=like.write_page_index,
        **get_parquet_column_options(ds.features, schema),
    )
    parts, held = [], 0
    for batch in stream_batches(files):
        while len(batch):  # (as datasets' fast_slice: the record batches cut at multiples of the batch size)
            part = batch.slice(0, min(like.batch_size - held, len(batch)))
            parts.append(part)
            held += len(part)
            batch = batch.slice(len(part))
            if held == like.batch_size:
                writer.write_table(pa.Table.from_batches(parts))
                parts, held = [], 0
    if parts:
        writer.write_table(pa.Table.from_batches(parts))
    if like.use_content_defined_chunking is not False:
        writer.add_key_value_metadata({"content_defined_chunking": json.dumps(like.use_content_defined_chunking)})
    writer.close()


def _file_schema(path: str):
    import pyarrow as pa

    with pa.memory_map(path) as f:
        return pa.ipc.open_stream(f).schema


def load_config(repo: str | Path, config: str, split: str = "train"):
    """``load_dataset(repo, config, split)`` that never serves stale rows for a local folder.

    datasets 5.2 caches a local repo folder under its basename and config name only: a rebuilt
    folder, or another folder of the same name, is answered from the old cache (seen here). For
    local folders we re-read the parquet (cheap) and skip the check against the stale split sizes.
    The card is validated first (:func:`.artifacts.card_configs`): its ``data_files`` could otherwise
    point ``datasets`` at rows outside the config's folder.
    """
    import datasets

    configs = card_configs(repo)
    if config not in configs:
        raise ArtifactError(f"{repo}: no config {config!r} on its card; configs: {', '.join(configs)}")
    with libyaml_cards():
        if Path(repo).is_dir():
            return datasets.load_dataset(
                str(repo), config, split=split, download_mode="force_redownload", verification_mode="no_checks"
            )
        return datasets.load_dataset(str(repo), config, split=split)


def _libyaml_safe_load(stream):
    import yaml

    return yaml.load(stream, Loader=yaml.CSafeLoader)  # noqa: S506 - CSafeLoader is the safe loader, in C


@contextmanager
def libyaml_cards() -> Iterator[None]:
    """``yaml.safe_load`` through libyaml's C parser while it lasts, where PyYAML has it: ``load_dataset`` parses
    the card's YAML header once per call, and a card that lists every config's ``dataset_info`` takes the pure-
    Python parser about 0.2 s (11 s of the demo's 57 loads). Same safe constructors, same objects."""
    import yaml

    if not getattr(yaml, "__with_libyaml__", False) or yaml.safe_load is _libyaml_safe_load:
        yield  # no libyaml, or already inside one (another thread's, which restores it)
        return
    original, yaml.safe_load = yaml.safe_load, _libyaml_safe_load
    try:
        yield
    finally:
        yaml.safe_load = original


def validate_folder(
    folder: str | Path, configs: list[str] | None = None, verify: bool = True, cache_dir: str | Path | None = None
) -> dict:
    """Load every config of a repo folder with ``load_dataset``; ``{config: Dataset}``.

    Args:
        verify: check split sizes against the card's ``dataset_info`` (``basic_checks``).
        cache_dir: where ``datasets`` writes the Arrow copies it loads (default: its cache, where a copy made under
            a temporary folder's name is never read again).
    """
    import datasets

    folder = str(folder)
    out = {}
    with libyaml_cards():
        for name in configs or datasets.get_dataset_config_names(folder):
            ds = datasets.load_dataset(
                folder,
                name,
                split="train",
                download_mode="force_redownload",
                verification_mode="basic_checks" if verify else "no_checks",
                cache_dir=None if cache_dir is None else str(cache_dir),
            )
            if ds.column_names != COLUMNS:
                raise ArtifactError(f"{folder}: config {name!r} has columns {ds.column_names}, expected {COLUMNS}")
            out[name] = ds
    return out


def dataset_infos(folder: str | Path, loaded: dict):
    """``DatasetInfosDict`` of loaded configs (features, rows, bytes), as ``datasets`` computed them."""
    import datasets

    infos = {}
    for name, ds in loaded.items():
        files = sorted((Path(folder) / name).glob("train-*.parquet"))
        infos[name] = datasets.DatasetInfo(
            features=ds.features,
            splits=ds.info.splits,
            config_name=name,
            dataset_size=ds.info.dataset_size,
            download_size=sum(f.stat().st_size for f in files),
        )
    return datasets.info.DatasetInfosDict(infos)


def write_repo_folder(corpus, subsets, folder: str | Path, metrics: dict[str, dict], render_card) -> dict[str, int]:
    """Write the repo's files into the (empty) ``folder`` and load every config back.

    Args:
        corpus: the corpus the build drew from (the ``full`` config).
        subsets: the build (:class:`~macro2micro.dataset_builder.ladders.subsets.Subsets`, in memory or read
            back from its folder).
        metrics: ``{config: metrics}`` (``metrics/diversity.json``).
        render_card: ``infos -> card text``, given the configs' ``DatasetInfosDict`` (the card carries them
            as ``dataset_info``).

    Returns:
        Rows per config, as ``load_dataset`` read them.
    """
    folder = Path(folder)
    subsets.write(folder, corpus_copy=False)
    (folder / FULL_CONFIG).mkdir(parents=True)
    write_parquet(corpus, folder / FULL_CONFIG / PARQUET_NAME)
    (folder / METRICS_FILE).parent.mkdir()
    write_json(MetricsFile, metrics, folder / METRICS_FILE, indent=1)  # build order
    manifests = subsets.manifests
    configs = [FULL_CONFIG] + list(manifests)
    # Load every config back through the card's configs, then write the card again with the dataset_info that
    # datasets computed on the way (it checks the info against the data whenever the repo is loaded later).
    (folder / "README.md").write_text(render_card(None), encoding="utf-8")
    # The Arrow copies the check makes (the whole corpus once more, for full) go to a folder removed after it:
    # in the datasets cache they would stay, under the temporary output folder's name, and never be read again.
    with tempfile.TemporaryDirectory(prefix="m2m-load-check-") as cache:
        loaded = validate_folder(folder, configs, verify=False, cache_dir=cache)
        (folder / "README.md").write_text(render_card(dataset_infos(folder, loaded)), encoding="utf-8")
        rows = {name: len(ds) for name, ds in loaded.items()}
        del loaded
    logger.info("validated %d configs with load_dataset: %s", len(rows), rows)
    return rows
