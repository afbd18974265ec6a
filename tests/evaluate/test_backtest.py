"""Backtests checked against oracles whose forecasts and errors are computable by hand."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hpcast.config import BacktestConfig, RunConfig
from hpcast.evaluate import backtest, fold_origins
from hpcast.evaluate.backtest import DEFAULT_MODELS


@pytest.fixture
def line():
    """1, 2, ..., 20 on business days: naive errors are 1, 2, 3 per fold; drift is exact."""
    return pd.Series(np.arange(1.0, 21.0), index=pd.bdate_range("2020-01-01", periods=20), name="value")


def test_fold_origins():
    assert fold_origins(20, test_size=6, horizon=3, step=3) == [14, 17]
    assert fold_origins(20, test_size=6, horizon=3, step=1) == [14, 15, 16, 17]
    with pytest.raises(ValueError, match=r"test_size \(2\) must be in \[horizon \(3\), points \(20\)\)"):
        fold_origins(20, 2, 3, 1)


def test_oracle_metrics(line):
    config = RunConfig(horizon=3, backtest=BacktestConfig(test_size=6))
    result = backtest(line, "B", config, models=("naive", "drift"))
    naive, drift = result.metrics.loc["naive"], result.metrics.loc["drift"]
    assert naive["mae"] == pytest.approx(2.0)
    assert naive["rmse"] == pytest.approx(np.sqrt(14 / 3))
    assert naive["mase"] == pytest.approx(2.0)  # no season declared for business days: one-step naive scale 1
    assert np.isnan(naive["directional_accuracy"])
    assert drift["mae"] == pytest.approx(0.0, abs=1e-12)
    assert drift["directional_accuracy"] == 1.0
    assert result.origins == [str(line.index[13].date()), str(line.index[16].date())]
    assert len(result.predictions) == 2 * 2 * 3  # folds × models × steps
    assert result.season == 1


def test_mase_uses_the_declared_season_only():
    """Monthly data declare m = 12: the scale is the in-sample seasonal naive error; daily data none."""
    values = np.tile(np.arange(12.0), 4) + np.repeat(np.arange(4.0) * 100, 12)  # a yearly saw stepping up 100
    monthly = pd.Series(values, index=pd.date_range("2000-01-01", periods=48, freq="MS"), name="value")
    config = RunConfig(horizon=3, backtest=BacktestConfig(test_size=6))
    result = backtest(monthly, "MS", config, models=("naive", "seasonal_naive"))
    assert result.season == 12
    origin = len(monthly) - 6
    scale = np.mean(np.abs(values[12:origin] - values[:origin - 12]))  # 100: a year apart
    actual, last = values[origin:origin + 3], values[origin - 1]
    assert result.predictions.loc[result.predictions["fold"] == 0, "scale"].iloc[0] == pytest.approx(scale)
    naive = result.predictions[(result.predictions["model"] == "naive") & (result.predictions["fold"] == 0)]
    np.testing.assert_allclose(np.abs(naive["actual"] - naive["forecast"]), np.abs(actual - last))


def test_seasonal_naive_only_where_a_season_is_declared(line, price_series, tiny_config):
    config = RunConfig(horizon=3, backtest=BacktestConfig(test_size=6))
    with pytest.raises(ValueError, match=r"model 'seasonal_naive' needs a declared season; frequency 'B' has none"):
        backtest(line, "B", config, models=("naive", "seasonal_naive"))
    tiny = dataclasses.replace(tiny_config, backtest=BacktestConfig(test_size=3))
    default = backtest(price_series, "B", tiny)
    assert list(default.metrics.index) == [m for m in DEFAULT_MODELS if m != "seasonal_naive"]


@pytest.mark.parametrize(("freq", "models"), [("B", ("lstm", "naive", "drift", "arima")),
                                               ("MS", ("naive", "seasonal_naive", "drift", "arima"))])
def test_forecasts_never_see_their_own_future(price_series, tiny_config, freq, models):
    """For every fold, the first one included, changing every value from its origin on leaves that fold's
    forecasts unchanged; the LSTM is refitted on each fold's history (scaler included)."""
    index = pd.date_range("1990-01-01", periods=len(price_series), freq=freq)
    series = pd.Series(price_series.to_numpy(), index=index, name="value")
    config = dataclasses.replace(tiny_config, backtest=BacktestConfig(test_size=6))
    before = backtest(series, freq, config, models=models).predictions
    for fold, origin in enumerate(fold_origins(len(series), 6, 3, 3)):
        changed = series.copy()
        changed.iloc[origin:] *= 3.0
        after = backtest(changed, freq, config, models=models).predictions
        rows = before["fold"] == fold
        assert set(before.loc[rows, "model"]) == set(models)
        pd.testing.assert_series_equal(before.loc[rows, "forecast"], after.loc[rows, "forecast"])


def test_lstm_sits_beside_the_baselines_with_interval_coverage(price_series, tiny_config):
    import dataclasses

    config = dataclasses.replace(tiny_config, backtest=BacktestConfig(test_size=6))
    result = backtest(price_series, "B", config, models=("lstm", "naive"))
    assert list(result.metrics.index) == ["lstm", "naive"]
    assert set(result.coverage) == {"0.8", "0.95"}
    assert 0 <= result.coverage["0.8"] <= result.coverage["0.95"] <= 1


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match=r"models \(\['prophet'\]\) must be among"):
        backtest(pd.Series([1.0]), "B", RunConfig(), models=("prophet",))


@pytest.mark.slow
def test_conformal_bands_cover_known_noise_within_binomial_error(tiny):
    """I.i.d. noise around a known level: every window's residual is exchangeable, so split-conformal
    bands must cover close to their level out of sample. 60 folds × 2 steps, each fold refitted."""
    rng = np.random.default_rng(11)
    series = pd.Series(100 * np.exp(rng.normal(0, 0.02, 400)), index=pd.bdate_range("2015-01-01", periods=400),
                       name="value")
    config = dataclasses.replace(tiny(epochs=2, patience=5), window=8, horizon=2,
                                 backtest=BacktestConfig(test_size=120, step=2))
    result = backtest(series, "B", config, models=("lstm", "naive"))
    n = len(result.predictions[result.predictions["model"] == "lstm"])
    assert n == 120
    for level in (0.8, 0.95):
        error = 3 * np.sqrt(level * (1 - level) / n)  # three binomial standard errors
        assert level - error <= result.coverage[f"{level:g}"] <= level + error, result.coverage
