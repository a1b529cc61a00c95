"""The README's Performance tables, from the JSON files of one ``make bench`` run (not a test).

    python bench/report.py [--dir bench_out]     # prints Markdown; bench/all.sh runs it last

Every figure below is read from ``bench_out/*.json``; a file that is missing leaves its table out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load(folder: Path, name: str) -> dict | list | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def pipeline(p: dict) -> list[str]:
    y, c, w, r = p["yardstick"], p["cold"], p["warm"], p["ratios"]
    rss = max(s["peak_rss_mb"] for run in (c, w) for k, s in run.items() if k != "total_s")
    return [
        f"**The micro pipeline at the paper's scale** (`bench/pipeline.py`): {y['rows']:,} real pairs "
        f"({y['chars'] / 1e6:.0f}M characters, `bench/paper_corpus.py`), N = {p['budget']:,}, micro_instruction + "
        "micro_response + random at 7 levels, publish without embeddings; each stage in its own process.",
        "",
        "| | ingest | build | publish | total | vs the raw tokenizer | goal |",
        "|---|---|---|---|---|---|---|",
        f"| cold (empty feature cache) | {c['ingest']['s']:.1f} s | {c['build']['s']:.1f} s | "
        f"{c['publish']['s']:.1f} s | {c['total_s']:.1f} s | **{r['cold_vs_raw_tokenizer']:.2f}x** | <= 5x |",
        f"| warm | {w['ingest']['s']:.1f} s | {w['build']['s']:.1f} s | {w['publish']['s']:.1f} s | "
        f"{w['total_s']:.1f} s | **{r['warm_vs_raw_tokenizer']:.2f}x** | <= 3x |",
        "",
        f"The yardstick is the raw fast tokenizer (`encode_batch_fast`) on both sides: {y['raw_tokenizer_s']:.1f} s. "
        f"Our micro features on the same texts take {y['micro_features_s']:.1f} s, "
        f"**{y['micro_features_throughput_vs_raw']:.3f}** of its throughput (goal >= 0.9). "
        f"Peak RSS {rss / 1024:.2f} GB.",
    ]


def ladder(d: dict) -> list[str]:
    small, full, scale = d["small"], d["full"], d.get("scale")
    lines = [
        "",
        "**The ladder engine** (`bench/ladder.py`):",
        "",
        "| run | size | time | peak RSS |",
        "|---|---|---|---|",
        f"| against a plain-Python reference | {small['samples']:,} x {small['types']:,} types, 7 levels | "
        f"{small['engine']['total_s']:.3f} s vs {small['reference_s']:.1f} s (**{small['speedup']:.0f}x**) | |",
        f"| the paper's scale | {full['samples']:,} x {full['types']:,} types ({full['nnz'] / 1e6:.1f}M entries), "
        f"N = {full['budget']:,}, 7 levels | prune {full['engine']['prune_s']:.3f} s + sampling "
        f"{full['engine']['sample_7_levels_s']:.3f} s | {full['peak_rss_mb']:.0f} MB |",
    ]
    if scale:
        lines.append(
            f"| pruning alone (goal < 1 s) | {scale['samples']:,} x {scale['types']:,} types "
            f"({scale['nnz'] / 1e6:.1f}M entries), best of {scale['repeat']} | **{scale['prune']['s']:.3f} s** | "
            f"{scale['prune']['peak_rss_mb']:.0f} MB |"
        )
    if "embedded" in d:
        e = d["embedded"]
        lines.append(
            f"| the demo corpus's micro_response ladder | {e['rows']:,} x {e['types']:,} types | "
            f"{e['engine']['total_s']:.3f} s | |"
        )
    lines.append(
        f"\nThe first `prune` in a process loads the numba kernels from their cache: {d['first_prune_call_s']:.1f} s "
        "(never inside a timed figure)."
    )
    return lines


def words(d: dict) -> list[str]:
    t = d["tokenizer"]
    same = all(v == 0.0 for side in d["metrics"].values() for v in side["relative_difference"].values())
    return [
        "",
        f"**Metric words** (`bench/words.py`, {d['texts']:,} texts, {d['chars'] / 1e6:.1f}M characters): our "
        f"Treebank tokenizer {t['ours_words']['wall_s']:.2f} s against nltk's {t['nltk']['wall_s']:.2f} s "
        f"(**{t['speedup_words']['wall_x']:.1f}x**; straight to cached ids {t['speedup_ids']['wall_x']:.1f}x; goal "
        f">= 10x), {t['texts_differing']} texts differing; distinct-1, distinct-2 and Self-BLEU "
        f"{'exactly equal to nltk' if same else 'differ from nltk (see words.json)'}.",
    ]


def static_embedder(d: dict) -> list[str]:
    t, u = d["throughput"], d["clusters_umap"]
    return [
        "",
        f"**The static embedder** (`bench/static_embedder.py`, {d['texts']['n']:,} corpus instructions): "
        f"{t['static_texts_per_s']:,.0f} texts/s against MiniLM's {t['minilm_texts_per_s']:.1f} "
        f"(**{t['ratio']:.0f}x**, goal >= 50x). Macro clusters (UMAP + HDBSCAN), adjusted Rand index: "
        f"MiniLM against MiniLM with another reducer seed {u['yardstick_minilm_vs_minilm_other_seed']['ari']:.2f}; "
        f"the static embedder as `--embedder static` clusters it (centered) against itself with another seed "
        f"{u['static_centered_vs_other_seed']['ari']:.2f}, against MiniLM "
        f"**{u['minilm_vs_static_centered']['ari']:.2f}** (uncentered: {u['static_vs_static_other_seed']['ari']:.2f} "
        f"against itself). It is stable, and a different macro type from MiniLM's.",
    ]


def features(d: dict) -> list[str]:
    th = d["torch_threads"]
    lines = [
        "",
        f"**Torch threads** (`bench/features.py`): MiniLM embeds {th['1_threads_per_s']:.1f} texts/s on one "
        f"thread and {max(v for k, v in th.items() if k.endswith('_per_s')):.1f} on every core "
        f"(**{th['gain']:.2f}x**); training and generation use the same setting.",
    ]
    e = d["embeddings"]
    lines.append(
        f"Our embedding path runs at {e['ratio']:.2f} of `SentenceTransformer.encode` alone on the same texts."
    )
    if "hdbscan_after_pca5" in d:
        cells = ", ".join(f"{r['points'] // 1000}K points {r['hdbscan_s']:.1f} s" for r in d["hdbscan_after_pca5"])
        lines.append(f"HDBSCAN after PCA to 5 dimensions: {cells}.")
    if "offline_tagger" in d:
        lines.append(f"The offline tagger: {d['offline_tagger']['texts_per_s']:,.0f} texts/s.")
    return lines


def train(rows: list[dict]) -> list[str]:
    many = [r for r in rows if r["threads"] > 1] or rows
    one = [r for r in rows if r["threads"] == 1 and not r["packing"]]
    cells = ", ".join(f"{r['tokens_per_s']:.1f} tokens/s {'packed' if r['packing'] else 'unpacked'}" for r in many)
    line = (
        f"**Training** (`bench/train.py`, the demo recipe on {many[0]['device'].upper()}, "
        f"{many[0]['threads']} threads): {cells}"
    )
    if one and many[0]["threads"] > 1:
        line += f"; one thread, unpacked: {one[0]['tokens_per_s']:.1f}"
    return ["", line + "."]


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def demo_table(stages: list[dict]) -> list[str]:
    """The demo's stages: wall, CPU (user + sys, all threads) and peak RSS, plus a total row."""
    lines = ["| stage | wall | CPU (user+sys) | peak RSS |", "|---|---|---|---|"]
    for s in stages:
        lines.append(f"| {s['stage']} | {_minutes(s['wall_s'])} | {_minutes(s['cpu_s'])} | {s['peak_rss_mb']:,} MB |")
    wall, cpu = sum(s["wall_s"] for s in stages), sum(s["cpu_s"] for s in stages)
    peak = max(s["peak_rss_mb"] for s in stages)
    return lines + [f"| **total** | **{_minutes(wall)}** | {_minutes(cpu)} | {peak:,} MB |"]


