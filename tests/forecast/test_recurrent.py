"""RecurrentForecaster (lstm, gru): dated forecasts with nested bands, the split, the scalers, the recipe."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from hpcast.data.panel import Panel
from hpcast.forecast.calibration import _conformal_quantile, conformal_calibration, residuals_needed
from hpcast.forecast.panel_windows import minimum_points, prepare_panel
from hpcast.forecast.recurrent import RecurrentForecaster


def _windows(series, config):
    return prepare_panel(Panel.from_series(series, "B"), config.resolved("B"))


def test_conformal_quantile_hand_computed():
    residuals = np.arange(1.0, 10.0)[:, None]  # n = 9
    assert _conformal_quantile(residuals, 0.8)[0] == 8.0  # ceil(10 * 0.8) = 8th smallest
    assert _conformal_quantile(residuals, 0.95)[0] == 9.0  # rank 10 > n: the largest


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_forecast_has_dates_and_nested_intervals(price_series, tiny_model, kind):
    fitted = RecurrentForecaster(tiny_model(kind)).fit(price_series, "B")
    assert type(fitted.net).__name__ == {"lstm": "LSTMNet", "gru": "GRUNet"}[kind]
    forecast = fitted.predict()
    assert list(forecast.columns) == ["symbol", "date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert set(forecast["symbol"]) == {"close"}  # a single series is named after itself
    assert list(forecast["date"]) == list(pd.bdate_range(price_series.index[-1], periods=4)[1:])
    assert (forecast["lower_95"] <= forecast["lower_80"]).all() and (forecast["lower_80"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper_80"]).all() and (forecast["upper_80"] <= forecast["upper_95"]).all()


def test_an_output_of_zero_is_exactly_the_naive_forecast(tiny_config):
    """A drifting series (+0.5% a day): centring the returns would make zero the drift forecast."""
    index = pd.bdate_range("2020-01-01", periods=200, name="date")
    noise = np.random.default_rng(4).normal(0, 0.01, 200)
    series = pd.Series(100 * np.exp(np.cumsum(0.005 + noise)), index=index, name="close")
    fitted = RecurrentForecaster(tiny_config).fit(series, "B")
    assert fitted.series["close"]["scalers"]["target"]["offset"] == [0.0]
    with torch.no_grad():
        fitted.net.head.weight.zero_()
        fitted.net.head.bias.zero_()
    forecast = fitted.predict()
    assert (forecast["forecast"] == series.iloc[-1]).all()


def test_level_target_works_on_series_with_zeros(tiny_config):
    values = np.abs(np.sin(np.arange(120) / 5.0))
    values[::17] = 0.0
    series = pd.Series(values, index=pd.date_range("2000-01-01", periods=120, freq="MS"), name="value")
    forecast = RecurrentForecaster(dataclasses.replace(tiny_config, target="level")).fit(series, "MS").predict()
    assert np.isfinite(forecast.drop(columns=["symbol", "date"]).to_numpy()).all()


def test_too_short_series_names_the_exact_minimum(price_series, tiny_config):
    need = minimum_points(8, 3, 0.2, 0.5, extra=1)
    assert need == 19  # 11 windows: 7 training, 2 gap, 1 stopping, 1 calibration; T + h - 1 + 1 more points
    with pytest.raises(ValueError, match=rf"series of {need - 1} points is too short for window \(8\), "
                                         rf"horizon \(3\), .* it needs at least {need} points"):
        _windows(price_series.iloc[:need - 1], tiny_config)
    windows = _windows(price_series.iloc[:need], tiny_config)
    n_train, _, n_val, first_cal = windows.splits[0]
    assert min(n_train, n_val, windows.windows[0] - first_cal) == 1


def test_too_short_series_of_a_panel_is_named(price_series, tiny_config):
    frames = {"long": price_series.to_frame("close"), "short": price_series.iloc[:18].to_frame("close")}
    with pytest.raises(ValueError, match=r"series 'short' of 18 points is too short .* at least 19 points"):
        prepare_panel(Panel.from_frames(frames, "B"), tiny_config.resolved("B"))


def test_calibration_windows_chose_nothing(price_series, tiny_config):
    """Training, early-stopping and calibration windows are disjoint and in time order; the bands come
    from the calibration windows' residuals only (changing them changes the bands, not the weights)."""
    windows = _windows(price_series, tiny_config)
    n_train, first_val, n_val, first_cal = (int(v) for v in windows.splits[0])
    n_windows, h = int(windows.windows[0]), windows.horizon
    n_cal = n_windows - first_cal
    assert n_train + h - 1 == first_val  # training targets end before the first held-out one
    assert first_val + n_val == first_cal
    assert n_cal == round(round(n_windows * 0.2) * 0.5)
    assert len(windows.starts("cal")) == n_cal and len(windows.starts("val")) == n_val
    fitted = RecurrentForecaster(tiny_config).fit(price_series, "B")
    assert fitted.series["close"]["calibration"]["windows"] == n_cal
    assert fitted.series["close"]["data"]["val_windows"] == n_val
    moved = price_series.copy()
    moved.iloc[-2:] *= 1.3  # the last calibration windows' targets only (the last 2 of 3 horizon steps)
    refitted = RecurrentForecaster(tiny_config).fit(moved, "B")
    for name, tensor in fitted.net.state_dict().items():
        assert torch.equal(tensor, refitted.net.state_dict()[name])
    assert (refitted.series["close"]["calibration"]["quantiles"]
            != fitted.series["close"]["calibration"]["quantiles"])


