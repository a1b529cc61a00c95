import json

import numpy as np
import pytest

from training.analysis import (PAPER_SLOPES, analyze, fit_ladder, metric_correlations, paper_reproduction,
                               write_report)


def test_the_papers_slopes_are_reproduced_from_its_scores():
    for key, fit in paper_reproduction().items():
        assert fit["slope"] == pytest.approx(fit["paper_slope"], abs=0.2), key
    assert paper_reproduction()["10K micro_response"]["slope"] == pytest.approx(5.35, abs=0.2)
    assert len(PAPER_SLOPES) == 4


def test_fit_closed_form_and_intervals():
    x = np.arange(7) / 6
    fit = fit_ladder(x, 50 + 6 * x)
    assert fit["slope"] == pytest.approx(6) and fit["intercept"] == pytest.approx(50) and fit["r"] == pytest.approx(1)
    noisy = fit_ladder(x, 50 + 6 * x + np.array([1, -1, 0.5, -0.5, 1, -1, 0]))
    lo, hi = noisy["slope_ci95"]
    assert lo < noisy["slope"] < hi and noisy["r_ci95"][0] < noisy["r"] < noisy["r_ci95"][1]
    with pytest.raises(ValueError, match="at least 3"):
        fit_ladder([0, 1], [1, 2])


def _metrics(configs):
    return {c: {"level": lvl, "instruction": {"mean_length": 10 + i, "distinct_1": 0.5, "self_bleu": None},
                "response": {"mean_length": 100 + 10 * i, "distinct_1": 0.9 - 0.1 * i, "self_bleu": 0.2}}
            for i, (c, lvl) in enumerate(configs)}


def test_correlations_and_report_files(tmp_path):
    configs = [("micro_response_min", 0.0), ("micro_response_50", 0.5), ("micro_response_max", 1.0), ("random", None)]
    metrics = _metrics(configs)
    scores = {"micro_response_min": 40.0, "micro_response_50": 50.0, "micro_response_max": 60.0, "random": 50.0}
    corr = metric_correlations(metrics, scores)
    assert corr["response"]["mean_length"] == pytest.approx(np.corrcoef([100, 110, 120, 130], [40, 50, 60, 50])[0, 1])
    assert corr["instruction"]["distinct_1"] is None  # constant metric: undefined, not 0
    assert corr["instruction"]["self_bleu"] is None
    result = analyze(scores, metrics)
    assert result["fits"]["micro_response"]["slope"] == pytest.approx(20)
    write_report(result, tmp_path, note="demo scores are not meaningful")
    assert json.loads((tmp_path / "analysis.json").read_text())["fits"]["micro_response"]["n"] == 3
    report = (tmp_path / "report.md").read_text()
    assert "| `micro_response` | +20.00 |" in report and "demo scores are not meaningful" in report
    for png in ("score_vs_level.png", "correlations.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
