"""What the commands print: one function per kind of result, shared by the commands and the demo."""

from __future__ import annotations

import json
import sys


def say(text: str = "") -> None:
    print(text, flush=True)


def corpus_summary(summary: dict, out: str | None = None) -> None:
    keys = (
        "rows",
        "rows_read",
        "dropped",
        "changed",
        "sample",
        "formats",
        "options",
        "turns",
        "sources",
        "instruction",
        "response",
        "errors_skipped",
    )
    say(json.dumps({k: summary[k] for k in keys if k in summary}, indent=2, ensure_ascii=False))
    if out:
        say(f"wrote {summary['rows']} rows to {out}")


def _k(m: dict) -> str:
    return "-" if m.get("k") is None else str(m["k"])


def manifests(items: list[dict], out: str | None = None) -> None:
    say(f"{'config':<34} {'k':>6} {'pool':>8}  sha256")
    for m in items:
        say(f"{m['config']:<34} {_k(m):>6} {m['pool_size']:>8}  {m['manifest_sha256'][:12]}")
    if out:
        say(f"wrote {len(items)} configs to {out}")


def train_results(results: dict) -> None:
    for config, r in results.items():
        if isinstance(r, str):
            say(r if r != "skipped" else f"{config:<34} skipped (finished already)")
        else:
            loss = "not finite (diverged)" if r["train_loss"] is None else f"{r['train_loss']:.4f}"
            say(f"{config:<34} loss {loss}, {r['steps']} steps, {r['train_seconds']:.0f} s")


def scores(results: dict, baseline: str) -> None:
    for config, s in results["scores"].items():
        lo, hi = s["ci95"]
        say(
            f"{config:<34} win-rate {s['win_rate']:5.1f}% vs {baseline}  CI [{lo:.1f}, {hi:.1f}]  "
            f"unparseable {s['unparseable']}"
        )
    for strategy, fit in results["fits"].items():
        r = "n/a" if fit["r"] is None else f"{fit['r']:+.2f}"
        say(f"{strategy:<34} slope {fit['slope']:+.2f} points / 100 % diversity, r {r}")
    for note in results.get("analysis_notes", []):
        say(f"note: {note}")


def error(command: str, message: str) -> None:
    print(f"macro2micro {command}: error: {message}", file=sys.stderr, flush=True)
