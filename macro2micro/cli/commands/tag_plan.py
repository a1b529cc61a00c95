"""``macro2micro tag-plan``: the dry run of the LLM tagger (calls and tokens it would spend)."""

from __future__ import annotations

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.corpus.ingest import column, open_corpus
from macro2micro.dataset_builder.options import CorpusOptions, EmbedderOptions, MesoOptions
from macro2micro.dataset_builder.types.meso import MesoStrategy


class TagPlanCommand(Command):
    name = "tag-plan"
    help = "dry run of the LLM tagger: the calls and tokens it would spend"
    options = (CorpusOptions, MesoOptions, EmbedderOptions)

    def run(self, corpus: CorpusOptions, meso: MesoOptions, embedder: EmbedderOptions) -> dict:
        ds, _ = open_corpus(corpus)
        plans = {}
        for side in ("instruction", "response"):
            tagger = MesoStrategy(side, meso, embedder).make_tagger()
            plans[f"meso_{side}"] = (
                tagger.plan(column(ds, side))
                if hasattr(tagger, "plan")
                else {"calls": 0, "note": "the offline tagger calls no model"}
            )
        return plans

    def report(self, plans: dict, *options) -> None:
        for name, plan in plans.items():
            report.say(f"{name}: {plan}")
