"""The Compare tab's logic: answers side by side, each made safe to render, and verdicts in words.

Model output is untrusted text. Each answer is rendered in its own component (so an unclosed code
fence cannot swallow a neighbour), raw HTML is shown as text (no forms, iframes or scripts), and
image syntax becomes a plain mention of the address (the browser fetches nothing).
"""

from __future__ import annotations

import re

MAX_COLUMNS = 4
_FENCE = re.compile(r"^\s{0,3}(```|~~~)", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def _escape_text(text: str) -> str:
    """Outside code: HTML shown as text, images as a mention of their address, autolinks unchanged."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _IMAGE.sub(lambda m: f"[image: {m.group(1) or 'untitled'} — {m.group(2).strip() or 'no address'}]", text)


def safe_markdown(text: str) -> str:
    """Markdown of model output that renders on its own and loads nothing: see the module doc."""
    parts = re.split(r"(^\s{0,3}(?:```|~~~)[^\n]*$)", text or "", flags=re.MULTILINE)
    out, in_code = [], False
    for part in parts:
        if _FENCE.match(part):
            in_code = not in_code
            out.append(part)
        elif in_code:
            out.append(part)  # code blocks render as text already
        else:
            pieces, last = [], 0
            for m in _INLINE_CODE.finditer(part):
                pieces += [_escape_text(part[last : m.start()]), m.group(0)]
                last = m.end()
            out.append("".join(pieces) + _escape_text(part[last:]))
    if in_code:
        out.append("\n```")  # close a fence the model left open
    return "".join(out) or "_(empty answer)_"


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
        known = first or second
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
            {"title": f"### `{model}`\n{verdict}", "answer": safe_markdown(results["answers"][model][prompt_index])}
        )
    columns += [{"title": "", "answer": ""}] * (MAX_COLUMNS - len(columns))
    row = results["prompt_rows"][prompt_index]
    return {
        "prompt": f"**Prompt {row['id']}.** {safe_markdown(row['instruction'])}",
        "baseline": {
            "title": f"### Baseline: `{baseline}`",
            "answer": safe_markdown(results["answers"][baseline][prompt_index]),
        },
        "columns": columns,
    }