def test_a_panel_gets_one_network_and_per_series_scalers_and_bands(price_series, tiny_config):
    other = pd.Series(np.linspace(50.0, 80.0, 150), index=pd.bdate_range("2020-03-02", periods=150), name="close")
    frames = {"aaa": price_series.to_frame("close"), "bbb": other.to_frame("close")}
    fitted = RecurrentForecaster(tiny_config).fit(Panel.from_frames(frames, "B"))
    assert list(fitted.series) == ["aaa", "bbb"]
    aaa, bbb = fitted.series["aaa"], fitted.series["bbb"]
    assert aaa["scalers"] != bbb["scalers"] and aaa["calibration"] != bbb["calibration"]
    forecast = fitted.predict()
    assert list(forecast["symbol"]) == ["aaa"] * 3 + ["bbb"] * 3
    for symbol, series in (("aaa", price_series), ("bbb", other)):  # each continues its own dates
        dates = forecast.loc[forecast["symbol"] == symbol, "date"]
        assert list(dates) == list(pd.bdate_range(series.index[-1], periods=4)[1:])
    alone = fitted.predict(Panel.from_frames({"bbb": frames["bbb"]}, "B"))
    pd.testing.assert_frame_equal(alone, forecast[forecast["symbol"] == "bbb"].reset_index(drop=True))
    with pytest.raises(ValueError, match=r"symbol \('ccc'\) was not fitted; this model knows \['aaa', 'bbb'\]"):
        fitted.predict(Panel.from_frames({"ccc": frames["bbb"], "aaa": frames["aaa"]}, "B"))


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
        RecurrentForecaster(tiny_config).predict(price_series)
    fitted = RecurrentForecaster(tiny_config).fit(price_series, "B")
    with pytest.raises(ValueError, match=r"horizon \(5\) must be in \[1, 3\]"):
        fitted.predict(horizon=5)


def test_forecast_paths_of_many_windows_equal_predict_on_each_history(price_series, tiny_config):
    fitted = RecurrentForecaster(tiny_config).fit(price_series, "B")
    ends = [40, 55, len(price_series)]
    values = price_series.to_numpy()
    windows = np.stack([values[end - fitted.min_history:end] for end in ends])  # (3, T + 1)
    paths = fitted.forecast_paths(windows)
    for row, end in zip(paths, ends, strict=True):  # float32 sums differ a little between a batch and one row
        np.testing.assert_allclose(row, fitted.predict(price_series.iloc[:end])["forecast"], rtol=1e-7)
    with pytest.raises(ValueError, match=rf"windows must have shape \(B, {fitted.min_history}\), got \(2, 5\)"):
        fitted.forecast_paths(np.ones((2, 5)))


def test_device_choice():
    from hpcast.forecast.base import training_device

    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' was asked for, but torch sees no CUDA GPU"):
            training_device("cuda")


def test_every_step_training_windows_reach_no_target_the_single_target_set_does_not(price_series, tiny_config):
    windows = _windows(price_series, tiny_config)  # window 8, horizon 3
    n_train = int(windows.splits[0][0])
    starts = windows.starts("train", 3)
    expected = list(range(0, n_train, 3))
    if expected[-1] != n_train - 1:
        expected.append(n_train - 1)  # the last training window always trains
    assert starts.tolist() == expected  # one series: buffer rows are window indices
    index = torch.from_numpy(starts)
    X, Y_all, Y = windows.gather(index), windows.targets(index, every_step=True), windows.targets(index, False)
    assert X.shape == (len(starts), 8, 1) and Y_all.shape == (len(starts), 8, 3)
    z = windows.buffer[:, 0]
    for row, b in enumerate(starts):
        assert torch.equal(X[row, :, 0], z[b:b + 8])
        assert torch.equal(Y_all[row, -1], Y[row])  # the end of the window: the single-target pair
        assert torch.equal(Y_all[row, 0], z[b + 1:b + 4])  # step 0 predicts the 3 values after it
    last_target = n_train - 1 + 8 + 3 - 1  # the last value any single-target training window sees
    assert torch.equal(Y_all[-1, -1, -1], z[last_target])


def test_the_recipe_is_recorded_and_each_lever_turns_off(price_series, tiny):
    on = RecurrentForecaster(tiny(stride=2)).fit(price_series, "B")
    assert on.result.recipe == {"targets": "all", "warmup_steps": 1, "precision": "fp32",
                                "schedule": "one-cycle", "stride": 2}
    assert on.manifest()["training"]["recipe"] == on.result.recipe
    off = RecurrentForecaster(tiny(targets="last", precision="fp32", schedule="constant", stride=3)).fit(
        price_series, "B")
    assert off.result.recipe == {"targets": "last", "warmup_steps": 0, "precision": "fp32", "schedule": "constant",
                                 "stride": 1}  # one target per window: every window, whatever the stride
    assert off.result.history[-1].samples == off.series["close"]["data"]["train_windows"]  # each once per epoch
    assert on.result.history[-1].samples < off.result.history[-1].samples
    default = RecurrentForecaster(tiny(epochs=1)).fit(price_series, "B")
    assert default.result.recipe["stride"] == 1  # window 8: window // 10 rounds up to 1
