"""`EnsembleForecaster`: members from seeds, mean and spread, bands on the mean's calibration residuals,
one weights file, the CLI flag and the one-place choice (`estimator_for`)."""

from __future__ import annotations

import dataclasses
import functools
import json
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

from hpcast.cli import cli
from hpcast.config import ConfigError, RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.forecast.base import load_forecaster
from hpcast.forecast.calibration import conformal_calibration
from hpcast.forecast.ensemble import EnsembleForecaster
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.panel_windows import prepare_panel
from hpcast.forecast.recurrent import RecurrentForecaster
from hpcast.forecast.table import estimator_for

K = 3
CONFIG = RunConfig(window=8, horizon=3, model=LSTMConfig(layers=(6,), dropout=(0.0,)),
                   train=TrainConfig(epochs=2, ensemble=K, seed=4, device="cpu"))


@functools.cache
def _air() -> pd.Series:
    return load_bundled("air_passengers").series()


@functools.cache
def _ensemble() -> EnsembleForecaster:
    return EnsembleForecaster(CONFIG).fit(_air(), "MS")


@functools.cache
def _alone() -> tuple[RecurrentForecaster, ...]:
    """Each member's config trained on its own, as a plain `RecurrentForecaster`."""
    return tuple(RecurrentForecaster(dataclasses.replace(CONFIG, train=dataclasses.replace(
        CONFIG.train, seed=CONFIG.train.seed + k, ensemble=1))).fit(_air(), "MS") for k in range(K))


def test_members_come_from_consecutive_seeds_and_differ() -> None:
    ensemble = _ensemble()
    assert [m.config.train.seed for m in ensemble.members] == [4, 5, 6]
    assert [fact["seed"] for fact in ensemble.manifest()["model"]["members"]] == [4, 5, 6]
    first, second = (m.net.state_dict() for m in ensemble.members[:2])
    assert any(not torch.equal(first[key], second[key]) for key in first)


def test_forecast_is_the_mean_of_members_trained_alone_and_spread_their_std() -> None:
    frame = _ensemble().predict()
    alone = np.stack([member.predict()["forecast"].to_numpy() for member in _alone()])  # (K, h)
    np.testing.assert_array_equal(frame["forecast"].to_numpy(), np.mean(alone, axis=0))
    np.testing.assert_array_equal(frame["spread"].to_numpy(), np.std(alone, axis=0))
    for member, single in zip(_ensemble().members, _alone(), strict=True):  # same weights bit for bit
        for key, tensor in single.net.state_dict().items():
            assert torch.equal(member.net.state_dict()[key], tensor), key
    assert list(frame.columns) == ["symbol", "date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95",
                                   "spread"]


def test_result_summarises_every_member() -> None:
    result = _ensemble().result
    assert result.history is result.members[0].history  # the loss curve a job plots
    assert result.best_val_loss == pytest.approx(np.mean([single.result.best_val_loss for single in _alone()]))
    summary = result.summary()
    assert summary["ensemble"] == K and [m["best_val_loss"] for m in summary["members"]] == [
        single.result.best_val_loss for single in _alone()]


def test_bands_nest_and_are_calibrated_on_the_shared_calibration_windows() -> None:
    ensemble = _ensemble()
    frame = ensemble.predict()
    order = ["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]
    assert (np.diff(frame[order].to_numpy(), axis=1) >= 0).all()
    windows = prepare_panel(ensemble.history, ensemble.config, torch.device("cpu"))
    starts = windows.starts("cal")
    entry = ensemble.series[ensemble.history.symbols[0]]
    assert entry["calibration"]["windows"] == len(starts) == entry["data"]["calibration_windows"]
    # the quantiles are the mean path's residuals on those windows, not a member's
    paths = np.mean([m._score(windows, starts, ensemble.history.values[:, 0])[0] for m in _alone()], axis=0)
    rows = windows.panel_rows((starts + windows.window)[:, None] + np.arange(windows.horizon))  # (M, h)
    actual = ensemble.history.values[rows, 0]
    expected = conformal_calibration(np.abs(np.log(actual) - np.log(paths)), ensemble.config.interval_levels, "log")
    assert entry["calibration"] == expected
    assert entry["calibration"] != _alone()[0].series[ensemble.history.symbols[0]]["calibration"]


def test_save_load_identical_without_pickle(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an artifact was unpickled")

    folder = _ensemble().save(tmp_path / "model")
    with monkeypatch.context() as patch:
        for module, attribute in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
            patch.setattr(module, attribute, refuse)
        loaded = load_forecaster(folder, _air())
        frame = loaded.predict()
    assert type(loaded) is EnsembleForecaster and len(loaded.members) == K
    pd.testing.assert_frame_equal(frame, _ensemble().predict(), check_exact=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"]["ensemble"] == K and manifest["model"]["kind"] == "lstm"
    assert loaded.manifest()["model"] == {key: value for key, value in manifest["model"].items()}


def test_cli_train_writes_one_weights_file_with_every_member(tmp_path: Any) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--dataset", "air_passengers", "--ensemble", "3", "--epochs", "2",
                                      "--window", "8", "--horizon", "3", "--layers", "6", "--dropout", "0",
                                      "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    weights = sorted(path.name for path in (out / "model").iterdir())
    assert weights == ["manifest.json", "weights.safetensors"]
    with safe_open(out / "model" / "weights.safetensors", "pt") as blob:
        prefixes = {".".join(key.split(".")[:2]) for key in blob.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    assert prefixes == {"member.0", "member.1", "member.2"}
    assert sorted((out / "checkpoint").iterdir()) == [out / "checkpoint" / f"member.{k}" for k in range(3)]


def test_cli_ensemble_zero_fails_in_one_line(tmp_path: Any) -> None:
    result = CliRunner().invoke(cli, ["train", "--dataset", "air_passengers", "--ensemble", "0",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: ensemble (0) must be >= 1"]
    assert not (tmp_path / "run").exists()


def test_only_recurrent_models_ensemble() -> None:
    assert estimator_for("gru", 2) is EnsembleForecaster and estimator_for("lstm") is RecurrentForecaster
    with pytest.raises(ConfigError, match=r"ensemble \(3\) needs a recurrent model \(lstm, gru\); model 'naive'"):
        estimator_for("naive", 3)


def test_backtest_refits_the_ensemble() -> None:
    from hpcast.evaluate.walkforward import backtest

    config = dataclasses.replace(CONFIG, backtest=dataclasses.replace(CONFIG.backtest, test_size=6))
    result = backtest(_air(), "MS", config, models=("lstm", "naive"))
    lstm = result.predictions[result.predictions["model"] == "lstm"]
    assert (lstm["spread"] > 0).all() and result.predictions.loc[result.predictions["model"] == "naive",
                                                                  "spread"].isna().all()
    assert set(result.metrics.index) == {"lstm", "naive"}
