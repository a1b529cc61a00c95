"""The macro2micro Space: what diversity did, from published artifacts only.

    macro2micro space --repo demo_out/hub_dataset --results demo_out/eval/results.json --runs demo_out/adapters
    M2M_REPO=org/repo M2M_RESULTS=results.json python app.py        # as a Hugging Face Space

Tabs: Subsets (metrics table, metric along each ladder), Samples (browse and search a config),
Compare outputs (answers side by side with the judge's verdicts; live generation from an
adapter), Diversity vs score (score against level with fits; metric-score correlations).
Nothing runs at import time; :func:`build_demo` builds the UI.
"""

from __future__ import annotations

import functools
import logging
import os

from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.utils import require
from macro2micro.space_app import csp, logic
from macro2micro.space_app.logic import Artifacts, UserError
from macro2micro.space_app.sanitize import markdown_html, markdown_text

logger = logging.getLogger(__name__)
DEFAULT_METRIC, DEFAULT_SIDE = "mean_length", "response"


def _ui(fn):
    """Bad input becomes a gr.Error naming what was wrong; any other failure a short message (details in the log)."""
    gr = require("gradio")

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except UserError as err:
            raise gr.Error(str(err)) from None
        except Exception:
            logger.exception("%s failed", fn.__name__)
            raise gr.Error("Something went wrong on the server; the Space's log has the details.") from None

    return wrapper


