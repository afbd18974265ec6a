"""The Diebold–Mariano test against hand computations, its symmetry, its size and power, and its errors."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hpcast.evaluate.significance import diebold_mariano, dm_by_series


# -- hand computations ----------------------------------------------------------------------------------------
def test_absolute_loss_horizon_two_by_hand():
    e1 = np.array([2.0, 3.0, -3.0, 4.0, 1.0, 1.0])
    e2 = np.array([1.0, 1.0, -1.0, 1.0, 1.0, 3.0])
    # d = |e1| - |e2| = [1, 2, 2, 3, 0, -2]; mean 6/6 = 1; deviations [0, 1, 1, 2, -1, -3]
    # γ0 = (0 + 1 + 1 + 4 + 1 + 9) / 6 = 16/6;  γ1 = (1·0 + 1·1 + 2·1 + (-1)·2 + (-3)·(-1)) / 6 = 4/6
    # V = (16/6 + 2·4/6) / 6 = 2/3;  DM = 1 / √(2/3) = √1.5
    # HLN, n = 6, h = 2: (6 + 1 - 4 + 2·1/6) / 6 = 5/9
    statistic = np.sqrt(1.5) * np.sqrt(5 / 9)
    p_value = 2 * stats.t.sf(statistic, df=5)
    assert diebold_mariano(e1, e2, horizon=2, loss="absolute") == pytest.approx((statistic, p_value), rel=1e-12)


def test_squared_loss_horizon_one_by_hand():
    e1 = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    e2 = np.array([0.5, 1.0, -1.0, 2.0, 2.0])
    # d = e1² - e2² = [0.75, 3, -0.75, 5, -3]; mean 5/5 = 1; deviations [-0.25, 2, -1.75, 4, -4]
    # γ0 = (0.0625 + 4 + 3.0625 + 16 + 16) / 5 = 7.825;  V = γ0 / 5 = 1.565
    # HLN, n = 5, h = 1: (5 + 1 - 2 + 0) / 5 = 0.8
    statistic = 1 / np.sqrt(1.565) * np.sqrt(0.8)
    p_value = 2 * stats.t.sf(statistic, df=4)
    assert diebold_mariano(e1, e2) == pytest.approx((statistic, p_value), rel=1e-12)


def test_non_positive_long_run_variance_falls_back_to_lag_zero_and_warns():
    e1 = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    e2 = np.array([0.5, 1.0, -1.0, 2.0, 2.0])
    # As above, γ1 = (2·(-0.25) + (-1.75)·2 + 4·(-1.75) + (-4)·4) / 5 = -5.4, so with h = 2
    # V = (7.825 - 10.8) / 5 < 0: V = γ0 / 5 = 1.565 instead; HLN, h = 2: (5 + 1 - 4 + 2/5) / 5 = 0.48
    statistic = 1 / np.sqrt(1.565) * np.sqrt(0.48)
    with pytest.warns(RuntimeWarning, match=r"long-run variance \(-0\.595\) .* not positive with horizon 2: "
                                            r"using the lag-0 variance \(1\.56\)"):
        result = diebold_mariano(e1, e2, horizon=2)
    assert result == pytest.approx((statistic, 2 * stats.t.sf(statistic, df=4)), rel=1e-12)


def test_degenerate_differentials():
    e = np.array([1.0, -2.0, 0.5])
    assert np.isnan(diebold_mariano(e, e)[0]) and diebold_mariano(e, e)[1] == 1.0  # identical: nothing to test
    assert diebold_mariano(e, -e) == (pytest.approx(np.nan, nan_ok=True), 1.0)  # equal losses, other errors
    assert diebold_mariano(np.zeros(3), np.ones(3)) == (-np.inf, 0.0)  # lower by the same amount every time


# -- symmetry, power and size ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("horizon", "loss"), [(1, "squared"), (3, "squared"), (2, "absolute")])
def test_swapping_the_models_flips_the_sign_and_keeps_the_p_value(horizon, loss):
    rng = np.random.default_rng(1)
    e1, e2 = rng.normal(0, 1, 40), rng.normal(0, 1.3, 40)
    statistic, p_value = diebold_mariano(e1, e2, horizon, loss)
    assert diebold_mariano(e2, e1, horizon, loss) == pytest.approx((-statistic, p_value), rel=1e-12)


def test_a_clearly_better_model_is_significant():
    rng = np.random.default_rng(2)
    statistic, p_value = diebold_mariano(rng.normal(0, 1, 250), rng.normal(0, 1.5, 250))
    assert statistic < 0 and p_value < 0.01


def _ma_errors(rng: np.random.Generator, n: int, horizon: int) -> np.ndarray:
    """h-step-like errors: MA(h - 1) sums of h standard normal shocks."""
    shocks = rng.normal(size=n + horizon - 1)
    return sum(shocks[k:k + n] for k in range(horizon))


@pytest.mark.parametrize("horizon", [1, 3])
def test_equally_good_models_give_a_roughly_uniform_p_value(horizon):
    p_values = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        p_values.append(diebold_mariano(_ma_errors(rng, 200, horizon), _ma_errors(rng, 200, horizon), horizon)[1])
    p_values = np.array(p_values)
    # For a test of correct size the count below 0.05 is Binomial(200, 0.05): mean 10, sd 3.1. [3, 20] keeps a
    # correct test's chance of failing at 0.35% (P(X <= 2) + P(X > 20)), while a statistic off by √2 either
    # way (size 0.17 or 0.006) lands outside. (10,000 replications measured sizes 0.047 and 0.052 here.)
    assert 3 / 200 <= np.mean(p_values < 0.05) <= 20 / 200
    # Below 0.5: Binomial(200, 0.5), sd 0.035; [0.4, 0.6] is ±2.8 sd.
    assert 0.4 <= np.mean(p_values < 0.5) <= 0.6


# -- per series over a backtest's predictions -----------------------------------------------------------------
def _predictions(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for symbol, spread in (("AAA", 1.0), ("BBB", 2.0)):
        for fold in range(4):
            actual = rng.normal(size=3)
            for model, noise in (("lstm", 1.0), ("naive", spread)):
                rows.append(pd.DataFrame({"symbol": symbol, "model": model, "fold": fold, "step": [1, 2, 3],
                                          "actual": actual, "forecast": actual + rng.normal(0, noise, 3)}))
    return pd.concat(rows, ignore_index=True)


def test_dm_by_series_pools_folds_in_fold_step_order_with_lag_h_minus_one():
    frame = _predictions(np.random.default_rng(3))
    result = dm_by_series(frame, "lstm")
    assert list(result.index) == ["AAA", "BBB"] and result.index.name == "symbol"
    assert list(result.columns) == ["dm_stat", "dm_pvalue", "n"] and result["n"].tolist() == [12, 12]
    for symbol in ("AAA", "BBB"):
        rows = frame[frame["symbol"] == symbol].sort_values(["fold", "step"], kind="stable")
        errors = {m: (g["actual"] - g["forecast"]).to_numpy() for m, g in rows.groupby("model")}
        expected = diebold_mariano(errors["lstm"], errors["naive"], horizon=3)
        assert tuple(result.loc[symbol, ["dm_stat", "dm_pvalue"]]) == pytest.approx(expected, rel=1e-12)
    shuffled = frame.sample(frac=1.0, random_state=0)  # rows in any order pair the same way
    pd.testing.assert_frame_equal(dm_by_series(shuffled, "lstm"), result)
    reversed_ = dm_by_series(frame, "naive", baseline="lstm")
    np.testing.assert_allclose(reversed_["dm_stat"], -result["dm_stat"], rtol=1e-12)


# -- errors name the argument, its value and the rule ---------------------------------------------------------
@pytest.mark.parametrize(("e1", "e2", "kwargs", "message"), [
    (np.ones(3), np.ones(4), {}, r"errors_model \(shape \(3,\)\) and errors_baseline \(shape \(4,\)\) must have "
                                 r"the same shape"),
    (np.ones((2, 3)), np.ones((2, 3)), {}, r"errors_model \(shape \(2, 3\)\) must be 1-D"),
    (np.ones(3), np.array([1.0, np.nan, np.inf]), {}, r"errors_baseline \(2 non-finite values, first at index 1\) "
                                                       r"must be finite"),
    (np.ones(1), np.ones(1), {}, r"errors_model \(1 point\) must hold at least 2 points"),
    (np.ones(4), np.zeros(4), {"horizon": 4}, r"horizon \(4\) must be in \[1, 4\)"),
    (np.ones(4), np.zeros(4), {"horizon": 0}, r"horizon \(0\) must be in \[1, 4\)"),
    (np.ones(4), np.zeros(4), {"loss": "huber"}, r"loss \('huber'\) must be one of \['absolute', 'squared'\]"),
])
def test_diebold_mariano_errors(e1, e2, kwargs, message):
    with pytest.raises(ValueError, match=message):
        diebold_mariano(e1, e2, **kwargs)


def test_dm_by_series_errors():
    frame = _predictions(np.random.default_rng(4))
    with pytest.raises(ValueError, match=r"frame \(columns .*\) must have columns .*; missing: \['symbol'\]"):
        dm_by_series(frame.drop(columns="symbol"), "lstm")
    with pytest.raises(ValueError, match=r"model \('arima'\) has no rows in frame; its models are "
                                         r"\['lstm', 'naive'\]"):
        dm_by_series(frame, "arima")
    with pytest.raises(ValueError, match=r"model \('lstm'\) must differ from baseline \('lstm'\)"):
        dm_by_series(frame, "lstm", baseline="lstm")
    with pytest.raises(ValueError, match=r"frame has 1 \(symbol, fold, step\) points forecast by only one of "
                                         r"'lstm' and 'naive' \(first: symbol 'AAA', fold 0, step 1, only 'naive'\)"):
        dm_by_series(frame.drop(index=0), "lstm")
    with pytest.raises(ValueError, match=r"model \('lstm'\) has more than one row for symbol 'AAA', fold 0, step 1"):
        dm_by_series(pd.concat([frame, frame.iloc[[0]]]), "lstm")
    one_fold = frame[frame["fold"] == 0]
    with pytest.raises(ValueError, match=r"symbol 'AAA': horizon \(3\) must be in \[1, 3\)"):
        dm_by_series(one_fold, "lstm")
