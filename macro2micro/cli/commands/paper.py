"""``macro2micro paper``: the paper's 18 series and 3 ablations, fitted beside the slopes it reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command


@dataclass
class PaperOptions:
    """Where the paper check writes its report and plot."""

    out: str = field(default="paper_check", metadata={"help": "folder for paper.md, paper.json, paper_series.png"})


class PaperCommand(Command):
    name = "paper"
    help = "fit the paper's own scores (18 series, 3 ablations) and compare with the slopes it reports"
    options = (PaperOptions,)

    def run(self, options: PaperOptions) -> dict:
        from macro2micro.api.extras import paper_check

        return paper_check(options.out)

    def report(self, result: dict, options: PaperOptions) -> None:
        report.say(f"{'series':<24} {'fitted':>7} {'95 % CI':>17} {'r':>6} {'paper':>7}")
        for name, s in result["series"].items():
            f = s["fit"]
            mark = "" if s["agrees"] else f"  differs ({s['why_not'] or 'unexplained'})"
            report.say(
                f"{name:<24} {f['slope']:+7.2f} [{f['slope_ci95'][0]:+6.2f}, {f['slope_ci95'][1]:+6.2f}] "
                f"{f['r']:+6.2f} {s['paper_slope']:+7.2f}{mark}"
            )
        for name, a in result["ablations"].items():
            report.say(
                f"ablation {name:<26} slope {a['fit']['slope']:+.2f} (paper ~{a['paper_slope']:+.1f}), "
                f"r {a['fit']['r']:+.2f}"
            )
        report.say(
            f"{result['agree']} of {result['total']} slopes within +-{result['tolerance']}; "
            f"report in {options.out}/paper.md"
        )
