"""``macro2micro tag-plan``: the dry run of the LLM tagger (calls and tokens it would spend)."""

from __future__ import annotations

from macro2micro.api.extras import plan_tagging
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.options import CorpusOptions, EmbedderOptions, MesoOptions


class TagPlanCommand(Command):
    name = "tag-plan"
    help = "dry run of the LLM tagger: the calls and tokens it would spend"
    options = (CorpusOptions, MesoOptions, EmbedderOptions)

    def run(self, corpus: CorpusOptions, meso: MesoOptions, embedder: EmbedderOptions) -> dict:
        return plan_tagging(None, meso, embedder, corpus)

    def report(self, plans: dict, *options) -> None:
        for name, plan in plans.items():
            report.say(f"{name}: {plan}")
