"""``macro2micro space``: the Gradio Space on published artifacts, locally."""

from __future__ import annotations

from dataclasses import dataclass, field

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.errors import OptionsError


@dataclass
class SpaceOptions:
    """What the Space shows and where it listens."""

    repo: str = field(default="demo_out/hub_dataset", metadata={"help": "dataset repo folder or Hub id"})
    results: str | None = field(
        default=None,
        metadata={
            "help": "results.json written by `macro2micro evaluate` (unset: the repo's published results, if any)"
        },
    )
    runs: str | None = field(default=None, metadata={"help": "adapters folder, for live generation"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=7860, metadata={"help": "port to listen on"})
    deploy: str | None = field(
        default=None,
        metadata={
            "help": "instead of serving here, create or update this Space repo (ORG/NAME) to show --repo (a dataset "
            "repo id) from the Hub"
        },
    )
    private: bool = field(default=False, metadata={"help": "with --deploy: create the Space private"})

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise OptionsError(f"port={self.port} must lie in 1..65535")
        if self.deploy is not None:
            from macro2micro.dataset_builder.naming import check_repo_id

            check_repo_id(self.deploy, "--deploy")


class SpaceCommand(Command):
    name = "space"
    help = "launch the Gradio Space on published artifacts"
    options = (SpaceOptions,)

    def run(self, options: SpaceOptions) -> dict | None:
        from macro2micro.api.extras import deploy_space, launch_space

        if options.deploy:
            return deploy_space(options.deploy, options.repo, options.private)
        launch_space(
            options.repo,
            options.results,
            options.runs,
            host=options.host,
            port=options.port,
            on_ready=lambda url: report.say(f"macro2micro space: {url} (Ctrl+C to stop)"),
        )
        return None

    def report(self, result: dict | None, options: SpaceOptions) -> None:
        if result:
            report.say(
                f"deployed {result['space']} (macro2micro {result['version']}, data made by "
                f"{result['data_version']}): {result['commit']}"
            )
