"""The result of a build in memory: one ``datasets.Dataset`` per config, with its manifest and the build's record.

``Subsets`` is a ``datasets.DatasetDict`` (one split per config, named like the configs:
``subsets["micro_response_max"]``), plus:

- ``manifests``: ``{config: manifest}``, how each subset was chosen and what else it varies;
- ``info``: the build's record (options, warnings, length control, the random control), what
  ``build.json`` holds;
- ``corpus``: the cleaned corpus the rows were drawn from (read back from a folder: the copy saved
  beside the configs when the build read an in-memory dataset, else None).

:meth:`Subsets.save` writes the Hub layout that ``publish`` completes; :meth:`Subsets.load` reads
such a folder back. Writing is a separate, optional step: nothing touches the disk until you ask.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from macro2micro.dataset_builder.defaults import PARQUET_NAME
from macro2micro.dataset_builder.hub.checks import write_json
from macro2micro.dataset_builder.hub.schemas import BuildInfo, Manifest

BUILD_INFO = "build.json"
CORPUS_COPY = "corpus"  # an in-memory corpus, saved beside the configs: publish reads it from there


class Subsets(DatasetDict):
    """The configs of a build (one split per config), their manifests and the build's record.

    Args:
        configs: ``{config: Dataset}`` in build order.
        manifests: ``{config: manifest}``.
        info: the build's record (``build.json``).
        corpus: the corpus the rows were drawn from.
    """

    def __init__(
        self,
        configs: dict[str, Dataset] | None = None,
        manifests: dict[str, dict] | None = None,
        info: dict | None = None,
        corpus: Dataset | None = None,
    ):
        super().__init__(configs or {})
        self.manifests: dict[str, dict] = dict(manifests or {})
        self.info: dict[str, Any] = dict(info or {})
        self.corpus = corpus
        self.folder: Path | None = None  # the build folder these were read from (its files are copied as they are)

    @property
    def warnings(self) -> dict[str, list[str]]:
        """``{ladder: [warning, ...]}``: repeated pools, too few types, drift in length, sources or turns."""
        return dict(self.info.get("warnings") or {})

    def __repr__(self) -> str:
        rows = ", ".join(f"{name}: {len(ds)}" for name, ds in list(self.items())[:4])
        more = f", ... ({len(self)} configs)" if len(self) > 4 else ""
        return f"Subsets({{{rows}{more}}}, warnings={sum(map(len, self.warnings.values()))})"

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the Hub layout into ``folder``: ``{config}/train-...parquet``, ``manifests/{config}.json``,
        ``build.json`` and, when the build read an in-memory dataset, that corpus in ``corpus/`` (so that
        ``publish --subsets folder`` needs nothing else). Byte-identical for the same build.

        The console script's output contract holds: written atomically; an earlier output of macro2micro is
        replaced, any other non-empty folder only with ``overwrite``.
        """
        from macro2micro.dataset_builder.outputs import OutputFolder

        inputs = [self.folder] if self.folder is not None else []
        with OutputFolder(folder, "build", inputs=inputs, overwrite=overwrite) as tmp:
            self.write(tmp)
        return Path(folder)

    def write(self, folder: str | Path, corpus_copy: bool = True) -> Path:
        """:meth:`save` into an empty or new ``folder``, without the output contract (the caller holds it);
        ``corpus_copy=False`` leaves the in-memory corpus out (a dataset repo carries it as ``full``)."""
        folder = Path(folder)
        (folder / "manifests").mkdir(parents=True, exist_ok=True)
        for config, ds in self.items():
            (folder / config).mkdir(parents=True)
            manifest = folder / "manifests" / f"{config}.json"
            if self.folder is not None:
                shutil.copy2(self.folder / config / PARQUET_NAME, folder / config / PARQUET_NAME)
                shutil.copy2(self.folder / "manifests" / f"{config}.json", manifest)
                continue
            ds.to_parquet(str(folder / config / PARQUET_NAME))
            write_json(Manifest, self.manifests[config], manifest, indent=1, ensure_ascii=False, sort_keys=True)
        if self.folder is not None:
            shutil.copy2(self.folder / BUILD_INFO, folder / BUILD_INFO)
        else:
            write_json(BuildInfo, self.info, folder / BUILD_INFO, indent=1, sort_keys=True, default=str)
        copy = None if self.folder is None else self.folder / CORPUS_COPY
        if corpus_copy and copy is not None and copy.is_dir():
            shutil.copytree(copy, folder / CORPUS_COPY)
        elif corpus_copy and self.corpus is not None and not (self.info.get("corpus") or {}).get("read_with"):
            self.corpus.save_to_disk(str(folder / CORPUS_COPY))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Subsets:
        """A build folder (written by :meth:`save` or ``macro2micro build``) read back, checked."""
        from macro2micro.dataset_builder.hub.artifacts import read_build

        info, manifests = read_build(folder)
        import pyarrow.parquet as pq

        configs = {c: Dataset(pq.read_table(Path(folder) / c / PARQUET_NAME)) for c in manifests}
        copy = Path(folder) / CORPUS_COPY
        corpus = Dataset.load_from_disk(str(copy)) if (copy / "dataset_info.json").is_file() else None
        subsets = cls(configs, manifests, info, corpus=corpus)
        subsets.folder = Path(folder)
        return subsets
