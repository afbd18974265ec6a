"""Backtests checked against oracles whose forecasts and errors are computable by hand, on one series and on
panels whose series cover different dates."""

import dataclasses
import importlib

import numpy as np
import pandas as pd
import pytest

from hpcast.config import BacktestConfig, ConfigError, RunConfig
from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.evaluate import backtest, fold_origins
from hpcast.evaluate.walkforward import DEFAULT_MODELS, default_models


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
    assert default_models("B", "gru") == ("gru", "naive", "drift", "arima")
    assert default_models("MS") == DEFAULT_MODELS


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
    assert set(result.coverage) == {"lstm"}  # naive gives no bands
    assert set(result.coverage["lstm"]) == {"0.8", "0.95"}
    assert 0 <= result.coverage["lstm"]["0.8"] <= result.coverage["lstm"]["0.95"] <= 1
    assert result.to_dict()["interval_coverage"] == result.coverage


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
        assert level - error <= result.coverage["lstm"][f"{level:g}"] <= level + error, result.coverage


# -- panels ---------------------------------------------------------------------------------------------------
@pytest.fixture
def staggered():
    """aaa = 1, 2, ..., 40 on every date of the axis; bbb = 1², 2², ..., 27² on dates 10..36 of it (it starts
    later and ends three dates before aaa)."""
    axis = pd.bdate_range("2020-01-01", periods=40)
    aaa = pd.DataFrame({"value": np.arange(1.0, 41.0)}, index=axis)
    bbb = pd.DataFrame({"value": np.arange(1.0, 28.0) ** 2}, index=axis[10:37])
    return Panel.from_frames({"aaa": aaa, "bbb": bbb}, "B")


def test_a_panel_backtests_on_origins_by_date_against_hand_computed_oracles(staggered):
    """Origins are dates of the panel's axis; a series without h points after an origin is not scored in that
    fold. naive and drift on bbb (history 1², ..., 24² at the first origin) are computable by hand."""
    config = RunConfig(horizon=3, backtest=BacktestConfig(test_size=6))
    result = backtest(staggered, config=config, models=("naive", "drift"))
    axis = staggered.index("aaa")
    assert result.origins == [axis[33].date().isoformat(), axis[36].date().isoformat()]
    predictions = result.predictions
    scored = predictions.groupby("fold")["symbol"].unique().map(sorted).to_dict()
    assert scored == {0: ["aaa", "bbb"], 1: ["aaa"]}  # bbb ends on the second origin: nothing left to score
    bbb = predictions[predictions["symbol"] == "bbb"]
    assert list(bbb["date"].unique()) == list(axis[34:37])
    naive = bbb[bbb["model"] == "naive"]
    np.testing.assert_array_equal(naive["actual"], [625.0, 676.0, 729.0])
    np.testing.assert_array_equal(naive["forecast"], [576.0, 576.0, 576.0])
    scale = np.mean(np.diff(np.arange(1.0, 25.0) ** 2))  # in-sample one-step naive error of bbb's history: 25
    assert scale == 25.0 and (bbb["scale"] == scale).all()
    per_series = result.per_series
    assert per_series.loc[("naive", "bbb"), "mase"] == pytest.approx((49 + 100 + 153) / 3 / 25)
    assert per_series.loc[("drift", "bbb"), "mase"] == pytest.approx((24 + 50 + 78) / 3 / 25)  # slope 575/23 = 25
    assert per_series.loc[("naive", "aaa"), "mase"] == pytest.approx(2.0)
    assert per_series.loc[("drift", "aaa"), "mae"] == pytest.approx(0.0, abs=1e-12)
    assert per_series.loc[("naive", "aaa"), "points"] == 6 and per_series.loc[("naive", "bbb"), "points"] == 3
    assert result.metrics.loc["naive", "points"] == 9
    assert result.metrics.loc["naive", "mae"] == pytest.approx((6 * 2.0 + 302) / 9)  # pooled over every point
    assert {"dm_stat", "dm_pvalue"} <= set(per_series.columns)
    assert per_series.loc[("drift", "aaa"), "dm_stat"] == pytest.approx(-2.0)  # drift is exact, naive is not
    plain = result.to_dict()["per_series"]
    assert set(plain) == {"naive", "drift"} and set(plain["drift"]) == {"aaa", "bbb"}
    assert plain["naive"]["bbb"]["mase"] == pytest.approx(302 / 75)


