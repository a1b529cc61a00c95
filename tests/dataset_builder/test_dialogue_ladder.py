"""A micro_response ladder over whole dialogues, from a gzipped file of chats with system prompts, content parts,
tool turns and unanswered last questions: every turn kept, k rising, turns per row measured, warned about, shown."""

import gzip
import json

import numpy as np

from macro2micro.dataset_builder.metrics import variation

SYSTEM = "You are a helpful assistant."


def _chats(n: int = 300) -> list[dict]:
    """Messages records of 1..4 exchanges (the synthetic corpus's texts), some in the other shapes chats come in."""
    from tests.conftest import make_synthetic_corpus

    records = []
    for i, row in enumerate(make_synthetic_corpus(n=n, max_turns=4, system=SYSTEM)):
        messages = [dict(m) for m in row["messages"]]
        if i % 5 == 1:  # the first user turn as OpenAI content parts
            messages[1]["content"] = [{"type": "text", "text": t} for t in messages[1]["content"].split(" ", 1)]
        if i % 7 == 2:  # a tool call and its result before the first reply
            call = {"id": "c", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            messages[2:2] = [
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "content": "found w1 w2"},
            ]
        if i % 11 == 3:  # an unanswered last question
            messages.append({"role": "user", "content": "anything else?"})
        records.append({"id": row["id"], "source": row["source"], "messages": messages})
    return records


def test_a_micro_response_ladder_over_whole_dialogues(tmp_path):
    import datasets

    from macro2micro.dataset_builder.corpus.table import turns_per_row
    from macro2micro.dataset_builder.hub.repo import load_config
    from macro2micro.space_app import logic
    from tests.helpers import build_repo

    records = _chats()
    path = tmp_path / "chats.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    repo, metrics = build_repo(str(path), tmp_path, budget=30, levels=3, multi_turn="all", max_rows=280, sample_seed=1)
    info = json.loads((repo / "build.json").read_text())
    assert info["corpus"]["shape"] == {"multi_turn": "all", "system": "keep", "system_side": "none"}
    assert info["corpus"]["sample"] == {"max_rows": 280, "seed": 1, "from_rows": 300}
    ladder = [f"micro_response_{level}" for level in ("min", "50", "max")]
    ks = [metrics[c]["k"] for c in ladder]
    assert ks[0] < ks[1] < ks[2]

    # every turn of every kept row, as the source file had it (parts joined, the tool call a turn, the
    # unanswered question left out); the sides are the user and the assistant turns
    full = load_config(repo, "full")
    assert len(full) == 280
    source = {r["id"]: r["messages"] for r in records}
    for row in full:
        expected = []
        for m in source[row["id"]]:
            if m.get("tool_calls"):
                expected.append({"role": "tool_call", "content": json.dumps({"tool_calls": m["tool_calls"]})})
            elif isinstance(m["content"], list):
                expected.append({"role": m["role"], "content": "\n".join(p["text"] for p in m["content"])})
            else:
                expected.append(m)
        while expected[-1]["role"] != "assistant":
            expected.pop()
        assert row["messages"] == expected and row["system"] == SYSTEM
        users = [m["content"] for m in expected if m["role"] == "user"]
        assert row["instruction"] == "\n\n".join(users)
    for config in datasets.get_dataset_config_names(str(repo)):
        ds = load_config(repo, config)
        assert set(ds["id"]) <= set(full["id"])

    # turns per row: measured per config, warned about along the ladder, shown in the card and the Space
    turns = [metrics[c]["varies"]["turns"]["mean"] for c in ladder]
    assert turns[-1] / turns[0] > variation.TURNS_RATIO_WARN
    top = load_config(repo, "micro_response_max")
    assert np.isclose(turns[-1], turns_per_row(top).mean(), atol=1e-3)
    assert any("mean turns per row move" in w for w in info["warnings"]["micro_response"])
    card = (repo / "README.md").read_text()
    assert "| turns |" in card and "corpus of 280\nconversations (fingerprint" in card
    assert f"A row is a whole conversation ({metrics['full']['varies']['turns']['mean']:.2f} assistant turns" in card
    assert "seeded uniform sample (seed 1) of 280 of the 300 rows left after cleaning" in card
    assert "System prompts are kept" in card and "mean turns per row move" in card
    shares = metrics["micro_response_max"]["varies"]["turns"]["shares"]
    assert f"| {turns[-1]:.2f} ({' / '.join(f'{100 * v:.0f}' for v in shares.values())} %) |" in card
    art = logic.load_artifacts(str(repo))
    table = logic.variation_table(art).set_index("config")
    assert table.loc["micro_response_max", "turns mean"] == turns[-1]
    samples = logic.sample_rows(art, "micro_response_max", "", 30)
    assert samples["turns"].tolist() == turns_per_row(top).tolist() and set(samples["system"]) == {SYSTEM}


def test_turns_warning_thresholds():
    def manifest(config, mean):
        return {
            "config": config,
            "k": 1,
            "k_min": 1,
            "k_max": 9,
            "varies": {"length": {s: {"mean": 10.0} for s in ("instruction", "response")}, "sources": {}}
            | ({"turns": {"mean": mean}} if mean is not None else {}),
        }

    def warned(means):
        made = [manifest(f"l_{i}", m) for i, m in enumerate(means)]
        return [w for w in variation.ladder_warnings("l", made, 3) if "turns per row" in w]

    assert warned([2.0, 2.2, 2.4]) == []  # 1.2x
    assert warned([2.0, 2.3, 2.6]) == [
        "l: mean turns per row move 1.30x across the ladder (2.00 at l_0, 2.60 at l_2): rows of more turns carry "
        "more types, and more assistant turns are trained per row"
    ]
    assert warned([1.0, 1.0, 1.0]) == [] and warned([None, None, None]) == []  # single-turn, or an older build
