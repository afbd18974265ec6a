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
