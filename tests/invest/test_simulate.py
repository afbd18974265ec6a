"""The simulator against hand-built markets (known correlation, known inflation) and a real champion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpcast.invest import CASH, Advisor, InputError, Market, Outlooks, plan, simulate
from hpcast.invest.inflation import PUBLICATION_LAG, project_inflation
from hpcast.invest.outlook import BASELINE, skill_words
from hpcast.invest.simulate import BLOCK, bootstrap, quantiles

DAYS = pd.bdate_range("2010-01-01", "2016-12-30")


def _walk(seed: int, vol: float = 0.01) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100 * np.exp(np.cumsum(rng.normal(0.0003, vol, len(DAYS)))), index=DAYS)


def _cpi(annual: float, last: str = "2016-12-01") -> pd.Series:
    months = pd.date_range("2008-01-01", last, freq="MS")
    return pd.Series(200 * (1 + annual) ** (np.arange(len(months)) / 12), index=months)


def _market(**prices: pd.Series) -> Market:
    rate = pd.Series(0.02, index=DAYS)
    return Market(dict(prices), rate=rate, rate_symbol="treasury_3m", cpi={"core_cpi": _cpi(0.03)},
                  cpi_freq={"core_cpi": "MS"})


def _run(market: Market, allocation: dict[str, float], months: int = 6, as_of: str = "2016-06-30",
         amount: float = 10000):
    return simulate(market, Outlooks(None), plan(market, amount, allocation, months, as_of))


def test_perfectly_correlated_assets_split_50_50_give_the_band_of_either_one() -> None:
    a = _walk(1)
    market = _market(a=a, b=3 * a, c=_walk(2))  # b moves exactly with a; c independently
    alone = _run(market, {"a": 100}).to_dict()["real"]
    split = _run(market, {"a": 50, "b": 50}).to_dict()["real"]
    # b's returns equal a's to the last bit of log(3a); the GARCH fit of each (filtered noise) converges to
    # the optimiser's tolerance, so the bands agree to about 1e-4 of their value, not to the last bit
    for key in ("p5", "median", "p95"):
        assert split[key] == pytest.approx(alone[key], rel=1e-3)
    # Independent assets diversify: the band of a 50/50 split with c is clearly narrower.
    mixed = _run(market, {"a": 50, "c": 50}).to_dict()["real"]
    assert mixed["p95"] - mixed["p5"] < 0.85 * (alone["p95"] - alone["p5"])


def test_real_value_is_nominal_deflated_by_projected_cpi() -> None:
    market = _market(a=_walk(1))
    answer = _run(market, {"a": 100}, months=6, as_of="2016-06-30").to_dict()
    days = (pd.Timestamp(answer["horizon"]["end"]) - pd.Timestamp("2016-06-30")).days
    deflator = 1.03 ** (days / 365.25)  # CPI grows 3% a year exactly
    assert answer["inflation"]["annual_rate"] == pytest.approx(0.03, rel=1e-12)
    assert answer["inflation"]["deflator"] == pytest.approx(deflator, rel=1e-12)
    for key in ("p5", "median", "p95", "mean"):
        assert answer["real"][key] == pytest.approx(answer["nominal"][key] / deflator, rel=1e-12)
    assert answer["fan"]["real"]["median"][0] == answer["fan"]["nominal"]["median"][0] == 10000


def test_inflation_uses_only_cpi_published_by_the_as_of_date() -> None:
    cpi = _cpi(0.03)
    cpi.loc["2016-06-01"] *= 1.5  # a June reading that is only published mid-July
    market = Market({}, cpi={"core_cpi": cpi}, cpi_freq={"core_cpi": "MS"})
    before = project_inflation(market, pd.Timestamp("2016-06-30"))
    assert before.through == pd.Timestamp("2016-05-01") and before.rate == pytest.approx(0.03, rel=1e-12)
    after = project_inflation(market, pd.Timestamp("2016-07-01") + PUBLICATION_LAG)
    assert after.through == pd.Timestamp("2016-06-01") and after.rate > 0.5


def test_cash_grows_at_the_known_rate_with_no_spread() -> None:
    market = _market(a=_walk(1))
    answer = _run(market, {CASH: 100}, months=3, as_of="2016-06-30").to_dict()
    days = (pd.Timestamp(answer["horizon"]["end"]) - pd.Timestamp("2016-06-30")).days
    assert answer["nominal"]["p5"] == answer["nominal"]["p95"] == pytest.approx(10000 * 1.02 ** (days / 365.25))
    assert answer["probability_real_loss"] == 1.0  # 2% interest, 3% inflation


def test_bootstrap_matches_stitching_blocks_by_hand() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0, 0.01, (100, 2))
    steps = np.array([3, 7, 20, 21, 45])
    fast = bootstrap(returns, steps, paths=6, block=BLOCK, rng=np.random.default_rng(9))
    starts = np.random.default_rng(9).integers(0, 100 - BLOCK + 1, size=(6, 3))  # the same draws
    centred = returns - returns.mean(axis=0)
    for p in range(6):
        path = np.concatenate([centred[s:s + BLOCK] for s in starts[p]])  # blocks laid end to end
        np.testing.assert_allclose(fast[:, p].T, np.cumsum(path, axis=0)[steps - 1], rtol=1e-12, atol=1e-15)


def test_quantiles_equal_numpys() -> None:
    values = np.random.default_rng(0).lognormal(size=(999, 4))
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    np.testing.assert_allclose(quantiles(values, qs), np.quantile(values, qs, axis=0), rtol=1e-14)


def test_every_broken_rule_is_reported_with_its_field() -> None:
    market = _market(a=_walk(1))
    with pytest.raises(InputError) as caught:
        plan(market, math.inf, {"a": 50, "zzz": 50}, 13, "2016-13-01")
    fields = [name for name, _ in caught.value.errors]
    assert fields == ["amount", "allocation", "horizon_months", "as_of"]
    with pytest.raises(InputError, match="as_of must be between 2011-01-01 and 2016-12-30"):
        plan(market, 1, {"a": 100}, 6, "2017-01-02")
    chosen = plan(market, 1, {"a": 60, CASH: 40})
    assert chosen.as_of == DAYS[-1] and not chosen.as_of_given  # default: the latest common date


def test_skill_is_said_in_plain_words() -> None:
    assert skill_words("gold", 2, {"backtest_mase": "1.2", "naive_mase": "1.0"}) == (
        "the gold model did not beat a random walk in backtests (MASE 1.200 against 1.000 for a random walk); "
        "read its forecast as a reference only", False)
    assert skill_words("sp500", 1, {"backtest_mase": "0.9", "naive_mase": "1.0"})[1] is True
    assert "no recorded backtest" in skill_words("sp500", 1, {})[0]


def test_live_skill_and_the_latest_comparison_are_said_too() -> None:
    live = {"live_mase": "0.8", "live_naive_mase": "1.0", "live_points": "20", "live_through": "2017-03-31"}
    assert skill_words("gold", 1, live) == (
        "the gold model beat a random walk on the 20 points after its training data (through 2017-03-31) "
        "(MASE 0.800 against 1.000 for a random walk)", True)
    lost = {"backtest_mase": "0.9", "naive_mase": "1.0", "beats_naive": "false", "compared_mase": "1.1",
            "compared_naive_mase": "1.0"}
    assert skill_words("gold", 3, lost) == (
        "the gold model beat a random walk in backtests (MASE 0.900 against 1.000 for a random walk); it did not "
        "beat a random walk in the latest retrain's comparison (MASE 1.100 against 1.000 for a random walk); "
        "read its forecast as a reference only", False)
    words, beats = skill_words("gold", 3, {"beats_naive": "false"})
    assert beats is False and "did not beat a random walk in the latest retrain's comparison" in words


def test_an_unreachable_registry_is_said_not_taken_for_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from hpcast.registry import Registry

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outlook = Outlooks(Registry(f"http://127.0.0.1:{port}")).get("gold", _walk(1), DAYS[-1])
    assert outlook.source == BASELINE and "the registry could not be read (RegistryError)" in outlook.skill


@pytest.fixture(scope="module")
def advisor(investor_home: Path) -> Advisor:
    from hpcast.registry import Registry
    from hpcast.store import FeatureStore

    market = Market.from_store(FeatureStore(str(investor_home / "store")))
    registry = Registry(f"sqlite:///{investor_home / 'data' / 'mlflow.db'}")
    return Advisor(market, Outlooks(registry), calibration=investor_home / "calibration")


def test_the_champion_shifts_the_expected_path_by_its_forecast(advisor: Advisor) -> None:
    as_of = pd.Timestamp("2017-06-30")
    with_model = advisor.simulate(10000, {"sp500": 100}, 3, "2017-06-30")
    baseline = simulate(advisor.market, Outlooks(None), with_model.plan)
    outlook = with_model.outlooks["sp500"]
    assert outlook.source == "champion v1" and baseline.outlooks["sp500"].source == BASELINE
    prices = advisor.market.prices["sp500"]
    mean = np.log(prices[as_of - pd.DateOffset(years=5):as_of]).diff().mean()  # drift beyond the model's reach
    grid = pd.bdate_range(as_of + pd.Timedelta(days=1), with_model.horizon_end)
    reach = int((grid <= outlook.forecast.index[-1]).sum())  # business days the model's forecast covers
    shift = math.log(outlook.forecast.iloc[-1] / prices[:as_of].iloc[-1]) - mean * reach
    ratio = (1 + with_model.asset_returns["sp500"]) / (1 + baseline.asset_returns["sp500"])
    np.testing.assert_allclose(np.log(ratio), shift, rtol=1e-9)
    assert "random walk in backtests (MASE" in outlook.skill


def test_a_champion_is_not_used_before_its_training_data_ends(advisor: Advisor) -> None:
    early = advisor.simulate(10000, {"sp500": 50, "gold": 50}, 6, "2016-06-30")
    assert early.outlooks["sp500"].source == BASELINE
    assert "trained on data through 2016-12-30, after the as-of date" in early.outlooks["sp500"].skill
    assert "no registered model for gold" in early.outlooks["gold"].skill


def test_weekend_trading_folds_into_mondays_move() -> None:
    """An asset that trades every day is simulated on the business-day grid: its weekend moves count."""
    days = pd.date_range("2010-01-01", "2016-12-30", freq="D")
    rng = np.random.default_rng(4)
    daily = pd.Series(100 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, len(days)))), index=days)
    weekdays_only = daily[daily.index.day_of_week < 5]
    every_day = _run(_market(btc=daily), {"btc": 100}).to_dict()
    business_days = _run(_market(btc=weekdays_only), {"btc": 100}).to_dict()
    assert every_day["real"] == business_days["real"]


def test_an_empty_store_is_filled_from_bundled_data_when_the_app_opens(tmp_path: Path) -> None:
    opened = Advisor.open(str(tmp_path / "store"), registry=False, backfill_if_empty=True)
    assert opened.market.names() == ["sp500", "nasdaq", "gold", "bitcoin", CASH]
    assert opened.market.rate_symbol == "treasury_3m" and set(opened.market.cpi) == {"cpi", "core_cpi"}
    answer = opened.simulate(10000, {"sp500": 60, "gold": 40}).to_dict()
    assert answer["as_of"] == "2018-12-31" and answer["inflation"]["series"] == "core_cpi"


@pytest.fixture(scope="module")
def tech(tmp_path_factory: pytest.TempPathFactory):
    """A registry whose only model is one global LSTM over aapl and msft (their first 300 business days),
    registered once as ``global-tech`` with its walk-forward backtest; and that model's own forecast."""
    from hpcast.config import RunConfig, TrainConfig
    from hpcast.data import load_bundled
    from hpcast.data.panel import Panel
    from hpcast.forecast.lstm import LSTMConfig
    from hpcast.jobs import train_job
    from hpcast.pipelines.retrain import backtest_tags
    from hpcast.registry import Registry

    home = tmp_path_factory.mktemp("tech")
    prices = {s: load_bundled(s).series() for s in ("aapl", "msft")}
    panel = Panel.from_frames({s: p[:300].to_frame("adj_close") for s, p in prices.items()}, "B",
                              dict.fromkeys(prices, "NYSE"))
    config = RunConfig(window=8, horizon=3, model=LSTMConfig(layers=(6,), dropout=(0.0,)),
                       train=TrainConfig(epochs=2, seed=5))
    model = train_job(panel, config, home / "run", quiet=True)
    registry = Registry(f"sqlite:///{home / 'data' / 'mlflow.db'}")
    tags = backtest_tags(panel, None, config)
    registry.register(registry.log_training(home / "run", "global-tech"), "global-tech", tags=tags)
    return registry, prices, model.predict(panel.select(["msft"])), tags


