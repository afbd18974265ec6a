"""No lookahead: data after the training cutoff cannot change anything the model learns from, and the
calendar of the forecast dates is the only input that reaches past a window's (or a forecast's) origin."""

import dataclasses

import numpy as np
import pandas as pd
import torch

from hpcast.data.calendars import future_dates
from hpcast.data.panel import Panel
from hpcast.features.calendar_features import calendar_features
from hpcast.forecast.panel_windows import PanelWindows, prepare_panel
from hpcast.forecast.recurrent import RecurrentForecaster


def _perturb_after(series, position):
    changed = series.copy()
    rng = np.random.default_rng(99)
    changed.iloc[position + 1:] *= rng.uniform(0.5, 2.0, len(changed) - position - 1)
    return changed


def _cutoff_position(windows: PanelWindows, panel: Panel, s: int = 0) -> int:
    """The last row of series ``s`` (counted within the series) that its training windows touch."""
    first_val = int(windows.splits[s][1])
    return int(windows.panel_rows(windows.first_row[s] + first_val + windows.window - 1)) - int(panel.offsets[s])


def _train_inputs(windows: PanelWindows) -> list[torch.Tensor]:
    starts = torch.from_numpy(windows.starts("train"))
    return [windows.gather(starts), windows.targets(starts, every_step=False), windows.targets(starts, every_step=True)]


def test_perturbing_after_the_cutoff_leaves_training_features_and_scaler_unchanged(price_series, tiny_config):
    for target in ("log_return", "level"):
        config = dataclasses.replace(tiny_config, target=target).resolved("B")
        panel = Panel.from_series(price_series, "B")
        before = prepare_panel(panel, config)
        cutoff = _cutoff_position(before, panel)
        changed = _perturb_after(price_series, cutoff)
        after = prepare_panel(Panel.from_series(changed, "B"), config)
        assert after.scalers == before.scalers
        for a, b in zip(_train_inputs(after), _train_inputs(before), strict=True):
            assert torch.equal(a, b)
        val = torch.from_numpy(before.starts("val"))
        assert not torch.equal(after.targets(val, False), before.targets(val, False))  # the perturbation was real
        moved = prepare_panel(Panel.from_series(_perturb_after(price_series, cutoff - 1), "B"), config)
        assert not torch.equal(_train_inputs(moved)[1], _train_inputs(before)[1])  # the cutoff row itself is seen


def test_perturbing_after_the_cutoff_leaves_trained_weights_unchanged(price_series, tiny):
    config = tiny(epochs=1)  # one epoch: early stopping cannot pick a different epoch
    panel = Panel.from_series(price_series, "B")
    cutoff = _cutoff_position(prepare_panel(panel, config.resolved("B")), panel)
    first = RecurrentForecaster(config).fit(price_series, "B")
    second = RecurrentForecaster(config).fit(_perturb_after(price_series, cutoff), "B")
    for name, tensor in first.net.state_dict().items():
        assert torch.equal(tensor, second.net.state_dict()[name]), name


def _covariate_panel(price_series: pd.Series, calendar: bool = False) -> Panel:
    """Two series of different lengths and start dates, each with a volume-like covariate column."""
    rng = np.random.default_rng(5)
    frames = {}
    for symbol, series in (("aaa", price_series), ("bbb", price_series.iloc[30:170] * 0.5)):
        volume = rng.lognormal(10, 0.3, len(series))
        frames[symbol] = pd.DataFrame({"close": series.to_numpy(), "volume": volume}, index=series.index)
    panel = Panel.from_frames(frames, "B", {"aaa": "NYSE", "bbb": "NYSE"})
    return dataclasses.replace(panel, known_future=("calendar",)) if calendar else panel


def _perturb_panel_after(panel: Panel, cutoffs: list[int], column: int) -> Panel:
    """``panel`` with ``column`` of every series scaled at random after that series' ``cutoffs`` row."""
    values = panel.values.copy()
    rng = np.random.default_rng(17)
    for s, cutoff in enumerate(cutoffs):
        rows = np.arange(panel.offsets[s] + cutoff + 1, panel.offsets[s + 1])
        values[rows, column] *= rng.uniform(0.5, 2.0, len(rows))
    return dataclasses.replace(panel, values=values)


