"""The volatility baselines (`hpcast.forecast.volatility` over `hpcast.models.volatility`).

The shared contract (tests/forecast/test_contract.py) already holds ``garch``, ``ewma``, ``hist-sim`` and ``har``
to the protocol; these tests check the numbers: GARCH against a process with known parameters, each
recursion and regression against a hand or statsmodels computation, bands in price units, the reported
convergence failure and the messages of bad input.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from hpcast.config import RunConfig, TrainConfig
from hpcast.data.panel import Panel
from hpcast.errors import ConfigError, DataError
from hpcast.forecast.base import load_forecaster
from hpcast.forecast.table import EWMAConfig, GarchConfig, HistSimConfig
from hpcast.forecast.volatility import VolatilityForecaster
from hpcast.models.volatility import ewma_variance, har_variances, non_narrowing

NAMES = ("garch", "ewma", "hist-sim", "har")
Z95 = float(ndtri(0.975))  # 1.959964...

# A GJR-GARCH(1,1) with skew-t shocks, in arch's percent units and parameter order
TRUTH = {"mu": 0.03, "omega": 0.02, "alpha[1]": 0.03, "gamma[1]": 0.12, "beta[1]": 0.87, "eta": 7.0, "lambda": -0.15}
# |estimate - truth| allowed after 2,000 returns: about three standard errors of each estimate at this size
NEAR = {"mu": 0.03, "omega": 0.02, "alpha[1]": 0.05, "gamma[1]": 0.08, "beta[1]": 0.05, "eta": 3.0, "lambda": 0.1}
FIT_RETURNS, ROLLING = 2000, 1000


# -- data --------------------------------------------------------------------------------------------------
def _panel(returns: np.ndarray, symbol: str = "sim", start: float = 100.0, **columns: np.ndarray) -> Panel:
    """Business-day prices start·exp(cumsum(returns)) (one more price than returns), with extra columns."""
    prices = start * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    index = pd.bdate_range("2000-01-03", periods=len(prices), name="date")
    frame = pd.DataFrame({"adj_close": prices, **columns}, index=index)
    return Panel.from_frames({symbol: frame}, "B", {symbol: "weekdays"})


def _random_walk(n: int, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, n)


def _fitted(name: str, panel: Panel, horizon: int = 3, seed: int = 0, **settings: Any) -> VolatilityForecaster:
    config = RunConfig(horizon=horizon, train=TrainConfig(seed=seed)).for_model(name)
    if settings:
        config = dataclasses.replace(config, model=type(config.model)(**settings))
    return VolatilityForecaster(config).fit(panel)


@pytest.fixture(scope="module")
def gjr_returns() -> np.ndarray:
    """3,000 log returns of the GJR-GARCH in `TRUTH`, simulated by arch itself (seeded)."""
    from arch.univariate import GARCH, ConstantMean, SkewStudent

    shocks = SkewStudent(seed=np.random.default_rng(26))
    model = ConstantMean(None, volatility=GARCH(p=1, o=1, q=1), distribution=shocks)
    return model.simulate(list(TRUTH.values()), FIT_RETURNS + ROLLING, burn=500)["data"].to_numpy() / 100.0


@pytest.fixture(scope="module")
def gjr_fitted(gjr_returns: np.ndarray) -> tuple[VolatilityForecaster, Panel]:
    """``garch`` fitted on the first 2,000 returns, and the whole panel."""
    panel = _panel(gjr_returns)
    return _fitted("garch", panel.until(panel.index(0)[FIT_RETURNS]), horizon=1), panel


# -- GARCH on a process with known parameters ----------------------------------------------------------------
def test_garch_recovers_the_parameters(gjr_fitted: tuple[VolatilityForecaster, Panel]) -> None:
    fitted = gjr_fitted[0].series["sim"]
    assert fitted["garch"]["convergence_flag"] == 0 and fitted["fallback"] is None and fitted["notes"] == []
    estimate = fitted["garch"]["parameters"]
    for name, truth in TRUTH.items():
        assert abs(estimate[name] - truth) < NEAR[name], f"{name}: {estimate[name]:.4f}, truth {truth}"
    persistence = estimate["alpha[1]"] + estimate["gamma[1]"] / 2 + estimate["beta[1]"]  # skew-t: P(z<0) ~ 1/2
    assert abs(persistence - 0.96) < 0.02, persistence


def test_garch_one_step_bands_cover(gjr_fitted: tuple[VolatilityForecaster, Panel]) -> None:
    """Rolling over the 1,000 days after the fit, each day forecast from the history before it: the 80% and
    95% bands cover within three binomial standard errors (1.3 and 0.7 points at n = 1,000)."""
    forecaster, panel = gjr_fitted
    index, prices = panel.index(0), panel.values[:, 0]
    inside = {80: [], 95: []}
    for origin in range(FIT_RETURNS, FIT_RETURNS + ROLLING):
        frame = forecaster.predict(panel.until(index[origin]), horizon=1)
        for level in inside:
            lower, upper = frame[f"lower_{level}"].iloc[0], frame[f"upper_{level}"].iloc[0]
            inside[level].append(lower <= prices[origin + 1] <= upper)
    assert abs(np.mean(inside[80]) - 0.80) < 3 * np.sqrt(0.8 * 0.2 / ROLLING), np.mean(inside[80])
    assert abs(np.mean(inside[95]) - 0.95) < 3 * np.sqrt(0.95 * 0.05 / ROLLING), np.mean(inside[95])


def test_garch_steps_past_the_first_are_simulated_with_the_seed(gjr_returns: np.ndarray) -> None:
    panel = _panel(gjr_returns[:400])
    first, second = (_fitted("garch", panel, horizon=4, seed=seed).predict() for seed in (0, 1))
    assert first["upper_95"].iloc[0] == second["upper_95"].iloc[0]  # step 1: the skew-t's own quantile
    assert (first["upper_95"].iloc[1:] != second["upper_95"].iloc[1:]).all()  # later steps: the seeded paths
    pd.testing.assert_frame_equal(_fitted("garch", panel, horizon=4).predict(), first, check_exact=True)


# -- the other models' numbers -----------------------------------------------------------------------------
def test_ewma_recursion_by_hand() -> None:
    # σ²: 1e-4, then 0.94·1e-4 + 0.06·0.01², 0.94·1e-4 + 0.06·0.02², 0.94·1.18e-4 + 0.06·0.015²
    np.testing.assert_allclose(ewma_variance(np.array([0.01, -0.02, 0.015]), 0.94, 1e-4),
                               [1e-4, 1e-4, 1.18e-4, 1.2442e-4], rtol=1e-12)


@pytest.mark.parametrize("decay", [0.94, 0.8])
def test_ewma_one_step_variance_is_the_recursion(decay: float) -> None:
    returns = _random_walk(150, seed=1)
    variance = float(np.mean(returns[:22] ** 2))  # the documented start: the first 22 returns' mean square
    for r in returns:
        variance = decay * variance + (1 - decay) * r**2
    fitted = _fitted("ewma", _panel(returns), decay=decay)
    assert fitted.variance().loc["sim"] == pytest.approx(variance, rel=1e-12)


def test_hist_sim_quantiles_are_numpy_quantiles() -> None:
    returns = _random_walk(400, seed=2)
    panel = _panel(returns)
    fitted = _fitted("hist-sim", panel)
    window = returns[-252:]
    levels = [0.01, 0.05, 0.5, 0.9]
    step1 = fitted.quantiles(levels, horizon=1)
    np.testing.assert_allclose(step1["log_return"], np.quantile(window, levels), rtol=0, atol=1e-15)
    frame, last = fitted.predict(), panel.values[-1, 0]
    assert frame["forecast"].iloc[0] == pytest.approx(last * np.exp(np.quantile(window, 0.5)), rel=1e-12)
    assert frame["lower_95"].iloc[0] == pytest.approx(last * np.exp(np.quantile(window, 0.025)), rel=1e-12)
    assert frame["upper_80"].iloc[0] == pytest.approx(last * np.exp(np.quantile(window, 0.9)), rel=1e-12)
    assert fitted.variance().loc["sim"] == pytest.approx(np.var(window), rel=1e-12)


def test_hist_sim_uses_a_shorter_history_whole_and_says_so() -> None:
    returns = _random_walk(199, seed=3)
    fitted = _fitted("hist-sim", _panel(returns))
    np.testing.assert_allclose(fitted.quantiles([0.1], horizon=1)["log_return"], np.quantile(returns, [0.1]),
                               rtol=0, atol=1e-15)
    assert fitted.series["sim"]["notes"] == [
        "hist-sim: series 'sim' has 199 log returns through 2000-10-06, fewer than the lookback (252): its "
        "distribution uses all 199"]


def _har_by_statsmodels(log_variance: np.ndarray) -> tuple[np.ndarray, float]:
    """HAR's OLS on regressors built with pandas, fitted by statsmodels."""
    import statsmodels.api as sm

    y = pd.Series(log_variance)
    regressors = pd.DataFrame({"day": y, "week": y.rolling(5).mean(), "month": y.rolling(22).mean()}).shift(1)
    rows = regressors.notna().all(axis=1)
    result = sm.OLS(y[rows], sm.add_constant(regressors[rows])).fit()
    return result.params.to_numpy(), float(np.mean(np.exp(result.resid)))


