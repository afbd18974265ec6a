import pytest

from hpcast.config import ConfigError, ModelConfig, RunConfig, TrainConfig, from_dict, load_toml, to_dict


def test_round_trip_through_dict():
    config = RunConfig(window=10, model=ModelConfig(layers=(3, 4), dropout=(0.1, 0.2)))
    assert from_dict(RunConfig, to_dict(config)) == config


def test_toml_with_tables(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('window = 100\ntarget = "level"\n[model]\nlayers = [50, 60]\ndropout = [0.2, 0.3]\n'
                    '[train]\nbatch_size = 32\nlr = 1\n')
    config = load_toml(path)
    assert config.window == 100 and config.target == "level"
    assert config.model.layers == (50, 60) and config.train.batch_size == 32 and config.train.lr == 1.0


@pytest.mark.parametrize(("data", "message"), [
    ({"windw": 3}, r"unknown setting\(s\) windw; known: .*window"),
    ({"train": {"epoch": 3}}, r"unknown setting\(s\) train.epoch"),
    ({"target": "price"}, r"target \('price'\) must be one of \['log_return', 'level'\]"),
    ({"window": "ten"}, r"window \('ten'\) must be of type int"),
    ({"window": 0}, r"window \(0\) must be >= 1"),
    ({"model": {"layers": [4, 5], "dropout": [0.1]}}, r"dropout \(\[0.1\]\) must give one rate per layer \(2 layers\)"),
    ({"train": {"val_fraction": 1.5}}, r"val_fraction \(1.5\) must be in \(0, 1\)"),
])
def test_errors_name_the_key_the_value_and_the_rule(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(RunConfig, data)


def test_resolved_fills_frequency_defaults():
    assert RunConfig().resolved("B").window == 60 and RunConfig().resolved("MS").horizon == 12
    assert RunConfig(window=5).resolved("MS").window == 5


def test_train_config_rules():
    with pytest.raises(ConfigError, match=r"lr \(0\) must be > 0"):
        TrainConfig(lr=0)
