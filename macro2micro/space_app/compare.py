"""The Compare tab's logic: answers side by side, each rendered safe, and verdicts in words.

Model output, prompts and their ids are untrusted text. Each answer is rendered by
:func:`.sanitize.markdown_html` (markdown on the server, raw HTML shown as text, images as a mention
of their address, then an allowlist sanitizer) into its own component, so an unclosed code fence
cannot swallow a neighbour and the browser has nothing to fetch.
"""

from __future__ import annotations

from macro2micro.space_app.sanitize import markdown_html, text_html

MAX_COLUMNS = 4


def verdict_words(model: str, baseline: str, model_first: str | None, baseline_first: str | None) -> str:
    """What the judge said in both orders, in words (``model_first`` is the verdict with the model as A)."""

    def outcome(verdict: str | None, model_is_a: bool) -> str | None:
        if verdict is None:
            return None
        if verdict == "tie":
            return "tie"
        return "model" if (verdict == "A") == model_is_a else "baseline"

    first, second = outcome(model_first, True), outcome(baseline_first, False)
    if first is None and second is None:
        return "no parseable verdict in either order"
    if first is None or second is None:
        known = first if first is not None else second
        assert known is not None
        said = {"model": f"preferred {model}", "baseline": f"preferred {baseline}", "tie": "called a tie"}[known]
        return f"judge {said} in one order; no parseable verdict in the other"
    if first == second:
        return {
            "model": f"judge preferred {model} in both orders",
            "baseline": f"judge preferred {baseline} (the baseline) in both orders",
            "tie": "judge called a tie in both orders",
        }[first]
    if "tie" in (first, second):
        winner = model if "model" in (first, second) else baseline
        return f"judge preferred {winner} in one order and called a tie in the other"
    return "judge preferred whichever answer came first (or second) in both orders: a position bias, scored as a tie"


def compare(results: dict, prompt_index: int, models: list[str]) -> dict:
    """The prompt, the baseline's answer and up to four models' answers with verdicts, each safe to render."""
    baseline = results["baseline"]
    columns = []
    for model in models:
        v = (results.get("verdicts") or {}).get(model)
        if model == baseline:
            verdict = "the baseline"
        elif v is None:
            verdict = "not judged"
        else:
            score = v["per_prompt"][prompt_index]
            words = verdict_words(model, baseline, v["model_first"][prompt_index], v["baseline_first"][prompt_index])
            verdict = words if score is None else f"{words} (score {score:.2f})"
        columns.append(
            {"title": _title(model, verdict), "answer": markdown_html(results["answers"][model][prompt_index])}
        )
    columns += [{"title": "", "answer": ""}] * (MAX_COLUMNS - len(columns))
    row = results["prompt_rows"][prompt_index]
    return {
        "prompt": f"<p><strong>Prompt {text_html(row['id'])}.</strong></p>"
        + markdown_html(row["instruction"], empty="(an empty prompt)"),
        "baseline": {
            "title": f"<h3>Baseline: <code>{text_html(baseline)}</code></h3>",
            "answer": markdown_html(results["answers"][baseline][prompt_index]),
        },
        "columns": columns,
    }


def _title(model: str, verdict: str) -> str:
    return f"<h3><code>{text_html(model)}</code></h3><p>{text_html(verdict)}</p>"