def test_har_coefficients_equal_statsmodels_ols(gjr_returns: np.ndarray) -> None:
    returns = gjr_returns[:600]
    fitted = _fitted("har", _panel(returns)).series["sim"]["har"]
    squared = returns**2
    coefficients, smearing = _har_by_statsmodels(np.log(np.maximum(squared, 1e-4 * squared.mean())))
    assert fitted["proxy"] == "squared returns"
    np.testing.assert_allclose(fitted["coefficients"], coefficients, rtol=1e-9, atol=1e-12)
    assert fitted["smearing"] == pytest.approx(smearing, rel=1e-9)


def test_har_uses_garman_klass_where_the_panel_has_ohlc() -> None:
    rng = np.random.default_rng(4)
    returns = _random_walk(300, seed=4)
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    open_ = close * np.exp(rng.normal(0, 0.003, len(close)))  # an overnight gap
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, len(close))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, len(close))))
    fitted = _fitted("har", _panel(returns, open=open_, high=high, low=low, close=close)).series["sim"]["har"]
    o, h, l, c = (values[1:] for values in (open_, high, low, close))  # the days of the returns
    gk = 0.5 * np.log(h / l) ** 2 - (2 * np.log(2) - 1) * np.log(c / o) ** 2
    proxy = gk * np.sum(returns**2) / np.sum(gk)
    coefficients, smearing = _har_by_statsmodels(np.log(np.maximum(proxy, 1e-4 * proxy.mean())))
    assert fitted["proxy"] == "garman-klass"
    np.testing.assert_allclose(fitted["coefficients"], coefficients, rtol=1e-9, atol=1e-12)
    assert fitted["smearing"] == pytest.approx(smearing, rel=1e-9)


