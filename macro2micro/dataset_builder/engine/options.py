"""Which engine runs the stages that touch every row, and the Ray cluster it uses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from macro2micro.dataset_builder.errors import OptionsError

ENGINES = ("local", "ray")
_ADDRESS = re.compile(r"(auto|ray://[\w.-]+:\d+|[\w.-]+:\d+)")


@dataclass
class EngineOptions:
    """The engine of the per-row stages (ingest's reading and cleaning, build's token ids and embeddings).

    The engine never changes a result: the same corpus, options and seed give the same bytes on either.
    """

    engine: Literal["local", "ray"] = field(
        default="local",
        metadata={
            "help": "local: in this process; ray: Ray Data (reading, cleaning, token ids and band counts as "
            "parallel maps, embeddings as an actor pool with a GPU per actor where the cluster has GPUs; needs "
            "`pip install 'macro2micro[ray]'`)"
        },
    )
    ray_address: str | None = field(
        default=None,
        metadata={
            "help": "with --engine ray: the cluster to join, auto (the one `ray start --head` started here) or "
            "ray://HOST:PORT (unset: a local cluster of this machine's CPUs, started for the run, then stopped)"
        },
    )
    ray_block_rows: int = field(
        default=8192, metadata={"help": "with --engine ray: rows per block of the parallel maps"}
    )

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise OptionsError(f"engine={self.engine!r}; valid: {', '.join(ENGINES)}")
        if self.ray_address is not None:
            if self.engine != "ray":
                raise OptionsError(f"ray_address={self.ray_address!r} needs --engine ray (engine={self.engine!r})")
            if not _ADDRESS.fullmatch(self.ray_address):
                raise OptionsError(
                    f"ray_address={self.ray_address!r}; valid: auto, ray://HOST:PORT or HOST:PORT (unset: a local "
                    "cluster started for the run)"
                )
        if self.ray_block_rows < 1:
            raise OptionsError(f"ray_block_rows={self.ray_block_rows} must be a positive number of rows")

    @property
    def ray(self) -> bool:
        return self.engine == "ray"
