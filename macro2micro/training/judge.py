"""Pairwise judging against a baseline, in both orders, as the paper scores its models.

For every prompt the judge sees (model, baseline) and (baseline, model). A verdict scores 1 for
the model's win, 0.5 for a tie and 0 for a loss; a prompt scores the mean of its parseable
verdicts; the win-rate is 100 x the mean over prompts (50 = parity with the baseline), with a
percentile bootstrap interval over prompts. Unparseable verdicts are counted and reported, never
guessed. The judge prompt is a template file with ``{instruction}``, ``{answer_a}``, ``{answer_b}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from macro2micro.dataset_builder.defaults import DEFAULT_MODEL
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.models.llm import TransformersBackend, load_chat_model

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "judge_pairwise.txt"
_VERDICT = re.compile(r"\[\[\s*(A|B|C|TIE)\s*\]\]", re.IGNORECASE)


def parse_verdict(reply: str) -> str | None:
    """``A``, ``B`` or ``tie`` from the last ``[[A]]`` / ``[[B]]`` / ``[[C]]`` in a reply; None if absent."""
    found = _VERDICT.findall(reply or "")
    if not found:
        return None
    last = found[-1].upper()
    return "tie" if last in ("C", "TIE") else last


def order_score(verdict: str | None, model_is_a: bool) -> float | None:
    """The model's score for one verdict (1 win, 0.5 tie, 0 loss), or None if unparseable."""
    if verdict is None:
        return None
    if verdict == "tie":
        return 0.5
    return 1.0 if (verdict == "A") == model_is_a else 0.0


@dataclass
class WinRate:
    """A model's win-rate against the baseline, with what went into it."""

    win_rate: float
    ci95: list[float]
    prompts_scored: int
    prompts_total: int
    unparseable: int
    position_consistency: float | None
    per_prompt: list[float | None] = field(default_factory=list)


def win_rate(forward: list[str | None], swapped: list[str | None], resamples: int = 1000, seed: int = 0) -> WinRate:
    """Win-rate from verdicts with the model as A (``forward``) and as B (``swapped``), per prompt."""
    if len(forward) != len(swapped):
        raise ValueError(f"{len(forward)} forward verdicts but {len(swapped)} swapped ones")
    per_prompt: list[float | None] = []
    consistent, both = 0, 0
    for f, s in zip(forward, swapped, strict=True):
        a, b = order_score(f, True), order_score(s, False)
        valid = [x for x in (a, b) if x is not None]
        per_prompt.append(float(np.mean(valid)) if valid else None)
        if a is not None and b is not None:
            both += 1
            consistent += a == b
    scored = np.array([p for p in per_prompt if p is not None])
    unparseable = sum(v is None for v in forward) + sum(v is None for v in swapped)
    if len(scored) == 0:
        return WinRate(float("nan"), [float("nan")] * 2, 0, len(forward), unparseable, None, per_prompt)
    rng = np.random.default_rng(seed)
    boots = scored[rng.integers(0, len(scored), size=(resamples, len(scored)))].mean(axis=1) * 100
    return WinRate(
        win_rate=round(float(scored.mean() * 100), 3),
        ci95=[round(float(np.quantile(boots, 0.025)), 3), round(float(np.quantile(boots, 0.975)), 3)],
        prompts_scored=int(len(scored)),
        prompts_total=len(forward),
        unparseable=int(unparseable),
        position_consistency=round(consistent / both, 4) if both else None,
        per_prompt=per_prompt,
    )


