"""Several series through the CLI: a long CSV (unique_id, ds, y) of two series with different date ranges
trains one global model, backtests and forecasts per series (slow: real training)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.cli import cli
from hpcast.data.calendars import future_dates

pytestmark = pytest.mark.slow

TINY = ["--epochs", "2", "--layers", "4", "--dropout", "0", "--quiet", "--window", "10", "--horizon", "3"]


def _long_csv(path):
    rng = np.random.default_rng(0)
    parts = []
    for name, last, periods in (("alpha", "2021-03-05", 300), ("beta", "2021-03-05", 200)):
        dates = pd.bdate_range(end=last, periods=periods)
        values = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, periods)))
        parts.append(pd.DataFrame({"unique_id": name, "ds": dates.strftime("%Y-%m-%d"), "y": values.round(4)}))
    pd.concat(parts).sample(frac=1, random_state=1).to_csv(path, index=False)  # shuffled rows: a real export
    return path


def test_a_long_csv_trains_backtests_and_forecasts_every_series(tmp_path):
    csv = _long_csv(tmp_path / "long.csv")
    data = ["--csv", str(csv), "--id-col", "unique_id", "--date-col", "ds", "--value-col", "y"]
    trained = CliRunner().invoke(cli, ["train", *data, *TINY, "--out", str(tmp_path / "train")])
    assert trained.exit_code == 0, trained.output
    manifest = json.loads((tmp_path / "train" / "model" / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and [s["symbol"] for s in manifest["series"]] == ["alpha", "beta"]
    assert [s["data"]["start"] for s in manifest["series"]] == ["2020-01-13", "2020-06-01"]

    forecast = CliRunner().invoke(cli, ["forecast", *data, "--model", str(tmp_path / "train"),
                                        "--out", str(tmp_path / "forecast")])
    assert forecast.exit_code == 0, forecast.output
    table = pd.read_csv(tmp_path / "forecast" / "forecast.csv", parse_dates=["date"])
    frame = pd.read_csv(csv, parse_dates=["ds"])
    for symbol, rows in table.groupby("symbol"):
        last = pd.DatetimeIndex(sorted(frame.loc[frame["unique_id"] == symbol, "ds"]))
        assert list(rows["date"]) == list(future_dates(last, "B", 3, "weekdays"))
    assert (tmp_path / "forecast" / "forecast_alpha.png").is_file()

    tested = CliRunner().invoke(cli, ["backtest", *data, *TINY, "--test-size", "6", "--models", "lstm,naive",
                                      "--out", str(tmp_path / "backtest")])
    assert tested.exit_code == 0, tested.output
    metrics = json.loads((tmp_path / "backtest" / "metrics.json").read_text())["backtest"]
    assert set(metrics["per_series"]["lstm"]) == {"alpha", "beta"}
    assert "dm_pvalue" in metrics["per_series"]["lstm"]["alpha"] and "0.8" in metrics["interval_coverage"]["lstm"]
    assert "per series" in tested.output
