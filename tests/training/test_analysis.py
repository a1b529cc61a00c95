import json

import numpy as np
import pytest

from macro2micro.training.analysis import analyze, fit_ladder, metric_correlations, write_report


def test_the_paper_check_reproduces_16_of_18_series_and_names_the_two_that_differ(tmp_path):
    from macro2micro.training.paper import reproduce, write_paper_report

    result = reproduce()
    differ = sorted(name for name, s in result["series"].items() if not s["agrees"])
    assert result["total"] == 18 and result["agree"] == 16
    assert differ == ["meso_response 20K", "meso_response 30K"]
    for name in differ:
        assert result["series"][name]["why_not"]
    assert result["series"]["micro_response 10K"]["fit"]["slope"] == pytest.approx(5.35, abs=0.15)
    assert result["series"]["micro_instruction 10K"]["fit"]["slope"] == pytest.approx(-5.45, abs=0.15)
    ablations = result["ablations"]
    assert ablations["length control (8 levels)"]["fit"]["r"] == pytest.approx(0.80, abs=0.02)
    for name, a in ablations.items():
        assert abs(a["difference"]) <= 0.15, name
    write_paper_report(result, tmp_path)
    report = (tmp_path / "paper.md").read_text()
    assert "16 of 18 slopes reproduced" in report and report.count("**differs**") == 2
    assert (tmp_path / "paper_series.png").read_bytes()[:4] == b"\x89PNG"


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
    return {
        c: {
            "level": lvl,
            "instruction": {"mean_length": 10 + i, "distinct_1": 0.5, "self_bleu": None},
            "response": {"mean_length": 100 + 10 * i, "distinct_1": 0.9 - 0.1 * i, "self_bleu": 0.2},
        }
        for i, (c, lvl) in enumerate(configs)
    }


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
