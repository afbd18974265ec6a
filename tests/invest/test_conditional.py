"""Filtered historical simulation against known processes: a volatility that doubles at a known date, arch's own
one-step forecast, the recursion replayed by hand, and the regime in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpcast.invest import Market, Outlooks, calibrate, plan, simulate
from hpcast.invest.conditional import (
    VolatilityView,
    candidates,
    choose,
    filtered_paths,
    regime,
    rolling_volatility,
    standardised,
)

DAYS = pd.bdate_range("2005-06-01", "2011-02-28")
CHANGE = pd.Timestamp("2009-01-02")


def _doubling_market() -> Market:
    """One asset whose daily log returns are N(0, 0.6%) before `CHANGE` and N(0, 1.2%) from it, and a CPI
    that grows 2% a year (real = nominal / a known deflator)."""
    rng = np.random.default_rng(27)
    sigma = np.where(DAYS < CHANGE, 0.006, 0.012)
    prices = pd.Series(100 * np.exp(np.cumsum(rng.normal(0.0, sigma))), index=DAYS)
    months = pd.date_range("2004-06-01", "2011-12-01", freq="MS")
    cpi = pd.Series(200 * 1.02 ** (np.arange(len(months)) / 12), index=months)
    return Market({"asset": prices}, cpi={"core_cpi": cpi}, cpi_freq={"core_cpi": "MS"})


@pytest.fixture(scope="module")
def doubling() -> dict[str, pd.DataFrame]:
    market = _doubling_market()
    out = {}
    for noise in ("filtered", "bootstrap"):
        result = calibrate(market, Outlooks(None), {"asset": 100}, months=1, every=5, paths=600, noise=noise)
        out[noise] = pd.DataFrame({"date": pd.to_datetime(result.dates), "pit": result.pit})
    return out


def _inside_90(frame: pd.DataFrame, first: str, last: str) -> tuple[float, int]:
    chosen = frame[(frame["date"] >= first) & (frame["date"] <= last)]
    return float(np.mean(np.abs(chosen["pit"] - 0.5) <= 0.45)), len(chosen)


def test_the_filtered_simulators_90_band_holds_on_both_sides_of_a_volatility_doubling(doubling):
    """Two years of as-of dates before the change (calm, its whole lookback calm) and the two years from a month
    after it (the bootstrap's five-year lookback is still mostly calm there): the filtered band covers about
    90% on both sides; the bootstrap's is too narrow after the change."""
    before, after = ("2006-06-01", "2008-11-28"), ("2009-02-02", "2011-01-28")
    filtered_before, n_before = _inside_90(doubling["filtered"], *before)
    filtered_after, n_after = _inside_90(doubling["filtered"], *after)
    bootstrap_after, _ = _inside_90(doubling["bootstrap"], *after)
    assert n_before > 100 and n_after > 90
    # ~130 and ~100 overlapping one-month outcomes: a binomial standard error of about 3 points, more with overlap
    assert 0.80 <= filtered_before <= 0.97, filtered_before  # measured: 87.0% of 131
    assert 0.80 <= filtered_after <= 0.97, filtered_after  # 89.4% of 104
    assert bootstrap_after < 0.78, bootstrap_after  # 73.1% of 104
    assert bootstrap_after < filtered_after - 0.10


def test_garch_is_fitted_before_the_scored_days_and_filtered_through_them_as_arch_does():
    """The GARCH candidate: arch's fit on the lookback less its last two years, and with those parameters fixed,
    arch's own filter of all the returns gives the same σ (after its different start has died out) and the
    same one-step forecast for tomorrow."""
    from arch import arch_model

    from hpcast.invest.conditional import HELD_OUT

    rng = np.random.default_rng(3)
    returns = rng.standard_t(6, 1500) * 0.01 * np.repeat([1.0, 2.0, 1.0], 500)
    fitted = candidates(returns)
    garch = fitted.views[0]
    assert garch.model == "gjr-garch" and fitted.first_scored == 1500 - HELD_OUT
    early = arch_model(100 * returns[:fitted.first_scored], mean="Constant", vol="GARCH", p=1, o=1, q=1,
                       rescale=False).fit(disp="off")
    params = early.params
    assert (garch.omega * 1e4, garch.alpha, garch.gamma, garch.beta) == pytest.approx(
        tuple(params[["omega", "alpha[1]", "gamma[1]", "beta[1]"]]), rel=1e-9)
    fixed = arch_model(100 * returns, mean="Constant", vol="GARCH", p=1, o=1, q=1, rescale=False).fix(params)
    np.testing.assert_allclose(garch.sigma[-500:], fixed.conditional_volatility[-500:] / 100, rtol=1e-6)
    tomorrow = np.sqrt(fixed.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]) / 100
    assert garch.next_sigma == pytest.approx(tomorrow, rel=1e-6)
    view = choose(fitted, 1)
    assert dict(view.scores).keys() == {"gjr-garch", "ewma"}
    assert view.model == min(view.scores, key=lambda item: item[1])[0]
    assert view.why.startswith("its forecasts of the variance over the next 1 trading days scored the lower QLIKE")


