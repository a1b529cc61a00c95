"""The cards say only what is true of the data: what was held fixed, what varies, scores, no placeholders."""

import enum

import pytest

from macro2micro.model_cards.model_card import adapter_repo_name, readable, render_model_card, rerender_model_card

INFO = {
    "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "config": "micro_response_max",
    "recipe": "demo",
    "rows": 16,
    "steps": 12,
    "epochs": 0.0625,
    "train_loss": 1.23456,
    "train_seconds": 42.0,
    "dataset_repo": None,
    "metrics": {},
    "hyperparameters": {"lr_scheduler_type": "constant", "lora_r": 8},
    "local_path": "runs/micro_response_max",
}


def test_model_card_as_run_readable_and_without_placeholders(tmp_path):
    class Scheduler(enum.Enum):
        CONSTANT = "constant"

    assert readable(Scheduler.CONSTANT) == "constant" and readable(("q", "k")) == ["q", "k"]
    card = render_model_card(INFO)
    text = card.text
    assert "12 optimizer steps (0.06 epochs)" in text and "final training loss 1.2346" in text
    assert 'PeftModel.from_pretrained(base, "runs/micro_response_max")' in text
    assert "your-org" not in card.content and "a local macro2micro dataset folder" in text
    assert card.data.base_model == INFO["base_model"] and card.data.library_name == "peft"
    assert adapter_repo_name(INFO["base_model"], "random") == "SmolLM2-135M-Instruct-random-lora"
    path = tmp_path / "README.md"
    card.save(str(path))
    scores = {"random": {"win_rate": 61.25, "ci95": [50.0, 72.5], "prompts_scored": 12}}
    rerender_model_card(path, repo_id="org/SmolLM2-135M-Instruct-micro_response_max-lora", scores=scores)
    text = path.read_text()
    assert 'PeftModel.from_pretrained(base, "org/SmolLM2-135M-Instruct-micro_response_max-lora")' in text
    assert "| `random` | 61.2 | [50.0, 72.5] | 12 |" in text and "Not evaluated yet" not in text
    assert "has not been pushed" not in text and "is a local folder" not in text


def test_rerender_refuses_a_card_it_did_not_write(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("---\nlicense: mit\n---\n# someone else's card\n")
    with pytest.raises(ValueError, match="not an adapter card written by macro2micro"):
        rerender_model_card(path, scores={})


def test_dataset_card_states_what_was_held_fixed_and_what_varies(synthetic_corpus, tmp_path):
    from tests.helpers import build_repo

    folder, metrics = build_repo(synthetic_corpus, tmp_path, budget=30, levels=3, length_window="auto")
    text = (folder / "README.md").read_text()
    assert "**Held fixed in every config:** N = 30 rows" in text
    assert 'read the "What else varies" table before attributing a difference' in text
    assert "`random` is 30 rows drawn uniformly from **the whole corpus** (240 rows)" in text
    assert "| `micro_response_lengthctl_max` |" in text and "Length-controlled ladders" in text
    assert "only diversity" not in text.lower() and "your-org" not in text
    assert "dataset_info:" in text and "num_examples: 30" in text


def test_publish_scores_with_the_builds_embedder_and_the_card_names_it_without_local_paths(synthetic_corpus, tmp_path):
    import json

    from macro2micro.api.build import build_ladders
    from macro2micro.api.publish import publish, score_subsets
    from tests.conftest import BOW_EMBEDDER, bow_knobs

    subsets = build_ladders(
        synthetic_corpus,
        knobs=bow_knobs(),
        out=tmp_path / "subsets",
        strategies=["micro_response", "random"],
        budget=16,
        levels=3,
    )
    repo = tmp_path / "bow_repo"
    publish(subsets, repo, self_bleu_sample=10, source_note="test data")  # no embedder, no repo id
    written = json.loads((repo / "metrics/diversity.json").read_text())
    assert {m["embedder"]["spec"] for m in written.values()} == {BOW_EMBEDDER}
    card = (repo / "README.md").read_text()
    assert "mean pairwise cosine distance of\n`test-bow` sentence embeddings" in card
    assert "over nltk's\nTreebank words of the lower-cased text" in card
    assert str(tmp_path) not in card and 'load_dataset("<your-org>/<repo>", "micro_response_max"' in card
    assert "or the path of its folder (bow_repo)" in card
    none = score_subsets(subsets, synthetic_corpus, self_bleu_sample=10, embedder="none")  # a named embedder wins
    assert none["full"].get("embedder") is None and none["full"]["response"]["embedding_distance"] is None


def _multilingual(n_en: int = 80, n_zh: int = 12, n_ru: int = 8):
    from tests.conftest import make_synthetic_corpus

    base = make_synthetic_corpus(n=n_en + n_zh + n_ru)
    en = "Please explain how {} works, step by step, with an example a beginner can follow."
    zh = "请一步一步地解释这个问题，并给出一个初学者能够理解的例子。"
    ru = "Пожалуйста, объясните шаг за шагом, как это работает, с понятным примером."
    texts = [en.format(w) for w in base["instruction"][:n_en]] + [zh] * n_zh + [ru] * n_ru

    def relabel(row, i):
        q = f"{texts[i]} {i}"
        messages = [{**m, "content": q} if m["role"] == "user" else m for m in row["messages"]]
        return {"instruction": q, "messages": messages}

    return base.map(relabel, with_indices=True)


def test_detected_languages_and_their_shares():
    from macro2micro.dataset_builder.metrics.language import detect_languages

    corpus = _multilingual()
    found = detect_languages(corpus["instruction"], [""] * len(corpus), sample=100, threshold=0.05, seed=0)
    assert found["languages"] == ["en", "zh", "ru"] and found["sample"] == 100
    assert found["shares"] == {"en": 0.8, "zh": 0.12, "ru": 0.08} and found["detector"].startswith("py3langid ")
    few = detect_languages(corpus["instruction"], [""] * len(corpus), sample=100, threshold=0.1, seed=0)
    assert few["languages"] == ["en", "zh"]  # ru holds 8 %: under the threshold, named in the shares only


def test_the_card_language_comes_from_the_data_or_the_publisher(tmp_path):
    from macro2micro.dataset_builder.hub.artifacts import read_card
    from tests.helpers import build_repo

    folder, metrics = build_repo(_multilingual(), tmp_path / "a", budget=20, publish_kw={"language_sample": 100})
    card, text = read_card(folder / "README.md"), (folder / "README.md").read_text()
    found = metrics["full"]["languages"]
    assert card["language"] == found["languages"] and set(found["languages"]) == {"en", "zh", "ru"}
    shares = ", ".join(f"{lang} {100 * share:.1f} %" for lang, share in found["shares"].items())
    assert f"over a seeded sample of 100 rows (instruction\nand response together): {shares}." in text
    folder, _ = build_repo(_multilingual(), tmp_path / "b", budget=20, publish_kw={"language": ["uk"]})
    assert read_card(folder / "README.md")["language"] == ["uk"]
    assert "as given to `macro2micro publish` (`--language`): uk" in (folder / "README.md").read_text()
    folder, _ = build_repo(_multilingual(), tmp_path / "c", budget=20, publish_kw={"language_threshold": 0.9})
    card, text = read_card(folder / "README.md"), (folder / "README.md").read_text()
    assert "language" not in card and "so the metadata names none" in text  # never en by default