def test_har_forecasts_iterate_the_regression() -> None:
    log_variance = np.log(np.linspace(1e-4, 2e-4, 30))
    # y_{t+1} = 0.5 + 0.5 y_t: from y_T, two steps by hand, times the smearing factor 1.1
    y1 = 0.5 + 0.5 * log_variance[-1]
    expected = 1.1 * np.exp([y1, 0.5 + 0.5 * y1])
    forecast = har_variances(log_variance, np.array([0.5, 0.5, 0.0, 0.0]), 1.1, 2)
    np.testing.assert_allclose(forecast, expected, rtol=1e-12)


# -- bands in the data's units -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lognormal() -> Panel:
    """A lognormal random walk with a constant volatility of 1% a day, 2,000 returns, around 100."""
    return _panel(_random_walk(2000, sigma=0.01, seed=5))


def test_ewma_bands_are_last_times_exp_of_z_sigma(lognormal: Panel) -> None:
    fitted = _fitted("ewma", lognormal, horizon=5)
    frame, last = fitted.predict(), lognormal.values[-1, 0]
    sigma = np.sqrt(fitted.variance().loc["sim"])
    assert 0.007 < sigma < 0.013, sigma  # the truth is 0.01; EWMA's estimate rests on about 30 days
    steps = np.arange(1, 6)
    np.testing.assert_allclose(frame["upper_95"], last * np.exp(Z95 * sigma * np.sqrt(steps)), rtol=1e-12)
    np.testing.assert_allclose(frame["lower_95"], last * np.exp(-Z95 * sigma * np.sqrt(steps)), rtol=1e-12)
    np.testing.assert_array_equal(frame["forecast"], np.full(5, last))  # zero mean: the median price stays put


