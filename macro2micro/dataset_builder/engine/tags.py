"""Meso's LLM tags on Ray Data: an actor pool whose actors each hold one backend (a local chat model on a GPU,
or a client of an OpenAI-compatible server), filling the LLM tagger's own cache.

Only texts the cache lacks are sent, each once; replies that parse are appended to the tagger's cache file in
its format, so the build's tagger then reads every tag from the cache, as a rerun of the local engine does.
Failed or unparseable replies are not cached: the build's tagger asks again for those, counts them and warns,
as the local engine does. The tagger's call and cache-hit counts (in a meso manifest's ``tagger_stats``) are
those of a rerun: on either engine they differ between a first run and a rerun.
"""

from __future__ import annotations

import json
import logging
import time

import pyarrow as pa

from macro2micro.dataset_builder.corpus.ingest import column
from macro2micro.dataset_builder.engine.cluster import cluster
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.options import MesoOptions

logger = logging.getLogger(__name__)
TAGGED_ON_INSTRUCTIONS = ("instag", "deita")  # the baselines that rank rows by their instructions' meso tags


def tagged_sides(strategies: list[str], meso: MesoOptions) -> list[str]:
    """The sides an LLM tagger tags in this build (none with the offline tagger: it has no cache to fill)."""
    if meso.tagger == "offline":
        return []
    sides = {name.split("_", 1)[1] for name in strategies if name.startswith("meso_")}
    if set(TAGGED_ON_INSTRUCTIONS) & set(strategies):
        sides.add("instruction")
    return sorted(sides)


def _tagger(meso: MesoOptions, side: str, device: str | None = None):
    from macro2micro.dataset_builder.types.meso import MesoStrategy

    tagger = MesoStrategy(side, meso).make_tagger()
    if device is not None and hasattr(tagger.backend, "device"):
        tagger.backend.device = device
    return tagger


class Tagger:
    """An actor of the tagging pool: one backend (and its model, loaded on first use), block after block."""

    def __init__(self, meso: MesoOptions, side: str, device: str | None):
        self.tagger = _tagger(meso, side, device)

    def __call__(self, batch: pa.Table) -> pa.Table:
        from macro2micro.dataset_builder.types.tagging import parse_tags

        texts = batch["text"].to_pylist()
        replies = self.tagger.backend.generate([self.tagger.prompt.format(text=t) for t in texts])
        tags = [None if isinstance(r, Exception) else parse_tags(r) for r in replies]
        return pa.table({"h": batch["h"], "tags": [None if t is None else json.dumps(t) for t in tags]})


def ray_tags(ray, corpus, strategies: list[str], meso: MesoOptions, options: EngineOptions, record: dict) -> None:
    """The LLM tags of every side this build tags, into the tagger's cache."""
    for side in tagged_sides(strategies, meso):
        tagger = _tagger(meso, side)
        cache = tagger._load_cache()
        todo: dict[str, str] = {}
        for text in column(corpus, side):
            cut = text[: tagger.max_chars]
            h = tagger._hash(cut)
            if h not in cache:
                todo.setdefault(h, cut)
        if not todo:
            continue
        gpus = int(cluster(ray)["GPU"]) if meso.tagger == "transformers" else 0
        table = pa.table({"h": list(todo), "text": list(todo.values())})
        blocks = [table.slice(i, options.ray_block_rows) for i in range(0, len(table), options.ray_block_rows)]
        actors = min(len(blocks), gpus or 2)  # a server's client needs no GPU: two actors keep requests flowing
        pool = {"num_gpus": 1, "concurrency": actors} if gpus else {"num_cpus": 1, "concurrency": actors}
        start = time.perf_counter()
        replies = ray.data.from_arrow(blocks).map_batches(
            Tagger,
            fn_constructor_args=(meso, side, "cuda" if gpus else None),
            batch_format="pyarrow",
            batch_size=None,
            **pool,
        )
        got = {r["h"]: r["tags"] for r in replies.take_all()}
        with open(tagger._cache_file(), "a", encoding="utf-8") as f:
            for h in todo:  # in the corpus's order, as the local tagger appends them
                if got.get(h) is not None:
                    f.write(json.dumps({"h": h, "tags": json.loads(got[h])}, ensure_ascii=False) + "\n")
        failed = sum(1 for h in todo if got.get(h) is None)
        record.setdefault("tags", {})[side] = {
            "texts": len(todo),
            "failed": failed,
            "actors": pool,
            "seconds": round(time.perf_counter() - start, 3),
        }
        if failed:
            logger.warning(
                "ray engine: %d of %d %s texts got no tags; the build's tagger asks again", failed, len(todo), side
            )
