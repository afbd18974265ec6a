"""Calibration: realised real returns computed by hand, coverage read off the PIT values, files the app shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpcast.invest import Advisor, Market, Outlooks, calibrate
from hpcast.invest.calibrate import load_calibration, realised_cpi, save_calibration


def test_realised_cpi_is_log_linear_between_readings() -> None:
    cpi = pd.Series([100.0, 121.0], index=pd.to_datetime(["2016-01-01", "2016-03-01"]))
    middle = pd.Timestamp("2016-01-01") + (pd.Timestamp("2016-03-01") - pd.Timestamp("2016-01-01")) / 2
    assert realised_cpi(cpi, middle) == pytest.approx(110.0)
    assert realised_cpi(cpi, pd.Timestamp("2016-04-01")) is None


def test_calibration_on_bundled_data(investor_home: Path, tmp_path: Path) -> None:
    from hpcast.store import FeatureStore

    market = Market.from_store(FeatureStore(str(investor_home / "store")))
    result = calibrate(market, Outlooks(None), {"sp500": 60, "gold": 40}, months=3, every=126, paths=400)
    assert len(result.dates) >= 30 and result.dates[0] == "2000-01-04"
    # The first as-of date, by hand: price ratios over the horizon, deflated by realised CPI.
    day = pd.Timestamp(result.dates[0])
    end = pd.bdate_range(day + pd.Timedelta(days=1), day + pd.DateOffset(months=3))[-1]
    growth = sum(w * market.prices[n][:end].iloc[-1] / market.prices[n][:day].iloc[-1]
                 for n, w in (("sp500", 0.6), ("gold", 0.4)))
    cpi = market.cpi["core_cpi"]
    months = cpi.index.as_unit("ns").asi8.astype(float)
    at = [np.exp(np.interp(float(t.as_unit("ns").value), months, np.log(cpi.to_numpy()))) for t in (day, end)]
    assert result.realised[0] == pytest.approx(growth / (at[1] / at[0]) - 1, rel=1e-12)
    inside = np.mean([lo <= r <= hi for r, lo, hi in zip(result.realised, result.p5, result.p95, strict=True)])
    assert result.inside_90 == inside and 0.5 < inside <= 1
    coverage = list(result.coverage().values())
    assert coverage == sorted(coverage) and all(0 <= c <= 1 for c in coverage)
    _, figure = save_calibration(result, tmp_path)
    assert figure.stat().st_size > 10_000
    saved, _ = load_calibration(tmp_path)
    assert saved["inside_90"] == result.inside_90 and "fell inside the predicted 90% band" in saved["headline"]
    assert Advisor(market, calibration=tmp_path).calibration()["headline"] == saved["headline"]


def test_invest_commands_print_the_same_answer_as_the_api(investor_home: Path, monkeypatch) -> None:
    import json

    from click.testing import CliRunner

    from hpcast.cli import cli

    monkeypatch.setenv("HPCAST_STORE", str(investor_home / "store"))
    monkeypatch.setenv("HPCAST_DATA", str(investor_home / "data"))
    monkeypatch.delenv("HPCAST_TRACKING_URI", raising=False)
    runner = CliRunner()
    done = runner.invoke(cli, ["invest", "simulate", "--alloc", "sp500=60", "--alloc", "gold=40", "--as-of",
                               "2017-12-29", "--json"])
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)  # stderr may carry library warnings
    assert answer["as_of"] == "2017-12-29" and answer["assets"][0]["source"] == "champion v1"
    text = runner.invoke(cli, ["invest", "simulate", "--alloc", "sp500=60", "--alloc", "gold=40", "--as-of",
                               "2017-12-29"])
    assert f"{answer['real']['median']:,.2f}" in text.output and "random walk" in text.output
    bad = runner.invoke(cli, ["invest", "simulate", "--alloc", "sp500=60", "--alloc", "gold=30", "--months", "13"])
    assert bad.exit_code == 1
    assert "allocation: allocation must sum to 100" in bad.output and "horizon_months: " in bad.output
    typo = runner.invoke(cli, ["invest", "simulate", "--alloc", "sp500:60"])
    assert typo.exit_code == 2 and "must be ASSET=PERCENT" in typo.output


def test_coverage_by_regime_and_stress_window_by_hand() -> None:
    """Six as-of dates: terciles of their volatility are the two lowest, middle and highest; the 2008-09 window
    takes the dates whose horizon overlaps it (not only those inside it), and bitcoin's only with bitcoin."""
    from hpcast.invest.calibrate import Calibration

    result = Calibration({"sp500": 100.0}, 3, 100, dates=["2007-06-01", "2007-10-01", "2008-03-03", "2010-02-01",
                                                          "2012-01-02", "2012-06-01"],
                         ends=["2007-08-31", "2008-01-01", "2008-06-03", "2010-05-03", "2012-04-02", "2012-08-31"],
                         pit=[0.5, 0.97, 0.3, 0.08, 0.6, 0.99], trailing_vol=[0.1, 0.3, 0.5, 0.2, 0.4, 0.6])
    regimes = result.regimes()
    # low: vol 0.1, 0.2 (pit 0.5, 0.08); mid: 0.3, 0.4 (0.97, 0.6); high: 0.5, 0.6 (0.3, 0.99)
    assert {name: row["coverage"] for name, row in regimes.items()} == {
        "low": {"0.5": 0.5, "0.8": 0.5, "0.9": 1.0}, "mid": {"0.5": 0.5, "0.8": 0.5, "0.9": 0.5},
        "high": {"0.5": 0.5, "0.8": 0.5, "0.9": 0.5}}
    assert regimes["low"]["pit_histogram"][0] == 0.5 and regimes["low"]["pit_histogram"][5] == 0.5
    assert regimes["high"]["volatility_range"] == [0.5, 0.6]
    stress = result.stress()
    assert set(stress) == {"2008-09 crisis"}  # Q4 2018 met by none; no bitcoin held
    assert stress["2008-09 crisis"]["dates"] == 2 and stress["2008-09 crisis"]["coverage"]["0.9"] == 0.5
    assert set(dataclasses.replace(result, allocation={"sp500": 50.0, "bitcoin": 50.0}).stress()) == {
        "2008-09 crisis"}  # the markets' windows count for every allocation
    spring = Calibration({"sp500": 100.0}, 3, 100, dates=["2018-03-01"], ends=["2018-06-01"], pit=[0.5],
                         trailing_vol=[0.2])
    assert spring.stress() == {}  # bitcoin's 2018 crash only where bitcoin is held
    assert set(dataclasses.replace(spring, allocation={"bitcoin": 100.0}).stress()) == {"bitcoin 2018 crash"}
    assert result.regime_headline() == ("90% band by regime of the as-of date: low volatility 100% of 2; "
                                        "mid volatility 50% of 2; high volatility 50% of 2; "
                                        "2008-09 crisis 50% of 2")
