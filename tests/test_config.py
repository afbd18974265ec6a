import pytest

from hpcast.config import ConfigError, RunConfig, TrainConfig, from_dict, load_toml, to_dict
from hpcast.features.spectrogram import SpectrogramConfig
from hpcast.forecast.gru import GRUConfig
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.spectro_cnn import SpectroCNNConfig
from hpcast.forecast.table import BaselineConfig


@pytest.mark.parametrize("model", [
    LSTMConfig(layers=(3, 4), dropout=(0.1, 0.2)),
    GRUConfig(layers=(5,), dropout=(0.0,), embedding=2),
    SpectroCNNConfig(spectrogram=SpectrogramConfig(window=32, n_fft=16, hop=4), channels=(4, 8)),
    BaselineConfig("drift"),
])
def test_round_trip_through_dict(model):
    config = RunConfig(window=10, model=model)
    assert from_dict(RunConfig, to_dict(config)) == config
    assert to_dict(config)["model"]["kind"] == config.kind == model.kind


def test_toml_with_tables(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('window = 100\ntarget = "level"\n[model]\nlayers = [50, 60]\ndropout = [0.2, 0.3]\n'
                    '[train]\nbatch_size = 32\nlr = 1\n')
    config = load_toml(path)
    assert config.window == 100 and config.target == "level"
    assert config.model.layers == (50, 60) and config.train.batch_size == 32 and config.train.lr == 1.0
    assert config.kind == "lstm"  # no kind: the default model


def test_toml_model_kind_picks_the_settings_dataclass(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[model]\nkind = "gru"\nlayers = [7]\ndropout = [0.0]\n[backtest]\nscope = "per-series"\n'
                    '[train]\nseries_weights = "equal"\n[distributed]\nworkers = 2\n')
    config = load_toml(path)
    assert config.kind == "gru" and config.model == GRUConfig(layers=(7,), dropout=(0.0,))
    assert config.backtest.scope == "per-series" and config.train.series_weights == "equal"
    assert config.distributed.workers == 2
    path.write_text('[model]\nkind = "spectro-cnn"\nchannels = [4, 8]\n[model.spectrogram]\nwindow = 32\n'
                    'n_fft = 16\nhop = 4\n')
    spectro = load_toml(path)
    assert spectro.model == SpectroCNNConfig(spectrogram=SpectrogramConfig(window=32, n_fft=16, hop=4), channels=(4, 8))


@pytest.mark.parametrize(("data", "message"), [
    ({"windw": 3}, r"unknown setting\(s\) windw; known: .*window"),
    ({"train": {"epoch": 3}}, r"unknown setting\(s\) train.epoch"),
    ({"target": "price"}, r"target \('price'\) must be one of \['log_return', 'level'\]"),
    ({"window": "ten"}, r"window \('ten'\) must be of type int"),
    ({"window": 0}, r"window \(0\) must be >= 1"),
    ({"model": {"layers": [4, 5], "dropout": [0.1]}}, r"dropout \(\[0.1\]\) must give one rate per layer \(2 layers\)"),
    ({"train": {"val_fraction": 1.5}}, r"val_fraction \(1.5\) must be in \(0, 1\)"),
    ({"model": {"kind": "prophet"}}, r"model \('prophet'\) must be one of lstm, gru, spectro-cnn, naive"),
    ({"model": {"kind": "gru", "layer": [3]}}, r"unknown setting\(s\) model.layer; known: model.calibration, .*layer"),
    ({"model": {"kind": "naive", "layers": [3]}}, r"unknown setting\(s\) model.layers; known: model.kind$"),
    ({"model": 3}, r"model must be a table of settings, got 3"),
    ({"interval_levels": [0.95, 0.8]}, r"interval_levels \(\[0.95, 0.8\]\) must be increasing levels in \(0, 1\)"),
    ({"interval_levels": [0.8, 0.8]}, r"interval_levels \(\[0.8, 0.8\]\) must be increasing .* each once"),
    ({"model": {"distribution": "gamma"}}, r"model.distribution \('gamma'\) must be one of \['point', 'normal'"),
    ({"model": {"quantiles": [0.1, 0.9]}}, r"quantiles \(\[0.1, 0.9\]\) must be increasing levels .* 0.5 among them"),
    ({"backtest": {"scope": "local"}}, r"backtest.scope \('local'\) must be one of \['global', 'per-series'\]"),
    ({"train": {"series_weights": "x"}}, r"train.series_weights \('x'\) must be one of \['length', 'equal'\]"),
    ({"train": {"ensemble": 0}}, r"ensemble \(0\) must be >= 1"),
])
def test_errors_name_the_key_the_value_and_the_rule(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(RunConfig, data)


def test_resolved_fills_frequency_defaults():
    assert RunConfig().resolved("B").window == 60 and RunConfig().resolved("MS").horizon == 12
    assert RunConfig(window=5).resolved("MS").window == 5
    spectro = RunConfig(model=SpectroCNNConfig(spectrogram=SpectrogramConfig(window=32, n_fft=16, hop=4))).resolved("B")
    assert (spectro.window, spectro.horizon) == (32, 1)  # its spectrogram's window; one step ahead
    with pytest.raises(ConfigError, match=r"horizon \(3\) must be 1 for spectro-cnn"):
        RunConfig(horizon=3, model=SpectroCNNConfig()).resolved("B")


def test_for_model_gives_that_models_defaults_and_keeps_the_rest():
    config = RunConfig(window=5, horizon=2, model=LSTMConfig(layers=(3,), dropout=(0.0,)), train=TrainConfig(seed=4))
    assert config.for_model("lstm") is config
    gru = config.for_model("gru")
    assert gru.model == GRUConfig() and (gru.window, gru.horizon, gru.train) == (5, 2, config.train)
    assert config.for_model("naive").model == BaselineConfig("naive") and config.for_model("naive").window == 5
    spectro = RunConfig(window=5, horizon=1).for_model("spectro-cnn")
    assert spectro.model == SpectroCNNConfig() and spectro.window is None  # the recurrent window does not apply
    assert spectro.resolved("B").window == SpectroCNNConfig().spectrogram.window


def test_train_config_rules():
    with pytest.raises(ConfigError, match=r"lr \(0\) must be > 0"):
        TrainConfig(lr=0)