class Judge:
    """A pairwise judge over an LLM backend (:mod:`macro2micro.dataset_builder.models.llm`).

    Args:
        backend: an ``OpenAIBackend`` (how users run a 70B judge: vLLM, TGI, llama.cpp server) or a
            ``TransformersBackend`` (a local model; the demo's small CPU judge).
        template: path of the judge prompt template.
    """

    def __init__(self, backend, template: str | Path = DEFAULT_TEMPLATE):
        self.backend = backend
        self.template = Path(template).read_text(encoding="utf-8")
        for fld in ("{instruction}", "{answer_a}", "{answer_b}"):
            if fld not in self.template:
                raise OptionsError(f"judge template {template} lacks the field {fld}")
        self.failures: list[str] = []

    def verdicts(self, prompts: list[str], answers_a: list[str], answers_b: list[str]) -> list[str | None]:
        replies = self.backend.generate(self._prompts(prompts, answers_a, answers_b))
        out: list[str | None] = []
        for reply in replies:
            if isinstance(reply, Exception):
                self.failures.append(f"request failed: {reply}")
                out.append(None)
                continue
            verdict = parse_verdict(reply)
            if verdict is None:
                self.failures.append(f"no verdict in: {reply[:160]!r}")
            out.append(verdict)
        return out

    def both_orders(
        self, prompts: list[str], model_answers: list[str], baseline_answers: list[str]
    ) -> tuple[list[str | None], list[str | None]]:
        """Verdicts with the model as A (forward) and as B (swapped).

        A backend that exposes ``margins`` (logit(A) - logit(B)) gets calibrated verdicts: with
        the model first the margin is ``c + q``, swapped ``c - q``, where ``c`` is the judge's
        position prior; ``q = (d1 - d2) / 2`` cancels it within each prompt (a small judge that
        always prefers one position would otherwise tie everything).
        """
        if hasattr(self.backend, "margins"):
            d1 = self.backend.margins(self._prompts(prompts, model_answers, baseline_answers))
            d2 = self.backend.margins(self._prompts(prompts, baseline_answers, model_answers))
            forward: list[str | None] = []
            swapped: list[str | None] = []
            for a, b in zip(d1, d2, strict=True):
                q = (a - b) / 2
                win = "tie" if abs(q) < 1e-3 else ("A" if q > 0 else "B")
                forward.append(win)
                swapped.append({"A": "B", "B": "A", "tie": "tie"}[win])
            return forward, swapped
        return (
            self.verdicts(prompts, model_answers, baseline_answers),
            self.verdicts(prompts, baseline_answers, model_answers),
        )

    def _prompts(self, prompts, answers_a, answers_b) -> list[str]:
        return [
            self.template.format(instruction=p, answer_a=a, answer_b=b)
            for p, a, b in zip(prompts, answers_a, answers_b, strict=True)
        ]

    def compare(self, prompts: list[str], model_answers: list[str], baseline_answers: list[str]) -> WinRate:
        """Both orders, then :func:`win_rate`."""
        return win_rate(*self.both_orders(prompts, model_answers, baseline_answers))


class LocalChoiceBackend(TransformersBackend):
    """A local transformers judge that cannot fail to answer: after the chat prompt and ``[[`` it
    compares the next-token logits of ``A``, ``B`` and ``C`` (one forward pass per verdict).

    Small models rarely follow the output format; constraining the choice keeps their verdicts
    parseable, and :meth:`margins` lets the judge cancel their position bias (they are still weak
    judges: the demo says so).
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, batch_size: int = 4, max_prompt_tokens: int = 1024, device: str | None = None
    ):
        super().__init__(model, batch_size=batch_size, device=device)
        self.max_prompt_tokens = max_prompt_tokens

    def _load(self):
        if self._loaded is None:
            tok, model, device = load_chat_model(self.model_spec, truncation_side="left", device=self.device)
            if tok.chat_template is None:  # a base model: prompt it in ChatML
                tok.chat_template = (TEMPLATES / "chatml_training.jinja").read_text()
            choices = [tok.encode(c, add_special_tokens=False)[-1] for c in ("A", "B", "C")]
            self._loaded = (tok, model, device, choices)
        return self._loaded

    def _logits(self, prompts: list[str]):
        import torch

        from macro2micro.dataset_builder.models.llm import chat_batches

        tok, model, device, choices = self._load()
        out = []
        for enc in chat_batches(tok, prompts, self.batch_size, device, self.max_prompt_tokens, suffix="Verdict: [["):
            with torch.no_grad():
                out += model(**enc).logits[:, -1, choices].float().tolist()
        return out

    def generate(self, prompts: list[str]) -> list[str]:
        """One verdict per prompt: the likeliest of A, B, C."""
        return [f"[[{'ABC'[max(range(3), key=row.__getitem__)]}]]" for row in self._logits(prompts)]

    def margins(self, prompts: list[str]) -> list[float]:
        """logit(A) - logit(B) per prompt (used by :meth:`Judge.both_orders` to cancel position bias)."""
        return [row[0] - row[1] for row in self._logits(prompts)]
