"""The corpus stage: any supported SFT data (paths, a Hub id, an in-memory ``datasets.Dataset``) -> one clean
``Dataset`` with the columns every later stage reads (``id, source, system, instruction, response, messages``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macro2micro.api.fields import make, split_fields
from macro2micro.dataset_builder.corpus.ingest import CorpusReport
from macro2micro.dataset_builder.corpus.readers import is_in_memory
from macro2micro.dataset_builder.defaults import CORPUS_COLUMNS
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.errors import InputError
from macro2micro.dataset_builder.options import CorpusOptions

Source = Any  # str | Path | a list of them | datasets.Dataset | datasets.DatasetDict


def corpus_options(options: CorpusOptions | None, fields: dict[str, Any], where: str) -> CorpusOptions:
    (corpus_fields,) = split_fields(fields, CorpusOptions, where=where)
    return make(CorpusOptions, options, corpus_fields)


def resolve_inputs(source: Source, options: CorpusOptions) -> list[Any]:
    """The inputs to read: ``source`` (one or many), or the options' ``corpus`` when it is None."""
    from macro2micro.dataset_builder.models.assets import resolve_corpus

    if source is None:
        items: list[Any] = list(options.corpus)
    elif isinstance(source, (str, Path)) or is_in_memory(source):
        items = [source]
    elif isinstance(source, (list, tuple)) and source and all(isinstance(r, dict) for r in source):
        items = [records_dataset(source)]
    elif isinstance(source, (list, tuple)):
        items = list(source)
    else:
        raise InputError(
            f"corpus: expected a path, a Hub id, a datasets.Dataset or a list, got {type(source).__name__}"
        )
    for i, item in enumerate(items):
        if not (isinstance(item, (str, Path)) or is_in_memory(item)):
            raise InputError(
                f"corpus[{i}]: expected a path, a Hub id or a datasets.Dataset, got {type(item).__name__} {item!r:.60}"
            )
    return [item if is_in_memory(item) else resolve_corpus(str(item)) for item in items]


def records_dataset(records: list[dict] | tuple[dict, ...]) -> Any:
    """A list of records (dicts in any supported format) as an in-memory ``datasets.Dataset``."""
    import datasets

    try:
        return datasets.Dataset.from_list(list(records))
    except (TypeError, ValueError, ArithmeticError) as err:  # pyarrow's errors are ValueError/TypeError subclasses
        raise InputError(f"corpus: the records do not make one table ({err}); give a datasets.Dataset") from None


def is_clean_corpus(ds: Any) -> bool:
    """A Dataset that already has the corpus columns (the output of :func:`load_corpus`)."""
    return is_in_memory(ds) and hasattr(ds, "select") and all(c in ds.column_names for c in CORPUS_COLUMNS)


def engine_options(
    engine: EngineOptions | str | None, fields: dict[str, Any], where: str, *kinds: type
) -> EngineOptions:
    """The engine from ``engine`` (a name or the dataclass) plus its keyword fields, taken out of ``fields``
    (every other name must be a field of ``kinds``: the stage's own option dataclasses)."""
    given = split_fields(fields, EngineOptions, *kinds, where=where)[0]
    for name in given:
        del fields[name]
    if isinstance(engine, str):
        given, engine = {"engine": engine, **given}, None
    return make(EngineOptions, engine, given, "engine")


def read_corpus(inputs: list[Any], options: CorpusOptions, engine: EngineOptions) -> tuple[Any, CorpusReport]:
    """Read and clean ``inputs`` on the engine asked for (the same Dataset and report on either)."""
    if engine.ray:
        from macro2micro.dataset_builder.engine.corpus import load_corpus_ray

        return load_corpus_ray(inputs, options, engine)
    from macro2micro.dataset_builder.corpus.ingest import load_corpus as read

    return read(inputs, options)


def load_corpus(
    source: Source = None,
    options: CorpusOptions | None = None,
    engine: EngineOptions | str | None = None,
    **fields: Any,
) -> tuple[Any, CorpusReport]:
    """Read and clean an SFT corpus, as ``macro2micro ingest`` does.

    Args:
        source: files (JSONL, JSON, Parquet, CSV), folders of them, a folder written by ``ingest`` or
            ``save_to_disk``, a Hub dataset id, an in-memory ``datasets.Dataset`` / ``DatasetDict``, or a list
            of these; None reads ``options.corpus`` (by default the embedded ShareGPT sample).
        options: :class:`~macro2micro.dataset_builder.options.CorpusOptions` (format, cleaning, on_error, ...).
        engine: ``"local"`` (default), ``"ray"`` or :class:`EngineOptions`: local files read and cleaned in
            parallel blocks on Ray Data (``ray_address``, ``ray_block_rows`` may be given as keywords).
        **fields: any field of ``CorpusOptions``, e.g. ``format="alpaca"``, ``on_error="skip"``.

    Returns:
        ``(dataset, report)``: the clean corpus and a
        :class:`~macro2micro.dataset_builder.corpus.ingest.CorpusReport` of what was read, kept, dropped (by
        reason) and changed, and the turns kept by role.

    Example::

        ds, report = m2m.load_corpus(datasets.Dataset.from_list(rows), format="alpaca")
        chats, report = m2m.load_corpus("chats.jsonl.gz", multi_turn="all", max_rows=5000)
    """
    engine_opts = engine_options(engine, fields, "load_corpus", CorpusOptions)
    options = corpus_options(options, fields, "load_corpus")
    return read_corpus(resolve_inputs(source, options), options, engine_opts)


def ingest(
    source: Source,
    out: str | Path,
    options: CorpusOptions | None = None,
    overwrite: bool = False,
    engine: EngineOptions | str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """:func:`load_corpus`, written to the folder ``out`` (the rows, ``summary.json``, ``report.json``) under
    the output contract: atomic, never replacing what macro2micro did not write unless ``overwrite``.

    Returns:
        The corpus summary: rows, drops by reason, changes, lengths, fingerprint.
    """
    from macro2micro.dataset_builder.corpus.ingest import save_corpus
    from macro2micro.dataset_builder.outputs import OutputFolder

    engine_opts = engine_options(engine, fields, "ingest", CorpusOptions)
    options = corpus_options(options, fields, "ingest")
    inputs = resolve_inputs(source, options)
    paths = [i for i in inputs if not is_in_memory(i)]
    with OutputFolder(out, "ingest", inputs=paths, overwrite=overwrite).check() as tmp:
        ds, report = read_corpus(inputs, options, engine_opts)
        return save_corpus(ds, report, tmp)
