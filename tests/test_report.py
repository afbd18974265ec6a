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
