"""The MLflow registry on a real SQLite database: log, register, alias, load without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpcast.data import load_bundled
from hpcast.jobs import train_job
from hpcast.registry import CHALLENGER, CHAMPION, Registry, RegistryError
from hpcast.train.forecaster import LSTMForecaster


@pytest.fixture
def trained(tmp_path: Path, tiny_config) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    train_job(load_bundled("air_passengers"), tiny_config, folder, quiet=True)
    return folder


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.chdir(tmp_path)  # anything written relative to the CWD would show up here
    monkeypatch.delenv("HPCAST_TRACKING_URI", raising=False)
    monkeypatch.setenv("HPCAST_DATA", str(tmp_path / "data"))
    return Registry()


def test_registry_defaults_to_sqlite_with_explicit_artifacts(registry: Registry, tmp_path: Path,
                                                             trained: Path) -> None:
    assert registry.uri == f"sqlite:///{tmp_path / 'data' / 'mlflow.db'}"
    run_id = registry.log_training(trained, "air")
    run = registry.client.get_run(run_id)
    assert run.info.artifact_uri.startswith((tmp_path / "data" / "mlartifacts").as_uri())
    assert not (tmp_path / "mlruns").exists()
    assert run.data.params["config.window"] == "8" and run.data.tags["hpcast.asset"] == "air"
    history = registry.client.get_metric_history(run_id, "val_loss")
    assert len(history) == 3 and [m.step for m in history] == [0, 1, 2]  # per epoch
    assert len(registry.client.get_metric_history(run_id, "epoch_seconds")) == 3
    names = sorted(a.path for a in registry.client.list_artifacts(run_id, "model"))
    assert names == ["model/manifest.json", "model/weights.safetensors"]  # no pickle anywhere


def test_first_version_is_champion_later_ones_challengers(registry: Registry, trained: Path) -> None:
    v1 = registry.register(registry.log_training(trained, "air"), "air", tags={"backtest_mase": "0.5"})
    v2 = registry.register(registry.log_training(trained, "air"), "air")
    assert (v1, v2) == (1, 2)
    assert registry.version_by_alias("air", CHAMPION) == 1 and registry.version_by_alias("air", CHALLENGER) == 2
    registry.promote("air", 2)
    versions = registry.versions("air")
    assert [(v.version, v.aliases) for v in versions] == [(2, (CHALLENGER, CHAMPION)), (1, ())]
    assert versions[1].tags == {"backtest_mase": "0.5"} and versions[0].metrics["epochs_run"] == 3
    assert registry.assets() == ["air"]


def test_load_by_alias_gives_the_trained_model(registry: Registry, trained: Path) -> None:
    registry.register(registry.log_training(trained, "air"), "air")
    series = load_bundled("air_passengers").series()
    loaded = registry.load("air", history=series)
    local = LSTMForecaster.load(trained / "model", history=series)
    np.testing.assert_array_equal(loaded.predict()["forecast"], local.predict()["forecast"])


def test_registry_errors_name_what_is_missing(registry: Registry, trained: Path) -> None:
    with pytest.raises(RegistryError, match=r"asset \('gold'\) has no registered model 'hpcast-gold'"):
        registry.versions("gold")
    registry.register(registry.log_training(trained, "air"), "air")
    with pytest.raises(RegistryError, match=r"version \(7\) of 'hpcast-air' does not exist"):
        registry.promote("air", 7)
    assert registry.version_by_alias("gold") is None
    with pytest.raises(RegistryError, match="has no version with alias 'champion'"):
        registry.load("gold")


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:  # bound, never listening, then released: nothing answers there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_registry_is_an_error_not_no_champion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail at once instead of backing off for minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    port = _closed_port()
    registry = Registry(f"http://ana:s3cret@127.0.0.1:{port}")
    with pytest.raises(RegistryError, match=rf"registry at http://ana:\*\*\*@127\.0\.0\.1:{port} could not answer "
                                            r"\(MlflowException: .*\)") as caught:
        registry.version_by_alias("sp500", CHAMPION)
    assert "\n" not in str(caught.value) and "s3cret" not in str(caught.value)
    with pytest.raises(RegistryError, match="could not answer"):
        registry.version("sp500", 1)  # not "version (1) does not exist"
    with pytest.raises(RegistryError, match=r"registry at bogus://x could not answer \(Unsupported"):
        Registry("bogus://x")


def test_set_tags_writes_on_one_version(registry: Registry, trained: Path) -> None:
    registry.register(registry.log_training(trained, "air"), "air", tags={"backtest_mase": "0.5"})
    registry.set_tags("air", 1, {"live_mase": 0.75, "live_points": 12})
    assert registry.version("air", 1).tags == {"backtest_mase": "0.5", "live_mase": "0.75", "live_points": "12"}
    with pytest.raises(RegistryError, match=r"version \(4\) of 'hpcast-air' does not exist"):
        registry.set_tags("air", 4, {"live_mase": 1.0})