def test_an_asset_covered_only_by_a_global_champion_is_forecast_by_it(tech) -> None:
    registry, prices, before, tags = tech
    as_of = prices["msft"].index[299]  # the last day the model was trained on
    outlook = Outlooks(registry).get("msft", prices["msft"][:as_of], as_of)
    assert outlook.source == "global champion v1 (hpcast-global-tech)" and outlook.version == 1
    assert outlook.model == "hpcast-global-tech" and outlook.covers == ("aapl", "msft")
    expected = before  # the model's own forecast of msft's series
    np.testing.assert_array_equal(outlook.forecast.to_numpy(), expected["forecast"].to_numpy())
    assert list(outlook.forecast.index) == list(expected["date"])
    verb = "beat" if float(tags["backtest_mase"]) < float(tags["naive_mase"]) else "did not beat"
    assert outlook.skill.startswith("the global model global-tech (v1, one network over aapl, msft; its figures are "
                                    f"pooled over them) {verb} a random walk in backtests (MASE ")
    assert outlook.to_dict()["covers"] == ["aapl", "msft"]

    days = prices["msft"][:"2001-12-31"].index
    months = pd.date_range("1998-01-01", "2001-12-01", freq="MS")
    cpi = pd.Series(200 * 1.03 ** (np.arange(len(months)) / 12), index=months)
    market = Market({"msft": prices["msft"][days]}, rate=pd.Series(0.02, index=days), rate_symbol="treasury_3m",
                    cpi={"core_cpi": cpi}, cpi_freq={"core_cpi": "MS"})
    request = plan(market, 10000, {"msft": 100}, 3, as_of.date().isoformat())
    with_model = simulate(market, Outlooks(registry), request)
    assert with_model.outlooks["msft"].source == "global champion v1 (hpcast-global-tech)"
    assert with_model.to_dict()["assets"][0]["model"] == "hpcast-global-tech"
    baseline = simulate(market, Outlooks(None), request)
    assert not np.allclose(with_model.asset_returns["msft"], baseline.asset_returns["msft"])  # the model moved it
    early = Outlooks(registry).get("aapl", prices["aapl"][:"2001-01-31"], pd.Timestamp("2001-01-31"))
    assert early.source == BASELINE
    assert "the global global-tech champion (v1) was trained on data through 2001-05-08" in early.skill
