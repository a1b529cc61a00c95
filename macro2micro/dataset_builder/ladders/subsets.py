"""The result of a build in memory: one ``datasets.Dataset`` per config, with its manifest and the build's record.

``Subsets`` is a ``datasets.DatasetDict`` (one split per config, named like the configs:
``subsets["micro_response_max"]``), plus:

- ``manifests``: ``{config: manifest}``, how each subset was chosen and what else it varies;
- ``info``: the build's record (options, warnings, length control, the random control), what
  ``build.json`` holds;
- ``corpus``: the cleaned corpus the rows were drawn from (None once read back from a folder).

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

    def save(self, folder: str | Path) -> Path:
        """Write the Hub layout into the (empty or new) ``folder``: ``{config}/train-...parquet``,
        ``manifests/{config}.json`` and ``build.json``. Byte-identical for the same build.

        For the output contract of the console script (atomic, never clobbering), write through
        :class:`~macro2micro.dataset_builder.outputs.OutputFolder`.
        """
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
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Subsets:
        """A build folder (written by :meth:`save` or ``macro2micro build``) read back, checked."""
        from macro2micro.dataset_builder.hub.artifacts import read_build

        info, manifests = read_build(folder)
        import pyarrow.parquet as pq

        configs = {c: Dataset(pq.read_table(Path(folder) / c / PARQUET_NAME)) for c in manifests}
        subsets = cls(configs, manifests, info)
        subsets.folder = Path(folder)
        return subsets