def _walks(price_series):
    """Two positive random walks: aaa on all 200 dates, bbb from date 30 to three dates before the end."""
    rng = np.random.default_rng(8)
    other = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 167)))
    frames = {"aaa": price_series.to_frame("close"),
              "bbb": pd.DataFrame({"close": other}, index=price_series.index[30:197])}
    return Panel.from_frames(frames, "B")


def test_every_model_with_bands_reports_coverage_and_per_series_tests(price_series, tiny_config):
    config = dataclasses.replace(tiny_config, backtest=BacktestConfig(test_size=6))
    result = backtest(_walks(price_series), config=config, models=("lstm", "gru", "naive"))
    assert set(result.coverage) == {"lstm", "gru"}
    for levels in result.coverage.values():
        assert set(levels) == {"0.8", "0.95"} and 0 <= levels["0.8"] <= levels["0.95"] <= 1
    assert set(result.per_series.index) == {(m, s) for m in ("lstm", "gru", "naive") for s in ("aaa", "bbb")}
    tested = result.per_series.drop(index="naive", level="model")
    assert {"mase", "points", "dm_stat", "dm_pvalue"} <= set(tested.columns)
    assert tested.xs("aaa", level="symbol")["dm_stat"].notna().all()
    assert tested.xs("bbb", level="symbol")["dm_stat"].isna().all()  # one fold: 3 points, too few for h = 3
    assert dict(result.metrics["points"]) == {"lstm": 9, "gru": 9, "naive": 9}  # aaa 2 folds, bbb 1, 3 steps
    gru, lstm = (result.predictions[result.predictions["model"] == m] for m in ("gru", "lstm"))
    assert not np.allclose(gru["forecast"], lstm["forecast"])  # two networks, not one under two names


def test_per_series_scope_fits_each_series_its_own_model(price_series, tiny_config):
    """scope="per-series": aaa's forecasts are those of a backtest of aaa alone, and differ from the global
    model's, which also learned from bbb."""
    panel = _walks(price_series)
    folds = BacktestConfig(test_size=6)
    config = dataclasses.replace(tiny_config, backtest=folds)
    local = dataclasses.replace(tiny_config, backtest=dataclasses.replace(folds, scope="per-series"))
    per_series = backtest(panel, config=local, models=("lstm",)).predictions
    alone = backtest(panel.select(["aaa"]), config=config, models=("lstm",)).predictions
    joint = backtest(panel, config=config, models=("lstm",)).predictions
    mine = per_series[per_series["symbol"] == "aaa"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, alone.reset_index(drop=True))
    assert set(per_series["symbol"]) == set(joint["symbol"]) == {"aaa", "bbb"}
    together = joint[joint["symbol"] == "aaa"]
    assert not np.allclose(mine["forecast"], together["forecast"])


def test_refit_every_k_fits_on_every_kth_origin_and_forecasts_from_each_origin(monkeypatch):
    """The plan: models fitted on the histories ending at origins 0, K, 2K, ...; every origin forecast from its
    own history. Baselines are pure functions of the history they continue, so with or without refits in
    between their forecasts are the same, an oracle for the loop."""
    module = importlib.import_module("hpcast.evaluate.walkforward")  # the package's `backtest` is the function

    series = load_bundled("sp500").series().iloc[-300:]
    config = RunConfig(horizon=1, backtest=BacktestConfig(test_size=20, step=1))
    every = backtest(series, "B", config, models=("naive", "drift"))
    fitted_until = []
    real_fit_many = module.fit_many

    def spy(models, panels, **kwargs):
        fitted_until.extend(panel.index(0)[-1] for panel in panels)
        return real_fit_many(models, panels, **kwargs)

    monkeypatch.setattr(module, "fit_many", spy)
    sparse = backtest(series, "B", dataclasses.replace(config, backtest=dataclasses.replace(config.backtest,
                                                                                            refit_every=7)),
                      models=("naive", "drift"))
    origins = [pd.Timestamp(o) for o in sparse.origins]
    assert fitted_until == origins[::7] * 2  # naive's three refits, then drift's
    assert sparse.refit_every == 7 and sparse.to_dict()["refit_every"] == 7
    pd.testing.assert_frame_equal(sparse.predictions, every.predictions)


