"""The facade: ``import hpcast`` loads nothing heavy, and its functions are the CLI's (same numbers)."""

import subprocess
import sys

import numpy as np
import pytest

import hpcast
from hpcast.config import ConfigError, RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.recurrent import RecurrentForecaster


def test_import_hpcast_loads_nothing_heavy():
    code = ("import sys, hpcast; heavy = {'torch', 'pandas', 'statsmodels', 'matplotlib'} & set(sys.modules); "
            "print(sorted(heavy), sorted(hpcast.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("[] ") and "'fit'" in out and "'backtest'" in out and "'Panel'" in out


def test_fit_is_the_estimator_with_settings_by_name(tmp_path):
    series = load_bundled("air_passengers").series()
    model = hpcast.fit(series, freq="MS", model="gru", epochs=2, layers=(6,), dropout=(0.0,), window=12, horizon=3)
    assert model.kind == "gru" and model.config.train.epochs == 2 and model.config.model.layers == (6,)
    direct = RecurrentForecaster(model.config).fit(series, "MS")
    np.testing.assert_array_equal(model.predict()["forecast"], direct.predict()["forecast"])
    model.save(tmp_path / "model")
    again = hpcast.load_model(tmp_path, history=series)
    np.testing.assert_array_equal(again.predict()["forecast"], model.predict()["forecast"])


def test_backtest_takes_a_panel_and_settings_by_name():
    panel = hpcast.load_panel(datasets="aapl,msft").until("2001-06-01")
    result = hpcast.backtest(panel, models=("lstm", "naive"), epochs=1, layers=(4,), dropout=(0.0,), window=10,
                             horizon=3, test_size=6)
    assert set(result.per_series.index.get_level_values("symbol")) == {"aapl", "msft"}
    assert set(result.metrics.index) == {"lstm", "naive"}


def test_an_unknown_setting_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown setting 'n_fft' for model 'lstm'; known: .*layers"):
        hpcast.fit(load_bundled("air_passengers").series(), freq="MS", n_fft=16)


def test_configure_matches_the_dataclasses():
    from hpcast.config import configure

    expected = RunConfig(window=12, model=LSTMConfig(layers=(8,), dropout=(0.0,)), train=TrainConfig(epochs=3))
    assert configure(window=12, layers=(8,), dropout=(0.0,), epochs=3) == expected
