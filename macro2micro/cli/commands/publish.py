"""``macro2micro publish``: score every config, write the dataset repo folder, and upload it in one commit."""

from __future__ import annotations

from dataclasses import dataclass, field

from macro2micro.api.publish import publish
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import MetricOptions, OutputOptions, PublishOptions
from macro2micro.dataset_builder.parsing import required


@dataclass
class PublishInputs:
    """The build to publish, and the corpus it was built from."""

    subsets: str | None = field(default=None, metadata={"help": "folder written by `macro2micro build` (required)"})
    corpus: list[str] | None = field(
        default=None,
        metadata={
            "help": "the corpus the build used (unset: where build.json says it was read from, read the same way)"
        },
    )
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "model whose tokenizer counts lengths and entropy (unset: the one the build used)"},
    )
    embedder: str | None = field(
        default=None,
        metadata={
            "help": "sentence-embedding model of the embedding distance: local path, Hub id, 'static' or none "
            "(unset: the one the build used)"
        },
    )
    max_seq_length: int | None = field(
        default=None, metadata={"help": "embedding truncation, in word pieces (unset: the build's)"}
    )

    def __post_init__(self) -> None:
        if not self.subsets:
            raise OptionsError("subsets: give the folder written by `macro2micro build` (--subsets)")


class PublishCommand(Command):
    name = "publish"
    help = "score every config and write (and upload) the Hub dataset repo folder"
    options = (PublishInputs, PublishOptions, MetricOptions, OutputOptions)

    def run(self, inputs: PublishInputs, options, metric, output: OutputOptions) -> dict:
        return publish(
            required(inputs.subsets, "subsets"),
            required(output.out, "out"),
            inputs.corpus,
            options,
            metric,
            tokenizer=inputs.tokenizer,
            embedder=inputs.embedder,
            overwrite=output.overwrite,
            **({} if inputs.max_seq_length is None else {"max_seq_length": inputs.max_seq_length}),
        )

    def report(self, result: dict, *options) -> None:
        report.say(
            f"wrote the dataset repo folder {result['out']} ({len(result['rows'])} configs, each loaded "
            "back with load_dataset)"
        )
        if result["commit"]:
            report.say(result["commit"])