def test_covariates_after_the_cutoff_change_nothing_fitted(price_series, tiny):
    """Perturbing any value after each series' cutoff, covariate or target, leaves the scalers of both
    columns, the training inputs and the trained weights as they were."""
    config = tiny(epochs=1)
    panel = _covariate_panel(price_series)
    before = prepare_panel(panel, config.resolved("B"))
    cutoffs = [_cutoff_position(before, panel, s) for s in range(panel.n_series)]
    first = RecurrentForecaster(config).fit(panel)
    for column in (1, 0):
        changed = _perturb_panel_after(panel, cutoffs, column)
        after = prepare_panel(changed, config.resolved("B"))
        assert after.scalers == before.scalers
        assert all(covariates is not None for _, covariates in after.scalers)
        for a, b in zip(_train_inputs(after), _train_inputs(before), strict=True):
            assert torch.equal(a, b)
        val = torch.from_numpy(before.starts("val"))
        assert not torch.equal(after.gather(val), before.gather(val))  # the perturbation was real
        second = RecurrentForecaster(config).fit(changed)
        assert second.series["aaa"]["scalers"] == first.series["aaa"]["scalers"]
        assert second.series["bbb"]["scalers"] == first.series["bbb"]["scalers"]
        for name, tensor in first.net.state_dict().items():
            assert torch.equal(tensor, second.net.state_dict()[name]), (column, name)


def test_a_training_window_reads_the_calendar_after_its_end_and_no_value(price_series, tiny_config):
    """Each step's known-future block is the calendar of the h dates after it; values after a window's last
    row never reach it (held-out windows: the scalers were fitted before them)."""
    config = tiny_config.resolved("B")
    panel = _covariate_panel(price_series, calendar=True)
    windows = prepare_panel(panel, config)
    T, h, P = config.window, config.horizon, len(panel.columns)
    K = windows.future.shape[1]
    assert K == 5 and windows.width == P + h * K  # day of week, month (sin, cos), sessions to the next holiday
    for start in (int(windows.starts("val")[0]), int(windows.starts("cal")[-1])):
        s = int(windows.series_of(np.array([start]))[0])
        x = windows.gather(torch.tensor([start]))[0]  # (T, width)
        dates = panel.dates[windows.panel_rows(np.arange(start, start + T + h))]  # the window's dates and the h after
        for step in (0, T - 1):
            ahead = pd.DatetimeIndex(dates[step + 1:step + 1 + h])
            expected = calendar_features(ahead, "B", "NYSE").reshape(-1).astype(np.float32)
            np.testing.assert_array_equal(x[step, P:].numpy(), expected)
        end = int(windows.panel_rows(start + T - 1)) - int(panel.offsets[s])  # the window's last row
        cutoffs = [len(panel.index(k)) for k in range(panel.n_series)]
        cutoffs[s] = end
        for column in (0, 1):
            changed = prepare_panel(_perturb_panel_after(panel, cutoffs, column), config)
            assert changed.scalers == windows.scalers
            assert torch.equal(changed.gather(torch.tensor([start]))[0], x)


def test_predict_reads_the_forecast_dates_calendar_and_no_value_after_the_origin(price_series, tiny_config):
    panel = _covariate_panel(price_series, calendar=True)
    fitted = RecurrentForecaster(tiny_config).fit(panel)
    T, h, P = fitted.config.window, fitted.config.horizon, len(panel.columns)
    seen = []
    fitted.net.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    origin = panel.index("aaa")[150]
    history = panel.until(origin)
    forecast = fitted.predict(history)
    (x,) = seen  # (S, T, width): one forward pass over every series
    assert x.shape == (2, T, P + h * 5)
    for s, symbol in enumerate(history.symbols):
        dates = future_dates(history.index(s), "B", h, "NYSE")
        assert list(forecast.loc[forecast["symbol"] == symbol, "date"]) == list(dates)
        expected = calendar_features(dates, "B", "NYSE").reshape(-1).astype(np.float32)
        np.testing.assert_array_equal(x[s, -1, P:].numpy(), expected)  # the forecast dates' calendar
        assert not x[s, :-1, P:].any()  # only the last step's head reads a future block
    cutoffs = [int(np.searchsorted(panel.index(s), origin, side="right")) - 1 for s in range(panel.n_series)]
    for column in (0, 1):
        seen.clear()
        changed = _perturb_panel_after(panel, cutoffs, column)
        pd.testing.assert_frame_equal(fitted.predict(changed.until(origin)), forecast)
        assert torch.equal(seen[0], x)
        assert not fitted.predict(changed).equals(fitted.predict(panel))  # the perturbation was real