def build_demo(art: Artifacts):
    """The Blocks app over loaded artifacts."""
    gr = require("gradio")

    from macro2micro.space_app.live import LiveGenerator

    art.live = LiveGenerator(art.adapters)  # one, shared by every request
    configs = art.configs
    embedder = (art.metrics.get("full") or {}).get("embedder")  # the model of the embedding distances, when recorded
    with gr.Blocks(title="macro2micro: dataset diversity") as demo:
        gr.Markdown(
            "# macro2micro: what diversity does to a fine-tuned model\n"
            f"Dataset repo {markdown_text(art.repo)}: {len(configs)} configs. Every config of a ladder has the same "
            "number of rows from the same corpus; the number of admitted types varies by design, and what else "
            "varies (length, turns per row, sources, the sampler) is measured in the Subsets tab."
        )
        with gr.Tab("Subsets"):
            gr.Markdown(
                "## Diversity metrics of every config\n`k` = admitted types (in a length-controlled ladder, those "
                "with carriers inside its window); realised types = those present in the config's rows; "
                "coverage = realised / k."
                + (f" Embedding distance: of {markdown_text(embedder['name'])} embeddings." if embedder else "")
            )
            gr.Dataframe(value=logic.metrics_table(art), label="metrics", max_height=420)
            gr.Markdown(
                "## Baselines at the same N\nEach picks N rows of the whole corpus by a rule from the selection "
                "literature (no levels); the plots show them, and the random control, as flat lines beside the "
                "ladders. The dataset card says how each differs from its paper."
            )
            gr.Dataframe(value=logic.baseline_table(art), label="baselines", wrap=True, max_height=320)
            gr.Markdown(
                "## What else varies\nMean lengths in model tokens; assistant turns per row (mean, and the "
                "shares of rows with 1 / 2 / 3 / 4 / 5+); the most frequent source's share; the sampler's mean "
                "length over its pool's (exactly what a uniform draw of N averages), beside the range that holds "
                "95 % of uniform draws' ratios; rows shared with the previous level."
            )
            gr.Dataframe(value=logic.variation_table(art), label="what else varies", max_height=420)
            with gr.Row():
                metric = gr.Dropdown(list(logic.METRICS), value=DEFAULT_METRIC, label="metric")
                side = gr.Radio(["instruction", "response"], value=DEFAULT_SIDE, label="side")
            ladder = gr.LinePlot(
                value=logic.ladder_frame(art, DEFAULT_METRIC, DEFAULT_SIDE),
                x="level_%",
                y="value",
                color="strategy",
                title="metric along each ladder",
                x_title="diversity level (%)",
            )

            def metric_along_ladders(metric: str, side: str):
                return logic.ladder_frame(art, metric, side)

            ladder_fn = _ui(metric_along_ladders)
            metric.change(ladder_fn, [metric, side], ladder, api_name="ladder")
            side.change(ladder_fn, [metric, side], ladder, api_name=False)
        with gr.Tab("Samples"):
            gr.Markdown("## Browse a config")
            with gr.Row():
                config = gr.Dropdown(configs, value=configs[-1], label="config")
                query = gr.Textbox(label="search instruction and response", placeholder="e.g. python")
                limit = gr.Number(value=20, precision=0, label="rows", minimum=1, maximum=200)
            show = gr.Button("Show rows")
            rows = gr.Dataframe(label="rows", wrap=True, max_height=520)
            show.click(
                _ui(lambda config, query, rows: logic.sample_rows(art, config, query, int(rows))),
                [config, query, limit],
                rows,
                api_name="samples",
            )
        with gr.Tab("Compare outputs"):
            gr.Markdown("## Answers side by side, with the judge's verdicts")
            models = logic.model_choices(art)
            with gr.Row():
                prompt = gr.Dropdown(
                    logic.prompt_choices(art), label="prompt", value=next(iter(logic.prompt_choices(art)), None)
                )
                chosen = gr.Dropdown(
                    models,
                    value=models[:2],
                    multiselect=True,
                    max_choices=4,
                    label="models to compare (one to four; the baseline's answer is always shown)",
                )
            compare_btn = gr.Button("Compare")
            prompt_md = gr.HTML(elem_classes="m2m-prompt")  # every cell is sanitized HTML (sanitize.py)
            with gr.Row(equal_height=False):
                with gr.Column(min_width=240):
                    slots = [gr.HTML(elem_classes="m2m-title"), gr.HTML(elem_classes="m2m-answer")]
                for _ in range(4):
                    with gr.Column(min_width=240):
                        slots += [gr.HTML(elem_classes="m2m-title"), gr.HTML(elem_classes="m2m-answer")]

            def show(prompt: str, models: list[str]):
                view = logic.compare_outputs(art, prompt, models)
                cells = [view["baseline"]] + view["columns"]
                return [view["prompt"]] + [x for c in cells for x in (c["title"], c["answer"])]

            compare_btn.click(_ui(show), [prompt, chosen], [prompt_md, *slots], api_name="compare")
            gr.Markdown("### Generate live from an adapter (CPU: short answers)")
            adapters = sorted(art.adapters)
            with gr.Row():
                live_prompt = gr.Textbox(label=f"prompt (at most {logic.MAX_PROMPT_CHARS} characters)")
                live_model = gr.Dropdown(adapters, value=next(iter(adapters), None), label="adapter")
                live_tokens = gr.Slider(1, logic.MAX_NEW_TOKENS, value=48, step=1, label="max new tokens")
            live_btn = gr.Button("Generate")
            live_out = gr.Textbox(label="answer", lines=6)
            live_btn.click(
                _ui(
                    lambda prompt, adapter, max_new_tokens: logic.shown_answer(
                        live_generate(art, prompt, adapter, max_new_tokens), max_new_tokens
                    )
                ),
                [live_prompt, live_model, live_tokens],
                live_out,
                api_name="generate",
            )
        with gr.Tab("Diversity vs score"):
            gr.Markdown("## Win-rate against the baseline, by diversity level")
            if art.results:
                points, fits = logic.score_frame(art)
                scores = [*points["win_rate"], 50.0]
                if len(points):
                    gr.LinePlot(
                        value=points,
                        x="level_%",
                        y="win_rate",
                        color="strategy",
                        title="score vs level",
                        x_title="diversity level (%)",
                        y_title="win-rate (%)",
                        x_lim=[0, 100],
                        y_lim=[max(0.0, min(scores) - 5), min(100.0, max(scores) + 5)],
                    )
                else:
                    gr.Markdown("No ladder config was judged (only the baseline and controls): no score to plot.")
                gr.Dataframe(
                    value=fits,
                    label="linear fit per strategy over every replicate (slope in points per 100 % diversity; "
                    "its 95 % interval resamples the noise named; within_noise: the interval contains 0)",
                )
                gr.Dataframe(
                    value=logic.spread_frame(art),
                    label="win-rate per level across its replicates (independent draws of the level)",
                )
                gr.Dataframe(value=logic.correlation_frame(art), label="Pearson r of each metric with the score")
                notes = logic.analysis_notes(art)
                if notes:  # what could not be fitted or correlated, and why
                    gr.HTML(markdown_html("\n".join(f"- {markdown_text(n)}" for n in notes)), elem_classes="m2m-note")
                if art.results.get("note"):
                    gr.HTML(markdown_html(art.results["note"]), elem_classes="m2m-note")
            else:
                gr.Markdown(
                    "No evaluation results: the dataset repo has none published (`macro2micro evaluate "
                    "--push_to_hub`), and none was given (`--results eval/results.json`)."
                )
            scores_btn = gr.Button("Refresh scores", visible=bool(art.results))
            fits_out = gr.Dataframe(visible=False)
            scores_btn.click(_ui(lambda: logic.score_frame(art)[1]), None, fits_out, api_name="fits")
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def live_generate(art: Artifacts, prompt: str, adapter: str, max_new_tokens: int) -> str:
    """Generate from one adapter for a typed prompt (lengths capped by logic.check_live_prompt)."""
    from macro2micro.space_app.live import LiveGenerator

    text, n = logic.check_live_prompt(prompt, max_new_tokens)
    if not art.adapters:
        raise UserError(
            "live generation needs adapters: start the Space with --runs, or on a dataset repo that "
            "records its pushed adapters"
        )
    if adapter not in art.adapters:
        raise UserError(f"unknown adapter {adapter!r}; valid: {', '.join(art.adapters)}")
    if art.live is None:
        art.live = LiveGenerator(art.adapters)  # build_demo makes it up front; this is for direct callers
    return art.live.generate(adapter, text, n)


def check_port(host: str, port: int) -> None:
    """OSError naming the address when the port is taken (before anything is announced)."""
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as err:
            raise OptionsError(f"cannot listen on {host}:{port}: {err.strerror} (choose another --port)") from None


def launch(
    repo: str,
    results: str | None = None,
    runs: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    on_ready=None,
):
    """Load the artifacts, check the port, then serve; ``on_ready(url)`` is called once it answers."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    art = logic.load_artifacts(repo, results, runs)
    check_port(host, port)
    demo = build_demo(art)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        show_error=False,
        quiet=True,
        app_kwargs=csp.app_kwargs(),  # the browser loads nothing from another origin
    )
    if on_ready is not None:
        on_ready(f"http://{host}:{port}/")
    if block:
        demo.block_thread()
    return demo


if __name__ == "__main__":
    launch(
        os.environ.get("M2M_REPO", "demo_out/hub_dataset"),
        os.environ.get("M2M_RESULTS"),
        os.environ.get("M2M_RUNS"),
        host=os.environ.get("M2M_HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", 7860)),
    )
