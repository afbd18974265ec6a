import numpy as np
import pandas as pd
import pytest
import torch

from hpcast.train.forecaster import (
    LSTMForecaster,
    _conformal_quantile,
    conformal_calibration,
    minimum_points,
    prepare,
    residuals_needed,
)


def test_conformal_quantile_hand_computed():
    residuals = np.arange(1.0, 10.0)[:, None]  # n = 9
    assert _conformal_quantile(residuals, 0.8)[0] == 8.0  # ceil(10 * 0.8) = 8th smallest
    assert _conformal_quantile(residuals, 0.95)[0] == 9.0  # rank 10 > n: the largest


def test_forecast_has_dates_and_nested_intervals(price_series, tiny_config):
    forecast = LSTMForecaster(tiny_config).fit(price_series, "B").predict()
    assert list(forecast.columns) == ["date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert list(forecast["date"]) == list(pd.bdate_range(price_series.index[-1], periods=4)[1:])
    assert (forecast["lower_95"] <= forecast["lower_80"]).all() and (forecast["lower_80"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper_80"]).all() and (forecast["upper_80"] <= forecast["upper_95"]).all()


def test_an_output_of_zero_is_exactly_the_naive_forecast(tiny_config):
    """A drifting series (+0.5% a day): centring the returns would make zero the drift forecast."""
    index = pd.bdate_range("2020-01-01", periods=200, name="date")
    noise = np.random.default_rng(4).normal(0, 0.01, 200)
    series = pd.Series(100 * np.exp(np.cumsum(0.005 + noise)), index=index, name="close")
    fitted = LSTMForecaster(tiny_config).fit(series, "B")
    assert fitted.scaler.offset == (0.0,)
    with torch.no_grad():
        fitted.net.head.weight.zero_()
        fitted.net.head.bias.zero_()
    forecast = fitted.predict()
    assert (forecast["forecast"] == series.iloc[-1]).all()


def test_level_target_works_on_series_with_zeros(tiny_config):
    import dataclasses

    values = np.abs(np.sin(np.arange(120) / 5.0))
    values[::17] = 0.0
    series = pd.Series(values, index=pd.date_range("2000-01-01", periods=120, freq="MS"), name="value")
    forecast = LSTMForecaster(dataclasses.replace(tiny_config, target="level")).fit(series, "MS").predict()
    assert np.isfinite(forecast.drop(columns="date").to_numpy()).all()


def test_too_short_series_names_the_exact_minimum(price_series, tiny_config):
    need = minimum_points(8, 3, 0.2, 0.5, extra=1)
    assert need == 19  # 11 windows: 7 training, 2 gap, 1 stopping, 1 calibration; T + h - 1 + 1 more points
    with pytest.raises(ValueError, match=rf"series of {need - 1} points is too short for window \(8\), "
                                         rf"horizon \(3\), .* it needs at least {need} points"):
        prepare(price_series.iloc[:need - 1], tiny_config)
    prepared = prepare(price_series.iloc[:need], tiny_config)
    assert min(prepared.n_train, prepared.n_val, prepared.n_cal) == 1


def test_calibration_windows_chose_nothing(price_series, tiny_config):
    """Training, early-stopping and calibration windows are disjoint and in time order; the bands come
    from the calibration windows' residuals only (changing them changes the bands, not the weights)."""
    prepared = prepare(price_series, tiny_config)
    n_windows = len(prepared.X)
    h = prepared.Y.shape[1]
    assert prepared.n_train + h - 1 == prepared.first_val  # training targets end before the first held-out one
    assert prepared.first_val + prepared.n_val == prepared.first_cal
    assert prepared.n_cal == n_windows - prepared.first_cal == round(round(n_windows * 0.2) * 0.5)
    fitted = LSTMForecaster(tiny_config).fit(price_series, "B")
    assert fitted.calibration["windows"] == prepared.n_cal
    assert fitted.data_info["val_windows"] == prepared.n_val
    moved = price_series.copy()
    moved.iloc[-2:] *= 1.3  # the last calibration windows' targets only (the last 2 of 3 horizon steps)
    refitted = LSTMForecaster(tiny_config).fit(moved, "B")
    for name, tensor in fitted.net.state_dict().items():
        assert torch.equal(tensor, refitted.net.state_dict()[name])
    assert refitted.calibration["quantiles"] != fitted.calibration["quantiles"]


def test_bands_never_narrow_with_the_step_and_short_calibration_is_said():
    residuals = np.array([[0.5, 0.2, 0.9], [0.1, 0.3, 0.2], [0.4, 0.1, 0.8], [0.3, 0.2, 0.1], [0.2, 0.4, 0.3]])
    calibration = conformal_calibration(residuals, (0.5, 0.95), "log")
    assert calibration["quantiles"]["0.5"] == [0.3, 0.3, 0.3]  # rank 3 per step: 0.3, 0.2, 0.3 -> running max
    assert calibration["quantiles"]["0.95"] == [0.5, 0.5, 0.9]  # too few: the largest, 0.5, 0.4, 0.9
    assert calibration["notes"] == ["the 95% band rests on 5 calibration residuals; a split-conformal 95% band "
                                    "needs at least 19, so it uses the largest one and may cover less than 95%"]
    assert [residuals_needed(level) for level in (0.5, 0.8, 0.9, 0.95)] == [1, 4, 9, 19]


def test_predict_before_fit_and_bad_horizon(price_series, tiny_config):
    with pytest.raises(RuntimeError, match=r"call fit\(\) or load\(\) before predict\(\)"):
        LSTMForecaster(tiny_config).predict(price_series)
    fitted = LSTMForecaster(tiny_config).fit(price_series, "B")
    with pytest.raises(ValueError, match=r"horizon \(5\) must be in \[1, 3\]"):
        fitted.predict(horizon=5)


def test_forecast_paths_of_many_windows_equal_predict_on_each_history(price_series, tiny_config):
    fitted = LSTMForecaster(tiny_config).fit(price_series, "B")
    ends = [40, 55, len(price_series)]
    values = price_series.to_numpy()
    windows = np.stack([values[end - fitted.min_history:end] for end in ends])  # (3, T + 1)
    paths = fitted.forecast_paths(windows)
    for row, end in zip(paths, ends, strict=True):  # float32 sums differ a little between a batch and one row
        np.testing.assert_allclose(row, fitted.predict(price_series.iloc[:end])["forecast"], rtol=1e-7)
    with pytest.raises(ValueError, match=rf"windows must have shape \(B, {fitted.min_history}\), got \(2, 5\)"):
        fitted.forecast_paths(np.ones((2, 5)))


def test_device_choice():
    import torch

    from hpcast.train.forecaster import training_device

    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' was asked for, but torch sees no CUDA GPU"):
            training_device("cuda")


def test_every_step_training_windows_reach_no_target_the_single_target_set_does_not(price_series, tiny_config):
    from hpcast.train.forecaster import prepare

    prepared = prepare(price_series, tiny_config.resolved("B"))  # window 8, horizon 3
    X, Y_all = prepared.every_step_xy(stride=3)
    starts = list(range(0, prepared.n_train, 3))
    if starts[-1] != prepared.n_train - 1:
        starts.append(prepared.n_train - 1)  # the last training window always trains
    assert X.shape == (len(starts), 8, 1) and Y_all.shape == (len(starts), 8, 3)
    z = prepared.scaled
    for row, b in enumerate(starts):
        assert torch.equal(X[row, :, 0], z[b:b + 8])
        assert torch.equal(Y_all[row, -1], prepared.Y[b])  # the end of the window: the single-target pair
        assert torch.equal(Y_all[row, 0], z[b + 1:b + 4])  # step 0 predicts the 3 values after it
    last_target = prepared.n_train - 1 + 8 + 3 - 1  # the last value any single-target training window sees
    assert torch.equal(Y_all[-1, -1, -1], z[last_target])
    assert prepared.recipe_train_xy("last", 3)[1] == 1
    assert prepared.recipe_train_xy("all", 0)[1] == 1  # window 8: window // 10 rounds up to 1


def test_the_recipe_is_recorded_and_each_lever_turns_off(price_series, tiny):
    on = LSTMForecaster(tiny(stride=2)).fit(price_series, "B")
    assert on.result.recipe == {"targets": "all", "warmup_steps": 1, "precision": "fp32",
                                "schedule": "one-cycle", "stride": 2}
    assert on.manifest()["training"]["recipe"] == on.result.recipe
    off = LSTMForecaster(tiny(targets="last", precision="fp32", schedule="constant")).fit(price_series, "B")
    assert off.result.recipe == {"targets": "last", "warmup_steps": 0, "precision": "fp32", "schedule": "constant",
                                 "stride": 1}
    assert off.result.history[-1].samples == off.data_info["train_windows"]  # every window, once per epoch
    assert on.result.history[-1].samples < off.result.history[-1].samples