def test_refit_every_past_the_test_span_is_refused():
    config = RunConfig(horizon=1, backtest=BacktestConfig(test_size=10, step=1, refit_every=11))
    with pytest.raises(ValueError, match=r"refit_every \(11\) must be <= the 10 fold origins"):
        backtest(load_bundled("sp500").series().iloc[-200:], "B", config, models=("naive",))


def test_var_backtests_the_lower_edge_of_the_added_band_for_the_models_with_bands():
    """--var 0.99 adds the 98% band (its lower edge is the 1% quantile); each model with bands gets the risk
    module's tests of its one-step log returns against that edge; a model without bands gets none."""
    from hpcast.evaluate.risk import var_backtest

    series = load_bundled("sp500").series().iloc[-400:].rename("sp500")
    config = RunConfig(horizon=1, backtest=BacktestConfig(test_size=60, step=1, refit_every=30, var=(0.99,)))
    result = backtest(Panel.from_series(series, "B", "NYSE", symbol="sp500"), config=config, models=("ewma", "naive"))
    assert "lower_98" in result.predictions and set(result.var) == {"ewma"}
    rows = result.predictions[result.predictions["model"] == "ewma"].sort_values("date")
    var_line = np.log(rows["lower_98"] / rows["last"]).to_numpy()
    es = rows["es_990"].to_numpy()  # ewma's own normal tail: the mean of its quantiles below the 1% one
    assert (es < var_line).all() and rows["variance"].notna().all()
    expected = var_backtest(np.log(rows["actual"] / rows["last"]), var_line, 0.99, es=es)
    assert result.var["ewma"]["sp500"]["0.99"] == expected.to_dict()
    assert "qlike" in result.metrics.columns and np.isfinite(result.metrics.loc["ewma", "qlike"])
    assert result.to_dict()["var"]["ewma"]["sp500"]["0.99"]["n"] == 60


@pytest.mark.parametrize("level", [0.4, 0.999, 1.0])
def test_a_var_level_must_be_a_lower_tail_of_a_whole_percent_band(level):
    with pytest.raises(ConfigError, match=rf"var \({level}\) must be in \(0.5, 1\), a lower tail"):
        BacktestConfig(var=(level,))


def test_adaptive_bands_use_only_the_hits_before_each_origin_and_recover_coverage():
    """A model whose band is right for a calm regime and then half as wide as the errors: its +aci twin's
    coverage after the change recovers towards the level; its first bands equal the model's own; and a band
    at origin t does not move when the outcomes after t change."""
    from hpcast.evaluate.bands import adaptive_bands

    rng = np.random.default_rng(0)
    n = 600
    error = rng.normal(0, 0.01, n) * np.where(np.arange(n) < 300, 1.0, 2.0)  # volatility doubles at 300
    half = 1.2816 * 0.01  # the calm regime's 80% half-width in log units
    frame = pd.DataFrame({"model": "m", "symbol": "a", "date": pd.bdate_range("2020-01-01", periods=n),
                          "forecast": 100.0, "actual": 100 * np.exp(error), "lower_80": 100 * np.exp(-half),
                          "upper_80": 100 * np.exp(half)})
    adapted = adaptive_bands(frame, (0.8,), gamma=0.02)
    inside = (adapted["actual"] >= adapted["lower_80"]) & (adapted["actual"] <= adapted["upper_80"])
    fixed = (frame["actual"] >= frame["lower_80"]) & (frame["actual"] <= frame["upper_80"])
    assert set(adapted["model"]) == {"m+aci"}
    assert fixed[400:].mean() < 0.55 and abs(inside[400:].mean() - 0.8) < 0.06, inside[400:].mean()
    assert (adapted["lower_80"][:20] == frame["lower_80"][:20]).all()  # before the first 20 origins: its own band
    later = frame.assign(actual=np.where(np.arange(n) > 450, 1e3, frame["actual"]))  # outcomes after 450 change
    again = adaptive_bands(later, (0.8,), gamma=0.02)
    np.testing.assert_array_equal(again["lower_80"][:452], adapted["lower_80"][:452])