def test_the_horizon_variance_sums_the_models_expected_daily_variances_by_hand():
    """GJR: E σ²_{t+k+1} = ω + p·E σ²_{t+k}, p = α + γ/2 + β, summed step by step; EWMA: flat."""
    view = VolatilityView("gjr-garch", np.ones(1), 0.02, 0.0, omega=2e-6, alpha=0.04, gamma=0.1, beta=0.85)
    variance, total = 4e-4, 0.0
    for _ in range(10):
        total += variance
        variance = 2e-6 + (0.04 + 0.05 + 0.85) * variance
    assert view.horizon_variance(4e-4, 10) == pytest.approx(total, rel=1e-12)
    ewma = VolatilityView("ewma", np.ones(1), 0.02, 0.0)
    assert ewma.horizon_variance(4e-4, 10) == pytest.approx(4e-3, rel=1e-12)


def test_the_model_is_chosen_by_its_forecasts_over_the_simulated_horizon():
    """Volatility that moves in long regimes (a year calm, a year stormy): each model is scored on the lookback's
    last two years (GARCH fitted on the three before); the choice and its words come from `horizon_qlike`."""
    from hpcast.invest.conditional import horizon_qlike

    rng = np.random.default_rng(11)
    returns = rng.normal(0, 1, 1260) * np.repeat([0.005, 0.02, 0.005, 0.02, 0.005], 252)
    fitted = candidates(returns)
    assert [view.model for view in fitted.views] == ["gjr-garch", "ewma"] and fitted.first_scored == 1260 - 504
    for horizon in (1, 126):
        chosen = choose(fitted, horizon)
        scores = {view.model: horizon_qlike(view, returns, horizon, 756) for view in fitted.views}
        assert dict(chosen.scores) == pytest.approx(scores)
        assert chosen.model == min(scores, key=scores.get)
        assert f"over the next {horizon} trading days" in chosen.why


def test_the_path_recursion_replays_by_hand():
    """Block 1, two assets, a GJR and an EWMA view: each simulated day is σ·z with the shocks' row the generator
    drew, and σ² follows the model's recursion on the simulated return."""
    shocks = np.array([[1.0, -0.5], [-2.0, 1.5], [0.5, 0.0]])
    gjr = VolatilityView("gjr-garch", np.ones(3), 0.02, 0.0, omega=1e-5, alpha=0.05, gamma=0.1, beta=0.8)
    ewma = VolatilityView("ewma", np.ones(3), 0.01, 0.0)
    steps = np.array([1, 3])
    out = filtered_paths([gjr, ewma], shocks, steps, paths=2, block=1, rng=np.random.default_rng(5))
    rows = np.random.default_rng(5).integers(0, 3, size=(2, 3))
    for a, view in enumerate((gjr, ewma)):
        for p in range(2):
            variance, total, kept = view.next_sigma**2, 0.0, []
            for t in range(3):
                r = np.sqrt(variance) * shocks[rows[p, t], a]
                total += r
                kept.append(total)
                variance = view.omega + (view.alpha + view.gamma * (r < 0)) * r**2 + view.beta * variance
            np.testing.assert_allclose(out[a, p], [kept[0], kept[2]], rtol=1e-12)