def demo(d: dict) -> list[str]:
    return [
        "",
        f"**The demo's first run** (`bench/demo.py`: `macro2micro demo` with empty model, feature, Hugging Face and "
        f"numba caches; {d['cpus']} CPUs, load average {d['load_average_1min_at_end']} at its end):",
        "",
        *demo_table(d["stages"]),
    ]


def gpu(d: dict) -> list[str]:
    lines = [
        "",
        f"**On a GPU** (`bench/gpu.py`, {d['device']}, random weights of each recipe's architecture, packed "
        f"sequences; MFU against {d['peak_tflops_bf16']} TFLOP/s dense bf16):",
        "",
        "| recipe | seq x batch | tokens/s | MFU | peak memory |",
        "|---|---|---|---|---|",
    ]
    for r in d["train"]:
        mfu = "-" if r.get("mfu") is None else f"{100 * r['mfu']:.1f} %"
        lines.append(
            f"| `{r['recipe']}` | {r['seq_len']} x {r['batch']} | {r['tokens_per_s']:,.0f} | {mfu} | "
            f"{'-' if 'max_memory_gib' not in r else str(r['max_memory_gib']) + ' GiB'} |"
        )
    cells = ", ".join(f"{r['texts_per_s']:,.0f} texts/s in {r['dtype']}" for r in d["encode"])
    return lines + ["", f"The macro embedder's architecture (MiniLM-L6, 128 word pieces): {cells}."]


