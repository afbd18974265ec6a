"""Distribution heads inside the estimator: quantiles and sample paths in the data's units after the target's
scaling and encoding are undone, bands that move with the predicted spread, and a simulated GARCH(1,1)-t
process whose conditional distribution is known."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from hpcast.config import RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.forecast.recurrent import RecurrentForecaster

TINY = RunConfig(window=10, horizon=3, train=TrainConfig(epochs=1, batch_size=32, device="cpu"))
MU, SIGMA = 0.5, 0.8  # the head's fixed output in the network's scaled space


def _fixed_normal(target: str) -> RecurrentForecaster:
    """A fitted normal-head LSTM whose head then always says N(MU, SIGMA) for every step (scaled space)."""
    from hpcast.forecast.lstm import LSTMConfig

    config = dataclasses.replace(TINY, target=target, model=LSTMConfig(layers=(4,), dropout=(0.0,),
                                                                        distribution="normal"))
    model = RecurrentForecaster(config).fit(load_bundled("sp500").series().iloc[-400:], "B", calendar="NYSE")
    with torch.no_grad():
        model.net.head.weight.zero_()
        bias = model.net.head.bias.view(3, 2)  # (h, p)
        bias[:, 0] = MU
        bias[:, 1] = math.log(math.expm1(SIGMA - 1e-4))  # softplus^-1, less the floor the head adds
    return model


def test_sample_paths_are_in_the_datas_units_for_log_returns():
    model = _fixed_normal("log_return")
    scale = next(iter(model.series.values()))["scalers"]["target"]["scale"][0]  # log returns were divided by it
    last = float(model.history.values[-1, 0])
    paths = model.sample_paths(n=60_000, seed=0)  # (1, n, 3)
    for k in (1, 3):  # independent normal steps: k-step log return ~ N(k·MU, k·SIGMA²) in scaled units
        for q in (0.05, 0.5, 0.95):
            expected = last * math.exp(scale * (k * MU + math.sqrt(k) * SIGMA * stats.norm.ppf(q)))
            assert np.quantile(paths[0, :, k - 1], q) == pytest.approx(expected, rel=2e-3), (k, q)
    forecast = model.predict()
    np.testing.assert_allclose(forecast["forecast"], last * np.exp(scale * MU * np.arange(1, 4)), rtol=1e-9)


def test_bands_are_the_calibrated_multiple_of_the_predicted_spread():
    model = _fixed_normal("log_return")
    scale = next(iter(model.series.values()))["scalers"]["target"]["scale"][0]
    calibration = next(iter(model.series.values()))["calibration"]
    assert calibration["space"] == "scaled-log"
    frame = model.predict()
    spread = scale * SIGMA * np.sqrt(np.arange(1, 4))  # of the cumulated log return
    multiple = np.asarray(calibration["quantiles"]["0.8"])
    # rtol: the head runs in float32
    np.testing.assert_allclose(np.log(frame["upper_80"] / frame["forecast"]), multiple * spread, rtol=1e-6)
    np.testing.assert_allclose(np.log(frame["forecast"] / frame["lower_80"]), multiple * spread, rtol=1e-6)


def test_sample_paths_are_in_the_datas_units_for_levels():
    model = _fixed_normal("level")
    scaler = next(iter(model.series.values()))["scalers"]["target"]  # min-max: value = offset + scale · z
    paths = model.sample_paths(n=60_000, seed=1)
    for q in (0.1, 0.9):
        expected = scaler["offset"][0] + scaler["scale"][0] * (MU + SIGMA * stats.norm.ppf(q))
        assert np.quantile(paths[0, :, 2], q) == pytest.approx(expected, rel=2e-3)


def test_a_point_head_has_no_sample_paths():
    model = RecurrentForecaster(dataclasses.replace(TINY, model=dataclasses.replace(
        TINY.model, layers=(4,), dropout=(0.0,)))).fit(load_bundled("sp500").series().iloc[-200:], "B")
    with pytest.raises(ValueError, match="the point head gives no samples"):
        model.sample_paths(n=10)


def _garch_t(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (in %) of a GARCH(1,1) with unit-variance Student-t(5) shocks, and each day's true σ."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta, nu = 0.05, 0.10, 0.85, 5.0
    shocks = rng.standard_t(nu, size=n) / math.sqrt(nu / (nu - 2))
    sigma2 = np.empty(n)
    returns = np.empty(n)
    sigma2[0] = omega / (1 - alpha - beta)
    for t in range(n):
        if t:
            sigma2[t] = omega + alpha * returns[t - 1] ** 2 + beta * sigma2[t - 1]
        returns[t] = math.sqrt(sigma2[t]) * shocks[t]
    return returns, np.sqrt(sigma2)


@pytest.mark.slow
def test_student_t_lstm_tracks_a_simulated_garch_t_process():
    """On 5,000 days of GARCH(1,1)-t returns, the fitted Student-t LSTM's one-step 5% and 95% quantiles follow
    the true conditional ones (they move with σ_t), and its 80% band of 21-day returns, from sample paths,
    covers close to 80% of the held-out origins."""
    from hpcast.forecast.lstm import LSTMConfig

    returns, sigma = _garch_t(5_000, seed=7)
    prices = pd.Series(100 * np.exp(np.cumsum(returns / 100)), index=pd.bdate_range("2000-01-03", periods=5_000))
    split = 4_000
    config = RunConfig(window=42, horizon=21, train=TrainConfig(epochs=30, batch_size=64, patience=6, seed=0,
                                                                device="cpu"),
                       model=LSTMConfig(layers=(16,), dropout=(0.0,), distribution="student-t"))
    model = RecurrentForecaster(config).fit(prices.iloc[:split], "B")
    origins = np.arange(split, 5_000 - 21, 7)  # held-out origins: the model never saw their data
    predicted, truth, inside = [], [], []
    for origin in origins:
        history = Panel.from_series(prices.iloc[:origin], "B", symbol=next(iter(model.series)))
        paths = model.sample_paths(history, n=400, seed=int(origin))  # (1, 400, 21)
        one_step = np.log(paths[0, :, 0] / prices.iloc[origin - 1]) * 100
        predicted.append(np.quantile(one_step, [0.05, 0.95]))
        truth.append(stats.t.ppf([0.05, 0.95], 5) / math.sqrt(5 / 3) * sigma[origin])
        month = np.log(paths[0, :, 20] / prices.iloc[origin - 1])
        lower, upper = np.quantile(month, [0.1, 0.9])
        realised = math.log(prices.iloc[origin + 20] / prices.iloc[origin - 1])
        inside.append(lower <= realised <= upper)
    predicted, truth = np.array(predicted), np.array(truth)
    width_p, width_t = predicted[:, 1] - predicted[:, 0], truth[:, 1] - truth[:, 0]
    correlation = np.corrcoef(width_p, width_t)[0, 1]
    print(f"width correlation {correlation:.3f}, median |ratio - 1| {np.median(np.abs(width_p / width_t - 1)):.3f}, "
          f"21-day 80% coverage {np.mean(inside):.3f} over {len(origins)} origins")
    assert correlation > 0.6, f"one-step widths follow the true σ_t with correlation {correlation:.2f}"
    assert np.median(np.abs(width_p / width_t - 1)) < 0.25
    assert 0.70 <= np.mean(inside) <= 0.90, f"21-day 80% band covered {np.mean(inside):.0%} of {len(origins)}"


def test_a_point_networks_ewma_calibrated_bands_widen_with_the_historys_volatility():
    """--calibration ewma: the band is the calibrated multiple of the EWMA σ at the origin times √k, so the
    same model forecasting from a history whose last weeks are twice as volatile gives bands twice as wide."""
    from hpcast.forecast.lstm import LSTMConfig
    from hpcast.forecast.recurrent import ewma_sigma

    series = load_bundled("sp500").series().iloc[-600:]
    config = dataclasses.replace(TINY, model=LSTMConfig(layers=(4,), dropout=(0.0,), calibration="ewma"))
    model = RecurrentForecaster(config).fit(series, "B", calendar="NYSE")
    calibration = next(iter(model.series.values()))["calibration"]
    assert calibration["space"] == "scaled-log"
    frame = model.predict()
    sigma = ewma_sigma(series.to_numpy())
    multiple = np.asarray(calibration["quantiles"]["0.95"])
    np.testing.assert_allclose(np.log(frame["upper_95"] / frame["forecast"]), multiple * sigma * np.sqrt([1, 2, 3]),
                               rtol=1e-9)
    returns = np.diff(np.log(series.to_numpy()))
    stormy = np.exp(np.cumsum(np.concatenate([[np.log(series.iloc[0])], returns[:-250], 2 * returns[-250:]])))
    storm = model.predict(pd.Series(stormy, index=series.index, name=series.name))
    ratio = np.log(storm["upper_95"] / storm["forecast"]) / np.log(frame["upper_95"] / frame["forecast"])
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-9)  # σ doubles over the whole lookback: the band doubles


def test_one_step_risk_gives_the_heads_variance_and_an_es_beyond_the_calibrated_var():
    from hpcast.evaluate.risk import es_levels

    model = _fixed_normal("log_return")
    scale = next(iter(model.series.values()))["scalers"]["target"]["scale"][0]
    with pytest.raises(ValueError, match=r"var level \(0.99\) is the lower edge of the 98% band, which this model "
                                         r"was not calibrated for"):
        model.one_step_risk(model.history, {0.99: es_levels(0.99)})  # fitted with the 80% and 95% bands
    risk = model.one_step_risk(model.history, {0.975: es_levels(0.975)})  # the 95% band's lower edge
    assert risk["variance"][0] == pytest.approx((SIGMA * scale) ** 2, rel=1e-6)
    mu = MU * scale
    calibration = next(iter(model.series.values()))["calibration"]
    var_line = mu - calibration["quantiles"]["0.95"][0] * SIGMA * scale
    z = stats.norm.ppf(0.025)
    ratio = (risk["es_975"][0] - mu) / (var_line - mu)  # a normal's ES over its VaR, from the mean
    assert ratio == pytest.approx(stats.norm.pdf(z) / 0.025 / -z, rel=0.01)


def test_scaled_scores_are_pooled_over_the_panels_series():
    """A global model's scaled calibration is one, over every series' calibration windows: a short series'
    95% band rests on the panel's residuals (the rank a 95% band needs exists), not on its own few."""

    long, short = load_bundled("sp500").series().iloc[-500:], load_bundled("nasdaq").series().iloc[-120:]
    panel = Panel.from_frames({"long": long.to_frame(), "short": short.to_frame()}, "B", {"long": "NYSE",
                                                                                          "short": "NYSE"})
    config = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, layers=(4,), dropout=(0.0,),
                                                                 distribution="normal"))
    model = RecurrentForecaster(config).fit(panel)
    long_cal, short_cal = model.series["long"]["calibration"], model.series["short"]["calibration"]
    assert long_cal == short_cal and long_cal["pooled_series"] == 2
    assert long_cal["windows"] == model.series["long"]["data"]["calibration_windows"] + \
        model.series["short"]["data"]["calibration_windows"]
    assert long_cal["quantiles"]["0.95"] != long_cal["quantiles"]["0.8"] and not long_cal["notes"]