def test_shocks_are_centred_returns_over_each_days_sigma():
    views = [VolatilityView("ewma", np.ones(2), 0.01, 0.001), VolatilityView("ewma", np.ones(2), 0.01, 0.0)]
    returns, sigma = np.array([[0.021, 0.01], [-0.019, -0.01]]), np.array([[0.01, 0.02], [0.02, 0.01]])
    z = np.array([[2.0, 0.5], [-1.0, -1.0]])
    np.testing.assert_allclose(standardised(views, returns, sigma), z - z.mean(axis=0), rtol=1e-12)


def test_the_regime_names_todays_third_in_words():
    calm = np.random.default_rng(1).normal(0, 0.005, 2520)
    stormy = np.concatenate([calm, np.random.default_rng(2).normal(0, 0.03, 21)])
    said = regime(stormy, "2008-01-02")
    assert said["third"] == "top" and said["percentile"] == 1.0
    assert said["annual_volatility"] == pytest.approx(rolling_volatility(stormy)[-1])
    assert said["sentence"].startswith("Volatility is in the top third of the last 10 years")
    assert said["sentence"].endswith("so the range is wider than usual.")
    assert regime(np.concatenate([stormy, np.full(21, 1e-4)]), "2008-01-02")["third"] == "bottom"


def test_an_answer_says_which_model_set_each_width_and_the_regime():
    market = _doubling_market()
    answer = simulate(market, Outlooks(None), plan(market, 1000, {"asset": 100}, 3, "2010-06-30")).to_dict()
    volatility = answer["assets"][0]["volatility"]
    assert volatility["model"] in ("gjr-garch", "ewma") and 0.1 < volatility["annual_volatility"] < 0.3
    assert answer["regime"]["third"] == "top" and answer["method"]["noise"] == "filtered"
    old = simulate(market, Outlooks(None), plan(market, 1000, {"asset": 100}, 3, "2010-06-30"), noise="bootstrap")
    assert old.to_dict()["assets"][0]["volatility"] is None
    with pytest.raises(ValueError, match=r"noise \('garch'\) must be one of filtered, bootstrap"):
        simulate(market, Outlooks(None), plan(market, 1000, {"asset": 100}, 3, "2010-06-30"), noise="garch")


def test_the_cli_offers_the_simulators_noises():
    from hpcast.cli.invest import _NOISE
    from hpcast.invest.simulate import NOISE

    assert _NOISE == NOISE


class _Fixed:
    """Outlooks that answer one given `Outlook` for one asset and the drift baseline for the others."""

    def __init__(self, outlook) -> None:
        self.outlook = outlook

    def get(self, asset, history, as_of):
        return self.outlook if asset == self.outlook.asset else Outlooks(None).get(asset, history, as_of)


def test_a_champions_sample_paths_set_its_values_and_the_joint_noise_their_order():
    """Two copies of one price series (perfectly dependent); a champion for the first with sample paths of
    known distribution over the whole one-month horizon: its simulated horizon returns are exactly the
    samples' quantiles, and they rank the paths as the second asset's (noise-driven) returns do."""
    from hpcast.invest.outlook import Outlook

    market = _doubling_market()
    market.prices["copy"] = market.prices["asset"].copy()
    as_of = pd.Timestamp("2010-06-30")
    dates = pd.bdate_range(as_of + pd.Timedelta(days=1), periods=30)
    rng = np.random.default_rng(0)
    samples = np.cumsum(rng.normal(0.002, 0.01, (500, 30)), axis=1)  # (n, h) log returns from the spot
    spot = float(market.prices["asset"][:as_of].iloc[-1])
    champion = Outlook("asset", "champion v1", "a test champion", True, 1,
                       pd.Series(spot * np.exp(samples.mean(axis=0)), index=dates), samples=samples)
    sim = simulate(market, _Fixed(champion), plan(market, 1000, {"asset": 50, "copy": 50}, 1, "2010-06-30"),
                   paths=2000)
    horizon = sim.dates[-1]
    j = int(np.searchsorted(dates, horizon, side="right")) - 1
    expected = np.quantile(samples[:, j], (np.arange(2000) + 0.5) / 2000)
    got = np.log1p(sim.asset_returns["asset"])
    np.testing.assert_allclose(np.sort(got), expected, rtol=1e-9, atol=1e-12)
    order = np.argsort(sim.asset_returns["copy"], kind="stable")  # paths by the noise-driven copy's return
    assert (np.diff(got[order]) > 0).all()  # the champion's values follow the same order (ties kept stable)
    assert sim.to_dict()["assets"][0]["sample_paths"] is True


