import json

from hpcast.report import render_report


def test_the_forecast_section_says_where_the_bands_come_from_and_when_they_rest_on_too_few(tmp_path):
    (tmp_path / "model").mkdir()
    note = ("the 95% band rests on 11 calibration residuals; a split-conformal 95% band needs at least 19, "
            "so it uses the largest one and may cover less than 95%")
    calibration = {"space": "log", "windows": 11, "notes": [note], "quantiles": {"0.8": [0.1], "0.95": [0.2]}}
    (tmp_path / "model" / "manifest.json").write_text(json.dumps({"calibration": calibration}))
    (tmp_path / "forecast.csv").write_text("date,forecast\n2020-01-01,1.0\n")
    text = render_report(tmp_path, {"command": "demo"}, {})
    assert "from the residuals of 11 calibration windows that neither trained the model nor chose its epoch" in text
    assert f"- note: {note}" in text


def test_the_verdict_ranks_on_the_headline_metric_of_the_table(monkeypatch):
    from hpcast import report
    from hpcast.evaluate import METRICS

    metrics = {"lstm": {"mase": 0.9, "directional_accuracy": 0.6}, "naive": {"mase": 1.0, "directional_accuracy": 0.7},
               "drift": {"mase": 0.8, "directional_accuracy": 0.5}}
    assert report.verdict(metrics) == ("The model lstm beat the naive last-value forecast (MASE 0.900 vs 1.000); the "
                                       "best baseline on these folds was drift (MASE 0.800), so prefer it over the "
                                       "model lstm here.")
    monkeypatch.setattr(report, "HEADLINE", METRICS["directional_accuracy"])  # higher is better there
    text = report.verdict(metrics)
    assert text.startswith("The model lstm did not beat the naive last-value forecast (Direction % ")
    assert "the best baseline on these folds was naive" in text


def _printed_backtest(monkeypatch, predictions) -> str:
    """What ``hpcast backtest`` prints for a backtest whose predictions are ``predictions``."""
    import io

    import pandas as pd
    from rich.console import Console

    from hpcast.cli import runs
    from hpcast.evaluate import BacktestResult, score

    out = io.StringIO()
    monkeypatch.setattr(runs, "console", lambda: Console(file=out, width=300))
    runs._print_backtest(BacktestResult(predictions=predictions, metrics=score(predictions), coverage={},
                                        origins=["2020-01-01"], horizon=3, season=1, per_series=pd.DataFrame()))
    return out.getvalue()


def _cells(text: str, first: str, nth: int = 0) -> list[str]:
    """The cells of the ``nth`` printed row that starts with ``first`` (rich draws ┃ in the header, │ below)."""
    rows = [cells for line in text.splitlines()
            if (cells := [cell.strip() for cell in line.strip().strip("┃│").replace("┃", "│").split("│")])[0] == first]
    if len(rows) <= nth:
        raise AssertionError(f"no row {first!r} (#{nth}) in {text}")
    return rows[nth]


def test_the_printed_backtest_shows_distribution_columns_only_where_a_model_has_them(monkeypatch):
    import numpy as np
    import pandas as pd

    points = pd.DataFrame({"model": ["m"] * 3 + ["naive"] * 3, "symbol": "aaa", "actual": [100.0, 110.0, 90.0] * 2,
                           "forecast": [110.0, 110.0, 60.0] * 2, "last": 100.0, "scale": [10.0, 10.0, 20.0] * 2,
                           "trailing_vol": [0.01, 0.02, 0.03] * 2})
    point_labels = ["model", "MAE", "RMSE", "MAPE %", "sMAPE %", "MASE", "Direction %"]
    plain = _printed_backtest(monkeypatch, points)
    assert _cells(plain, "model") == point_labels  # a point-only run: the table it always printed
    assert _cells(plain, "naive") == ["naive", "13.333", "18.257", "14.444", "16.508", "0.833", "66.7"]
    assert "tercile" not in plain
    banded = points.assign(lower_80=np.where(points["model"] == "m", [95.0, 100.0, 95.0] * 2, np.nan),
                           upper_80=np.where(points["model"] == "m", [105.0, 120.0, 100.0] * 2, np.nan))
    text = _printed_backtest(monkeypatch, banded)
    assert _cells(text, "model") == point_labels  # the point table, then the distributions' (no variance given)
    assert _cells(text, "model", 1) == ["model", "CRPS", "wQL", "IS 80", "Cov 80 %"]
    assert _cells(text, "m", 1) == ["m", "2.833", "0.028", "28.333", "66.7"]
    assert len([line for line in text.splitlines() if line.strip("│ ").startswith("naive")]) == 1  # no bands: no row
    assert "coverage by volatility tercile (low / mid / high), m: Cov 80 % 100.0 / 100.0 / 0.0" in text


def test_the_report_has_a_value_at_risk_section_when_the_backtest_tested_one(tmp_path):
    import numpy as np

    from hpcast.evaluate.risk import var_backtest
    from hpcast.report import render_report

    returns = np.array([0.01, -0.03, 0.002, -0.05, 0.0] * 50)  # 250 days, 50 below the line
    test = var_backtest(returns, np.full(250, -0.02), 0.99).to_dict()
    backtest = {"folds": ["2020-01-01"], "horizon": 1, "season": 1, "metrics": {"garch": {"mase": 1.0}},
                "interval_coverage": {}, "per_series": {}, "var": {"garch": {"sp500": {"0.99": test}}}}
    report = render_report(tmp_path, {}, {"backtest": backtest})
    assert "## Value at risk, one step ahead" in report
    assert "| garch | sp500 | 99.0% | 250 | 100 (2.5) | 0.000 |" in report and "| red | 1 red | — |" in report


def test_the_verdict_names_the_best_calibrated_model_and_tells_a_network_to_give_way():
    from hpcast.report import calibration_verdict

    nan = float("nan")
    metrics = {"lstm": {"coverage_80": 0.70, "coverage_95": 0.90, "crps": 2.0},  # 7.5 points off on average
               "garch": {"coverage_80": 0.79, "coverage_95": 0.94, "crps": 1.5},  # 1 point off
               "naive": {"coverage_80": nan, "coverage_95": nan, "crps": nan}}  # no bands: not ranked
    text = calibration_verdict(metrics)
    assert text.startswith("Best calibrated on these folds: garch (80% held 79.0%, 95% held 94.0%; 1.0 points")
    assert "Best CRPS: garch (1.5)." in text
    assert "prefer garch over the model lstm here (7.5 points from the levels)" in text
    assert calibration_verdict({"lstm": metrics["lstm"], "naive": metrics["naive"]}) == ""  # one banded model