def test_adaptive_needs_one_step_forecasts():
    config = RunConfig(horizon=2, backtest=BacktestConfig(test_size=10, step=1, adaptive=0.01))
    with pytest.raises(ValueError, match=r"adaptive \(0.01\) adapts one-step bands .* --horizon 1 \(got 2\)"):
        backtest(load_bundled("sp500").series().iloc[-200:], "B", config, models=("ewma",))


def test_an_adaptive_band_that_must_cover_anything_is_the_widest_miss_so_far():
    """After a run of misses ACI's working miscoverage goes below 0 (a band for anything): the band is then
    the largest score seen before, finite, never an overflow."""
    from hpcast.evaluate.bands import adaptive_bands

    n = 80
    actual = np.full(n, 100.0)
    actual[20:40] = 100 * np.exp(0.05)  # twenty misses in a row, five half-widths out
    frame = pd.DataFrame({"model": "m", "symbol": "a", "date": pd.bdate_range("2020-01-01", periods=n),
                          "forecast": 100.0, "actual": actual, "lower_80": 100 * np.exp(-0.01),
                          "upper_80": 100 * np.exp(0.01)})
    adapted = adaptive_bands(frame, (0.8,), gamma=0.2)
    half = np.log(adapted["upper_80"] / adapted["forecast"])
    assert np.isfinite(half).all() and half.max() == pytest.approx(0.05, rel=1e-9)  # five times 0.01


def test_qlike_reads_the_range_proxy_where_the_panel_has_open_high_and_low():
    """sp500's close with its open, high and low columns: each one-step point's proxy is `range_proxy` at its
    date from the history up to its origin, and the QLIKE is Patton's against it (by hand here)."""
    from hpcast.evaluate.scores import range_proxy

    frame = load_bundled("sp500").frame.iloc[-330:].set_index("date")[["close", "open", "high", "low"]]
    panel = Panel.from_frames({"sp500": frame}, "B", {"sp500": "NYSE"})
    config = RunConfig(horizon=1, backtest=BacktestConfig(test_size=20, step=1, refit_every=20))
    result = backtest(panel, config=config, models=("ewma",))
    rows = result.predictions.sort_values("date")
    close, open_, high, low = (frame[c].to_numpy() for c in ("close", "open", "high", "low"))
    known = [int(np.searchsorted(frame.index.to_numpy(), np.datetime64(o))) + 1 for o in rows["origin"]]
    proxy = [range_proxy(close[:k + 1], open_[:k + 1], high[:k + 1], low[:k + 1], known=k)[0] for k in known]
    np.testing.assert_allclose(rows["variance_proxy"], proxy, rtol=1e-12)
    ratio = np.asarray(proxy) / rows["variance"].to_numpy()
    assert result.metrics.loc["ewma", "qlike"] == pytest.approx(np.mean(ratio - np.log(ratio) - 1), rel=1e-9)
    plain = backtest(Panel.from_frames({"sp500": frame[["close"]]}, "B", {"sp500": "NYSE"}), config=config,
                     models=("ewma",))
    assert "variance_proxy" not in plain.predictions  # without a range: the squared return