def test_a_registered_student_t_champion_gives_its_sample_paths_to_the_simulator(tmp_path):
    """The real path: a Student-t LSTM trained and registered in MLflow on SQLite, resolved by `Outlooks`, whose
    sample paths (from the artifact, in log returns from the spot) set the asset's values over its horizon."""
    import dataclasses

    from hpcast.config import RunConfig, TrainConfig
    from hpcast.data import load_bundled
    from hpcast.forecast.lstm import LSTMConfig
    from hpcast.jobs import train_job
    from hpcast.registry import Registry

    data = load_bundled("sp500")
    data = dataclasses.replace(data, frame=data.frame[data.frame["date"] <= "2016-12-30"].reset_index(drop=True))
    config = RunConfig(window=20, horizon=30, model=LSTMConfig(layers=(8,), dropout=(0.0,), distribution="student-t"),
                       train=TrainConfig(epochs=2, batch_size=256, seed=1))
    train_job(data, config, tmp_path / "run", quiet=True)
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    registry.register(registry.log_training(tmp_path / "run", "sp500"), "sp500")
    prices = load_bundled("sp500").series()
    market = Market({"sp500": prices, "gold": load_bundled("gold").series()},
                    cpi={"core_cpi": load_bundled("core_cpi").series()}, cpi_freq={"core_cpi": "MS"})
    outlooks = Outlooks(registry, samples=800)
    outlook = outlooks.get("sp500", prices[:"2017-06-30"], pd.Timestamp("2017-06-30"))
    assert outlook.source == "champion v1" and outlook.samples is not None and outlook.samples.shape == (800, 30)
    model = registry.load("sp500", version=1)
    assert model.gives_samples
    sim = simulate(market, outlooks, plan(market, 1000, {"sp500": 70, "gold": 30}, 1, "2017-06-30"), paths=800)
    j = int(np.searchsorted(outlook.forecast.index, sim.dates[-1], side="right")) - 1
    expected = np.quantile(outlook.samples[:, j], (np.arange(800) + 0.5) / 800)
    np.testing.assert_allclose(np.sort(np.log1p(sim.asset_returns["sp500"])), expected, rtol=1e-9)
    assert sim.to_dict()["assets"][0]["sample_paths"] is True


def test_a_price_that_sat_still_gives_finite_shocks_and_a_finite_answer():
    """Three still months, then moves of ±1% that average exactly zero: EWMA's σ is 0 on the still days, where
    (r − μ)/σ would be 0/0 and the first move infinite; the floor keeps every shock finite and the answer too."""
    days = pd.bdate_range("2010-01-01", "2013-12-29")
    returns = np.where(np.arange(len(days)) < 60, 0.0, np.resize([0.01, -0.01], len(days)))
    ewma = candidates(returns[:400]).views[-1]
    assert ewma.mean == 0.0 and ewma.sigma[30] == pytest.approx(0.1 * returns[:400].std())  # floored, not 0
    shocks = standardised([ewma], returns[:400, None], ewma.sigma[:, None])
    assert np.isfinite(shocks).all() and np.abs(shocks).max() < 15
    market = Market({"still": pd.Series(100 * np.exp(np.cumsum(returns)), index=days)},
                    cpi={"core_cpi": pd.Series(200.0, index=pd.date_range("2009-01-01", "2014-01-01", freq="MS"))},
                    cpi_freq={"core_cpi": "MS"})
    answer = simulate(market, Outlooks(None), plan(market, 1000, {"still": 100}, 3, "2011-06-30")).to_dict()
    assert answer["real"]["p5"] < answer["real"]["median"] < answer["real"]["p95"]