def engine(d: dict) -> list[str]:
    loc, ray, over, blk, tm = d["local"], d["ray"], d["overhead"], d["per_block"], d["type_matrix"]
    names = {
        "ingest": "ingest",
        "build": "build (micro x 2 + random)",
        "embed_static": "embeddings (static, response)",
    }
    lines = [
        "",
        f"**`--engine ray` against `--engine local`** (`bench/engine.py`, {tm['rows']:,} rows, {d['cpus']} CPUs, a "
        "local Ray cluster started by each Ray run; CPU = user + system of every process of the run, Ray's workers "
        "included):",
        "",
        "| stage | local wall / CPU | ray wall / CPU | overhead (wall, CPU) | driver peak RSS local / ray |",
        "|---|---|---|---|---|",
    ]
    for stage, label in names.items():
        a, b, o = loc[stage], ray[stage], over[stage]
        lines.append(
            f"| {label} | {a['s']:.1f} s / {a['cpu_s']:.1f} s | {b['s']:.1f} s / {b['cpu_s']:.1f} s | "
            f"**{o['wall_ratio']:.2f}x**, {o['cpu_ratio']:.2f}x | "
            f"{a['driver_peak_rss_mb']} / {b['driver_peak_rss_mb']} MB |"
        )
    lines += [
        "",
        f"Same manifests on both engines: {'yes' if d['same_manifests'] else '**no**'}. One worker on one block of "
        f"{blk['rows']:,} rows, per CPU second (per wall second on the loaded machine): reading and cleaning "
        f"{blk['clean_rows_per_cpu_s']:,} ({blk['clean_rows_per_s']:,}) rows, token ids of both sides "
        f"{blk['tokenize_rows_per_cpu_s']:,} ({blk['tokenize_rows_per_s']:,}), static embeddings of one side "
        f"{blk['embed_static_rows_per_cpu_s']:,} ({blk['embed_static_rows_per_s']:,}). The micro type matrix "
        f"holds {tm['instruction']['nnz_per_row']} (instruction) and {tm['response']['nnz_per_row']} (response) "
        f"entries per row, from {tm['instruction']['tokens_per_row']} and {tm['response']['tokens_per_row']} "
        "tokens per row.",
    ]
    return lines


def memory(d: dict, before: dict | None = None) -> list[str]:
    """Peak RSS per stage and size (``bench/memory.py``); ``before``: the same run of older code, if there is one."""
    old = {(r["rows"], r["chars"]): r["stages"] for r in (before or {}).get("runs", [])}
    lines = [
        "",
        f"**Memory** (`bench/memory.py`): unique copies of the bench corpus's rows of at most "
        f"{d.get('max_row_chars', 650)} characters, N = {d['budget']:,}, micro_instruction + micro_response + random, "
        "publish without embeddings; each stage in its own process with an empty feature cache. Peak RSS"
        + (" (before: the same corpus through the code before the change)" if old else "")
        + ", wall and CPU (user + sys) seconds:",
        "",
        "| rows | characters | ingest | build | publish |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(d["runs"], key=lambda r: r["rows"]):
        prev = old.get((r["rows"], r["chars"]), {})
        cells = []
        for stage in ("ingest", "build", "publish"):
            s = r["stages"][stage]
            was = f" (before {prev[stage]['peak_rss_mb'] / 1024:.2f})" if stage in prev else ""
            cells.append(f"**{s['peak_rss_mb'] / 1024:.2f} GB**{was}, {s['s']:.0f} s, CPU {s['cpu_s']:.0f} s")
        lines.append(f"| {r['rows']:,} | {r['chars'] / 1e6:.0f}M | " + " | ".join(cells) + " |")
    f = d["fit"]
    per = ", ".join(
        f"{stage} {f[stage]['bytes_per_char']:.2f} bytes per character over {f[stage]['fixed_mb']} MB fixed"
        + (f" (24 GB: {f[stage]['rows_24gb'] / 1e6:.1f}M rows)" if f[stage]["rows_24gb"] else "")
        for stage in ("ingest", "build", "publish")
    )
    goals = ", ".join(f"{k} < {v} GB" for k, v in d["goals_gb"].items())
    return lines + [
        "",
        f"Peak against corpus size, fitted at {f['chars_per_row']:.0f} characters per row: {per}. "
        f"Goals at about 1M rows and 300M characters: {goals}.",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("bench_out"))
    folder = ap.parse_args().dir
    out: list[str] = []
    for name, render in [
        ("demo", demo),
        ("pipeline", pipeline),
        ("ladder", ladder),
        ("words", words),
        ("static_embedder", static_embedder),
        ("features", features),
        ("train", train),
        ("gpu", gpu),
        ("engine", engine),
        ("memory", lambda d: memory(d, _load(folder, "memory_before"))),
    ]:
        data = _load(folder, name)
        if data is not None:
            out += render(data)
    print("\n".join(out))


if __name__ == "__main__":
    main()
