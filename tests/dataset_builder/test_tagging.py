import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from macro2micro.dataset_builder.models.llm import OpenAIBackend
from macro2micro.dataset_builder.types.tagging import (
    LLMTagger,
    OfflineTagger,
    canonical_tag,
    normalize_tags,
    parse_tags,
)

REPLIES = {
    "valid": '[{"tag": "coding", "explanation": "asks for code"}, {"tag": "Python", "explanation": "language"}]',
    "fenced": 'Sure! Here are the tags:\n```json\n[{"tag": "coding", "explanation": "x"}]\n```',
    "truncated": '[{"tag": "coding", "explanation": "x"}, {"tag": "data analysis", "explanation": "y"}, {"tag": "vis',
    "strings": '["coding", "math"]',
    "object": '{"tag": "travel", "explanation": "a trip"}',
    "wrong": "I cannot determine any tags for this query.",
    "wrong_json": '{"labels": 3}',
}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("valid", ["coding", "Python"]),
        ("fenced", ["coding"]),
        ("truncated", ["coding", "data analysis"]),
        ("strings", ["coding", "math"]),
        ("object", ["travel"]),
        ("wrong", None),
        ("wrong_json", None),
    ],
)
def test_parse_recorded_replies(name, expected):
    assert parse_tags(REPLIES[name]) == expected


def test_offline_tagger_keyphrases_and_verb_object():
    tags = OfflineTagger().tag_one("Write a short poem about autumn leaves, please. Use rhyming couplets.")
    assert tags[0] == "write poem"
    assert "autumn leaves" in tags and "leaves" in tags
    assert OfflineTagger().tag_one("the of and") == []


def test_normalization_case_punctuation_stems_and_alpha():
    lists = [["Data Analysis", "coding!"], ["data-analysis", "Coding"], ["data analyses", "rare tag"], ["CODING"]]
    tags, info = normalize_tags(lists, alpha=1, merge_threshold=None)
    assert canonical_tag("Data-Analysis!") == "data analysi"
    assert tags[0] == ["code", "data analysi"] and tags[1] == ["code", "data analysi"]
    assert tags[2] == ["data analys", "rare tag"]  # Porter keeps analyses / analysis apart
    assert info["after_rules"] == 4
    tags, info = normalize_tags(lists, alpha=2, merge_threshold=None)  # seen once: dropped before rules
    assert tags == [[], [], [], []] and info["after_alpha"] == 0
    tags, _ = normalize_tags([["coding"], ["coding"], ["Coding"], ["CODING"]], alpha=2, merge_threshold=None)
    assert tags == [["code"], ["code"], [], []]


@pytest.mark.slow  # the real embedded assets
def test_semantic_merge_with_the_embedded_model():
    lists = [["car repair"], ["automobile repair"], ["car repair"], ["baking bread"]]
    tags, info = normalize_tags(lists, alpha=1, merge_threshold=0.75, embedder="embedded:all-minilm-l6-v2")
    assert tags[0] == tags[1] == tags[2] == ["car repair"]  # the more frequent name represents the merge
    assert tags[3] == ["bake bread"] and info["after_merge"] == 2


def test_the_merge_embeds_each_tag_by_a_rule_not_by_set_order(monkeypatch):
    """Raw forms of one canonical tag with equal counts: the a-z first is embedded (set order follows
    PYTHONHASHSEED, and the chosen form decides which tags merge)."""
    import numpy as np

    from macro2micro.dataset_builder.models import embeddings

    seen: list[str] = []

    class Spy:
        def encode(self, texts, **kwargs):
            seen.extend(texts)
            return np.eye(len(texts), 8, dtype=np.float32)

        def identity(self):
            return {"name": "spy"}

    monkeypatch.setitem(embeddings._MODELS, ("spy", None, 256, "float32"), Spy())
    words = ["tree", "lake", "river", "cloud", "stone", "flower", "garden", "forest", "planet", "bridge"]
    lists = [[w + "s", w] for w in words]  # 'trees' and 'tree': one canonical tag, one occurrence each
    normalize_tags(lists, alpha=1, merge_threshold=0.99, embedder="spy")
    assert sorted(seen) == sorted(words)  # 'tree' < 'trees', for every one of the ten ties


class _Server:
    """A small OpenAI-compatible chat-completions endpoint, answering from a reply table."""

    def __init__(self, reply_for):
        self.calls = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][0]["content"]
                outer.calls.append((self.path, body["model"], self.headers.get("Authorization")))
                reply = reply_for(prompt)
                if reply is None:
                    self.send_response(500)
                    self.end_headers()
                    return
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_llm_tagger_through_a_local_openai_server_with_cache_and_failures():
    def reply_for(prompt):
        if "broken" in prompt:
            return "no tags here"
        if "crash" in prompt:
            return None
        return REPLIES["fenced"] if "code" in prompt else REPLIES["valid"]

    server = _Server(reply_for)
    try:
        backend = OpenAIBackend(server.url, "judge-70b", api_key="sk-test", concurrency=4)
        tagger = LLMTagger(backend, side="instruction")
        texts = ["write code", "plan a trip", "broken reply", "crash now", "write code"]
        assert tagger.plan(texts)["calls"] == 4
        tags = tagger.tag(texts)
        assert tags == [["coding"], ["coding", "Python"], [], [], ["coding"]]
        assert tagger.stats["calls"] == 4 and tagger.stats["unparseable"] == 1 and tagger.stats["request_errors"] == 1
        assert server.calls[0] == ("/v1/chat/completions", "judge-70b", "Bearer sk-test")
        assert len(server.calls) == 4
        again = LLMTagger(OpenAIBackend(server.url, "judge-70b"), side="instruction")
        assert again.plan(texts) == {**again.plan(texts), "calls": 2, "cached": 3}
        assert again.tag(texts) == tags  # failures are retried, successes come from the cache
        assert len(server.calls) == 6 and again.stats["cache_hits"] == 3
    finally:
        server.close()


def test_meso_strategy_with_the_openai_tagger(synthetic_corpus):
    from macro2micro.dataset_builder.options import MesoOptions
    from macro2micro.dataset_builder.types.meso import MesoStrategy

    server = _Server(lambda prompt: json.dumps([{"tag": w, "explanation": ""} for w in prompt.split()[-3:]]))
    try:
        s = MesoStrategy(
            "instruction", MesoOptions(tagger="openai", tagger_model="m", tagger_url=server.url, merge_threshold=None)
        )
        sel = s.select(synthetic_corpus, 30, seed=0, level=0.5)
        assert len(sel.indices) == 30 and s.type_info_["tagger"]["name"] == "llm:m"
        assert s.type_info_["tagger_stats"]["calls"] == len(set(synthetic_corpus["instruction"]))
    finally:
        server.close()
    with pytest.raises(ValueError, match="tagger='openai' needs tagger_url"):
        MesoOptions(tagger="openai", tagger_model="m")