@pytest.mark.parametrize("name", NAMES)
def test_one_step_band_is_about_196_sigma(name: str, lognormal: Panel) -> None:
    """Every model's one-step 95% band is last·exp(±1.96σ) to within 25% in log units (σ = 1%)."""
    frame, last = _fitted(name, lognormal, horizon=1).predict(), lognormal.values[-1, 0]
    upper, lower = np.log(frame["upper_95"].iloc[0] / last), np.log(last / frame["lower_95"].iloc[0])
    for half_width in (upper, lower):
        assert 0.75 < half_width / (Z95 * 0.01) < 1.25, (name, upper, lower)


def test_simulated_bands_never_narrow() -> None:
    lower = np.array([[-1.0, -2.0, -1.5, -3.0], [-1.0, -2.0, -2.0, -3.0]])  # (K=2, h=4), narrowest first
    upper = -lower
    upper[1, 2] = 1.0  # the 95% band's width dips at step 3, to inside the 80% band
    wide_lower, wide_upper = non_narrowing(lower, upper)
    np.testing.assert_array_equal(wide_upper[0] - wide_lower[0], [2.0, 4.0, 4.0, 6.0])  # the dip filled, centred
    np.testing.assert_array_equal(wide_lower[0], [-1.0, -2.0, -2.0, -3.0])
    assert (wide_lower[1] <= wide_lower[0]).all() and (wide_upper[1] >= wide_upper[0]).all()  # still nested
    unchanged = non_narrowing(lower[:1], upper[:1] + np.array([0.0, 0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(unchanged[0], lower[:1])


def test_a_series_forecast_ignores_the_other_series() -> None:
    """Simulation is seeded by the seed and the symbol, not by the series' place in the panel."""
    alone = _panel(_random_walk(300, seed=6), symbol="a")
    other = _panel(_random_walk(280, seed=7), symbol="b")
    frames = {symbol: panel.frame(0) for panel, symbol in ((other, "b"), (alone, "a"))}
    both = Panel.from_frames(frames, "B", dict.fromkeys(frames, "weekdays"))
    pair = _fitted("hist-sim", both, horizon=4).predict()
    pd.testing.assert_frame_equal(pair[pair["symbol"] == "a"].reset_index(drop=True),
                                  _fitted("hist-sim", alone, horizon=4).predict(), check_exact=True)


# -- convergence failures, artifacts, bad input --------------------------------------------------------------
@pytest.fixture
def stingy_optimiser(monkeypatch: pytest.MonkeyPatch) -> None:
    """arch's optimiser allowed two iterations: a real non-convergence (scipy status 9)."""
    from arch.univariate.base import ARCHModel

    fit = ARCHModel.fit
    monkeypatch.setattr(ARCHModel, "fit", lambda self, **kwargs: fit(self, **kwargs, options={"maxiter": 2}))


def test_convergence_failure_is_reported_and_forecast_by_ewma(stingy_optimiser: None, tmp_path: Any,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    panel = _panel(_random_walk(400, seed=8), symbol="stubborn")
    with caplog.at_level(logging.WARNING):
        fitted = _fitted("garch", panel, horizon=5)
    entry = fitted.series["stubborn"]
    note = ("garch: the GJR-GARCH fit of series 'stubborn' on data through 2001-07-16 did not converge "
            "(convergence_flag 9: Iteration limit reached); this series is forecast by the EWMA fallback "
            "(RiskMetrics, λ = 0.94, normal)")
    assert entry["garch"]["convergence_flag"] == 9 and entry["fallback"] == "ewma" and entry["notes"] == [note]
    assert note in caplog.text
    pd.testing.assert_frame_equal(fitted.predict(), _fitted("ewma", panel, horizon=5).predict(), check_exact=True)
    manifest = json.loads((fitted.save(tmp_path / "model") / "manifest.json").read_text())
    assert manifest["series"][0]["notes"] == [note]


def test_loading_refits_nothing(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from arch.univariate.base import ARCHModel

    panel = _panel(_random_walk(300, seed=9))
    fitted = _fitted("garch", panel, horizon=3)
    folder = fitted.save(tmp_path / "garch")
    parameters = json.loads((folder / "manifest.json").read_text())["series"][0]["garch"]["parameters"]
    assert parameters == fitted.series["sim"]["garch"]["parameters"] and len(parameters) == 7

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a loaded model refitted")

    monkeypatch.setattr(ARCHModel, "fit", refuse)
    loaded = load_forecaster(folder, panel)
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict(), check_exact=True)
    assert loaded.variance().equals(fitted.variance())


@pytest.mark.parametrize("name", NAMES)
def test_non_positive_price_is_refused_by_name(name: str) -> None:
    prices = _panel(_random_walk(200, seed=10), symbol="bad")
    values = prices.values.copy()
    values[150, 0] = 0.0
    broken = Panel(values, prices.offsets, prices.dates, prices.symbols, prices.columns, "B", prices.calendars)
    message = (f"series 'bad': adj_close is 0 on 2000-07-31; {name} models log returns, which need every price > 0")
    with pytest.raises(DataError, match=message):
        VolatilityForecaster(RunConfig().for_model(name)).fit(broken)
    fitted = _fitted(name, prices)
    with pytest.raises(DataError, match=message):
        fitted.predict(broken)


@pytest.mark.parametrize("name", NAMES)
def test_too_short_a_history_names_the_minimum(name: str) -> None:
    short = _panel(_random_walk(99, seed=11), symbol="short")
    message = rf"series 'short': history too short: 100 prices; {name} needs at least 101 \(100 log returns\)"
    with pytest.raises(DataError, match=message):
        VolatilityForecaster(RunConfig().for_model(name)).fit(short)


def test_other_bad_input_is_named() -> None:
    flat = _panel(np.zeros(150), symbol="flat")
    with pytest.raises(DataError, match="series 'flat': its 151 prices never change; ewma needs price changes"):
        VolatilityForecaster(RunConfig().for_model("ewma")).fit(flat)
    returns = _random_walk(150, seed=12)
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    low = close * 0.99
    low[40] = -1.0
    ohlc = _panel(returns, open=close, high=close * 1.01, low=low, close=close)
    with pytest.raises(DataError, match="series 'sim': low is -1 on 2000-02-28; har models log returns"):
        VolatilityForecaster(RunConfig().for_model("har")).fit(ohlc)
    fitted = _fitted("ewma", _panel(returns))
    with pytest.raises(ValueError, match=r"levels \(\[0.0, 1.2\]\) must be one or more probabilities in \(0, 1\)"):
        fitted.quantiles([0, 1.2])


@pytest.mark.parametrize(("build", "message"), [
    (lambda: GarchConfig(paths=10), r"paths \(10\) must be >= 100"),
    (lambda: EWMAConfig(decay=1.0), r"decay \(1.0\) must be in \(0, 1\)"),
    (lambda: HistSimConfig(lookback=5), r"lookback \(5\) must be >= 20"),
])
def test_settings_are_checked(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()
