"""Pairwise judging against a baseline, in both orders, as the paper scores its models.

For every prompt the judge sees (model, baseline) and (baseline, model). A verdict scores 1 for
the model's win, 0.5 for a tie and 0 for a loss; a prompt scores the mean of its parseable
verdicts; the win-rate is 100 x the mean over prompts (50 = parity with the baseline), with a
percentile bootstrap interval over prompts. Unparseable verdicts are counted and reported, never
guessed. The judge prompt is a template file with ``{instruction}``, ``{answer_a}``, ``{answer_b}``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from macro2micro.dataset_builder.defaults import DEFAULT_MODEL
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.models.llm import TransformersBackend, load_chat_model

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "judge_pairwise.txt"
VERDICT_CUE = "Verdict: [["
# Below this many shared tokens a judge call runs each prompt whole (the prefix's own pass would not pay).
MIN_SHARED_TOKENS = 32
_VERDICT = re.compile(r"\[\[\s*(A|B|C|TIE)\s*\]\]", re.IGNORECASE)


def shared_prefix(ids: list[list[int]]) -> int:
    """Tokens that every sequence begins with, leaving each at least one token of its own."""
    if not ids:
        return 0
    n = min(len(x) for x in ids) - 1
    first = ids[0]
    for x in ids[1:]:
        k = 0
        while k < n and x[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


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


def calibrated(d1: list[float], d2: list[float]) -> tuple[list[str | None], list[str | None]]:
    """Verdicts ``(forward, swapped)`` from margins with the model first (``d1``) and second (``d2``): see
    :meth:`Judge.both_orders`."""
    forward: list[str | None] = []
    swapped: list[str | None] = []
    for a, b in zip(d1, d2, strict=True):
        q = (a - b) / 2
        win = "tie" if abs(q) < 1e-3 else ("A" if q > 0 else "B")
        forward.append(win)
        swapped.append({"A": "B", "B": "A", "tie": "tie"}[win])
    return forward, swapped


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
        return self.against_baseline(prompts, {"model": model_answers}, baseline_answers)["model"]

    def against_baseline(
        self, prompts: list[str], answers: dict[str, list[str]], baseline_answers: list[str]
    ) -> dict[str, tuple[list[str | None], list[str | None]]]:
        """:meth:`both_orders` for several models at once: ``{name: (forward, swapped)}``.

        A margins backend sees, per prompt and order, every model's judge prompt in one call: they share
        everything up to the model's answer (swapped: the baseline's answer too), which such a backend
        computes once (:meth:`LocalChoiceBackend.margins`).
        """
        names = list(answers)
        if not hasattr(self.backend, "margins"):
            return {
                n: (
                    self.verdicts(prompts, answers[n], baseline_answers),
                    self.verdicts(prompts, baseline_answers, answers[n]),
                )
                for n in names
            }
        if len(names) == 1:  # one model: one call per order, over every prompt (they share the template's start)
            (n,) = names
            d1 = self.backend.margins(self._prompts(prompts, answers[n], baseline_answers))
            return {n: calibrated(d1, self.backend.margins(self._prompts(prompts, baseline_answers, answers[n])))}
        d1 = {n: [0.0] * len(prompts) for n in names}
        d2 = {n: [0.0] * len(prompts) for n in names}
        for i, (p, base) in enumerate(zip(prompts, baseline_answers, strict=True)):
            first = self.backend.margins([self._prompt(p, answers[n][i], base) for n in names])
            second = self.backend.margins([self._prompt(p, base, answers[n][i]) for n in names])
            for n, a, b in zip(names, first, second, strict=True):
                d1[n][i], d2[n][i] = a, b
        return {n: calibrated(d1[n], d2[n]) for n in names}

    def _prompt(self, prompt: str, answer_a: str, answer_b: str) -> str:
        return self.template.format(instruction=prompt, answer_a=answer_a, answer_b=answer_b)

    def _prompts(self, prompts, answers_a, answers_b) -> list[str]:
        return [self._prompt(p, a, b) for p, a, b in zip(prompts, answers_a, answers_b, strict=True)]

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
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = 8,
        max_prompt_tokens: int = 1024,
        device: str | None = None,
        precision: str = "float32",
    ):
        super().__init__(model, batch_size=batch_size, device=device, precision=precision)
        self.max_prompt_tokens = max_prompt_tokens

    def _load(self):
        if self._loaded is None:
            tok, model, device = load_chat_model(
                self.model_spec, truncation_side="left", device=self.device, shared=True
            )
            if tok.chat_template is None:  # a base model: prompt it in ChatML
                tok.chat_template = (TEMPLATES / "chatml_training.jinja").read_text()
            choices = [tok.encode(c, add_special_tokens=False)[-1] for c in ("A", "B", "C")]
            self._loaded = (tok, model, device, choices)
        return self._loaded

    def _logits(self, prompts: list[str]) -> list[list[float]]:
        from macro2micro.dataset_builder.utils import autocast

        with autocast(self.precision, self._load()[2]):
            return self._logits_at(prompts)

    def _logits_at(self, prompts: list[str]) -> list[list[float]]:
        """Logits of A, B, C after each prompt. Prompts that share a long beginning (one question's judge prompts
        for several models) run it once: its keys and values are computed for one row and reused by every row,
        which then runs only its own tokens (the same tokens as a prompt run whole)."""
        import torch

        tok, model, device, choices = self._load()
        ids = [
            tok(chat, add_special_tokens=False, truncation=True, max_length=self.max_prompt_tokens)["input_ids"]
            for chat in self._chats(tok, prompts)
        ]
        shared = shared_prefix(ids)
        if len(ids) < 2 or shared < MIN_SHARED_TOKENS:
            return self._logits_whole(tok, model, device, choices, prompts)
        out: list[list[float]] = []
        with torch.no_grad():
            prefix = model(torch.tensor([ids[0][:shared]], device=device), use_cache=True).past_key_values
            for start in range(0, len(ids), self.batch_size):
                rows = [x[shared:] for x in ids[start : start + self.batch_size]]
                width = max(map(len, rows))
                inputs = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(rows), shared + width), dtype=torch.long)
                mask[:, :shared] = 1
                for j, row in enumerate(rows):  # right-padded: a row's last token never sees the padding after it
                    inputs[j, : len(row)] = torch.tensor(row)
                    mask[j, shared : shared + len(row)] = 1
                cache = copy.deepcopy(prefix)
                cache.batch_repeat_interleave(len(rows))
                last = torch.tensor([len(r) - 1 for r in rows])
                keep = torch.unique(last)  # the lm head runs only where some row ends
                logits = model(
                    input_ids=inputs.to(device),
                    attention_mask=mask.to(device),
                    past_key_values=cache,
                    logits_to_keep=keep.to(device),
                ).logits
                column = torch.searchsorted(keep, last)
                out += logits[torch.arange(len(rows)), column.to(logits.device)][:, choices].float().tolist()
        return out

    def _chats(self, tok, prompts: list[str]) -> list[str]:
        return [
            tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            + VERDICT_CUE
            for p in prompts
        ]

    def _logits_whole(self, tok, model, device, choices, prompts: list[str]) -> list[list[float]]:
        import torch

        from macro2micro.dataset_builder.models.llm import chat_batches

        out = []
        for enc in chat_batches(tok, prompts, self.batch_size, device, self.max_prompt_tokens, suffix=VERDICT_CUE):
            with torch.no_grad():
                out += model(**enc, logits_to_keep=1).logits[:, -1, choices].float().tolist()
        return out

    def generate(self, prompts: list[str]) -> list[str]:
        """One verdict per prompt: the likeliest of A, B, C."""
        return [f"[[{'ABC'[max(range(3), key=row.__getitem__)]}]]" for row in self._logits(prompts)]

    def margins(self, prompts: list[str]) -> list[float]:
        """logit(A) - logit(B) per prompt (used by :meth:`Judge.both_orders` to cancel position bias)."""
        return [row[0] - row[1] for row in self._logits(prompts)]
