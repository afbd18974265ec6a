"""spectro-cnn as an estimator: fit, forecast, artifacts, no lookahead, and the DataLoader path."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hpcast.config import RunConfig, TrainConfig
from hpcast.data.panel import Panel
from hpcast.features.spectrogram import SpectrogramConfig
from hpcast.features.spectrogram_dataset import build_spectrograms
from hpcast.forecast.base import load_forecaster
from hpcast.forecast.spectro import SpectroForecaster
from hpcast.forecast.spectro_cnn import SpectroCNNConfig

SPECTRO = SpectroCNNConfig(spectrogram=SpectrogramConfig(window=32, n_fft=16, hop=4), channels=(4, 8))


def _config(**train: object) -> RunConfig:
    settings = {"epochs": 2, "batch_size": 64, "seed": 5, **train}
    return RunConfig(model=SPECTRO, train=TrainConfig(**settings))  # type: ignore[arg-type]


def _prices(seed: int, periods: int = 400) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, periods))),
                     index=pd.bdate_range("2016-01-01", periods=periods), name="close")


def test_fit_forecast_and_reload_give_the_same_numbers(tmp_path: Path) -> None:
    series = _prices(1)
    forecaster = SpectroForecaster(_config()).fit(series, "B")
    frame = forecaster.predict()
    assert list(frame.columns) == ["symbol", "date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert len(frame) == 1 and frame["date"].iloc[0] == series.index[-1] + pd.offsets.BDay(1)
    assert frame["symbol"].iloc[0] == "close"  # a single series is named after itself
    row = frame.iloc[0]
    assert row["lower_95"] < row["lower_80"] < row["forecast"] < row["upper_80"] < row["upper_95"]
    forecaster.save(tmp_path / "model")
    again = load_forecaster(tmp_path / "model", history=series)
    assert isinstance(again, SpectroForecaster)
    pd.testing.assert_frame_equal(again.predict(), frame)
    with pytest.raises(ValueError, match="horizon"):
        forecaster.predict(horizon=2)


def test_scalers_are_fitted_on_the_training_samples_only() -> None:
    series = _prices(2)
    first = SpectroForecaster(_config(epochs=1)).fit(series, "B")
    changed = series.copy()
    cutoff = pd.Timestamp(first.series["close"]["data"]["scaler_fitted_through"])
    later = changed.index > cutoff + pd.offsets.BDay(1)  # returns after the last training target
    changed[later] *= np.exp(np.random.default_rng(3).normal(0, 0.2, int(later.sum())))
    second = SpectroForecaster(_config(epochs=1)).fit(changed, "B")
    np.testing.assert_array_equal(first.normaliser.mean, second.normaliser.mean)
    assert first.target == second.target


def test_training_from_disk_does_not_depend_on_the_number_of_loader_workers(tmp_path: Path) -> None:
    panel = {"aaa": _prices(3), "bbb": _prices(4, 300)}
    build_spectrograms(tmp_path, panel, SpectrogramConfig(32, 16, 4), "2017-01-31")
    weights = []
    for workers in (0, 2):
        model = SpectroForecaster(_config(loader_workers=workers)).fit_dataset(tmp_path)
        assert model.data_info["symbols"] == ["aaa", "bbb"] and model.result is not None
        assert all(r.data_seconds > 0 for r in model.result.history)  # time waiting on the loader is measured
        weights.append(model.net.state_dict())
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name
    wider = dataclasses.replace(SPECTRO.spectrogram, window=64, hop=8)
    other = dataclasses.replace(_config(epochs=1), model=dataclasses.replace(SPECTRO, spectrogram=wider))
    adopted = SpectroForecaster(other).fit_dataset(tmp_path)  # the dataset's STFT settings win
    assert (adopted.config.model.spectrogram.window, adopted.config.model.spectrogram.hop) == (32, 4)
    assert adopted.config.window == 32 and adopted.config.horizon == 1


def test_training_from_disk_is_the_train_job_and_records_the_dataset_by_fingerprint(tmp_path: Path) -> None:
    from hpcast.jobs import train_job

    prices = {"aaa": _prices(3), "bbb": _prices(4, 300)}
    build_spectrograms(tmp_path / "spec", prices, SpectrogramConfig(32, 16, 4), "2017-01-31")
    build_spectrograms(tmp_path / "same", dict(reversed(prices.items())), SpectrogramConfig(32, 16, 4), "2017-01-31")
    manifests = {}
    for name in ("spec", "same"):
        train_job(tmp_path / name, _config(epochs=1), tmp_path / f"run-{name}", quiet=True)
        manifests[name] = json.loads((tmp_path / f"run-{name}" / "manifest.json").read_text())
    data = manifests["spec"]["data"]
    assert data["name"] == "spectrograms of 2 symbols" and data["rows"] == 400 + 300 - 2 * 33
    assert re.fullmatch("[0-9a-f]{64}", data["fingerprint"])
    assert manifests["same"]["data"]["fingerprint"] == data["fingerprint"]  # the same data, built in another order
    run = tmp_path / "run-spec"
    training = json.loads((run / "metrics.json").read_text())["training"]
    assert json.loads((run / "model" / "manifest.json").read_text())["training"] == training  # one record, one name
    assert len(training["epochs"]) == 1 and (run / "loss_curve.png").is_file() and (run / "report.md").is_file()
    build_spectrograms(tmp_path / "spec", {"ccc": _prices(5)}, SpectrogramConfig(32, 16, 4), "2017-01-31")
    train_job(tmp_path / "spec", _config(epochs=1), tmp_path / "run-more", quiet=True)
    more = json.loads((tmp_path / "run-more" / "manifest.json").read_text())["data"]
    assert more["name"] == "spectrograms of 3 symbols" and more["fingerprint"] != data["fingerprint"]
    with pytest.raises(ValueError, match=r"model \('lstm'\) trains on series in memory; only spectro-cnn trains"):
        train_job(tmp_path / "spec", RunConfig(), tmp_path / "run-lstm", quiet=True)


def test_a_panel_in_memory_is_refused_with_the_way_out() -> None:
    frames = {"aaa": _prices(1).to_frame("close"), "bbb": _prices(2).to_frame("close")}
    with pytest.raises(ValueError, match=r"spectro-cnn trains on one series without covariates in memory; for "
                                         r"many symbols build a spectrogram dataset"):
        SpectroForecaster(_config()).fit(Panel.from_frames(frames, "B"))
