"""The MLflow registry on a real SQLite database: log, register, alias, load without pickle; global models
registered once and resolved for each of their symbols."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.cli import cli
from hpcast.config import RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.forecast.base import load_forecaster
from hpcast.forecast.lstm import LSTMConfig
from hpcast.jobs import train_job
from hpcast.registry import CHALLENGER, CHAMPION, GLOBAL, Registry, RegistryError, Resolved

GLOBAL_CONFIG = RunConfig(window=8, horizon=3, model=LSTMConfig(layers=(6,), dropout=(0.0,)),
                          train=TrainConfig(epochs=2, seed=5))


def _prices(symbol: str) -> pd.Series:
    return load_bundled(symbol).series()[:300]


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
    local = load_forecaster(trained / "model", history=series)
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


@pytest.fixture(scope="module")
def tech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Panel]:
    """One LSTM trained on a two-series panel (aapl and msft, 300 business days each): a global model."""
    panel = Panel.from_frames({"aapl": _prices("aapl").to_frame("adj_close"),
                               "msft": _prices("msft").to_frame("adj_close")}, "B", {"aapl": "NYSE", "msft": "NYSE"})
    folder = tmp_path_factory.mktemp("tech")
    train_job(panel, GLOBAL_CONFIG, folder, quiet=True)
    return folder, panel


def test_a_global_model_is_registered_once_and_serves_each_of_its_symbols(registry: Registry,
                                                                          tech: tuple[Path, Panel]) -> None:
    folder, panel = tech
    run_id = registry.log_training(folder, "global-tech")
    assert registry.run_symbols(run_id) == ("aapl", "msft")
    assert registry.register(run_id, "global-tech") == 1
    assert registry.assets() == ["global-tech"]  # once, not per symbol
    assert registry.coverage("global-tech") == (GLOBAL, ("aapl", "msft"))
    model = registry.client.get_registered_model("hpcast-global-tech")
    assert model.tags["hpcast.scope"] == "global" and model.tags["hpcast.symbols"] == "aapl,msft"
    assert registry.versions("global-tech")[0].symbols == ("aapl", "msft")

    before = load_forecaster(folder / "model")  # the model as trained, before registration
    together = before.predict(panel)
    for symbol in ("aapl", "msft"):
        assert registry.resolve(symbol) == Resolved(symbol, "global-tech", 1, GLOBAL, ("aapl", "msft"))
        loaded = registry.load(symbol, history=_prices(symbol))  # a store's series, named adj_close
        forecast = loaded.predict()
        assert forecast["symbol"].unique().tolist() == [symbol]
        pd.testing.assert_frame_equal(forecast, before.predict(panel.select([symbol])), check_exact=True)
        # the same series in a batch of two: float32 matmuls may differ in the last bit, nothing more
        pd.testing.assert_frame_equal(forecast, together[together["symbol"] == symbol].reset_index(drop=True),
                                      check_exact=False, rtol=1e-7)
    assert registry.resolve("gold") is None
    with pytest.raises(RegistryError, match=r"'hpcast-gold' has no version with alias 'champion', and no global "
                                            r"model's champion covers 'gold'"):
        registry.load("gold")


def test_an_assets_own_champion_wins_over_a_global_one(registry: Registry, tech: tuple[Path, Panel],
                                                       tmp_path: Path) -> None:
    folder, _ = tech
    registry.register(registry.log_training(folder, "global-tech"), "global-tech")
    own = tmp_path / "aapl"
    own.mkdir()
    aapl = Panel.from_series(_prices("aapl"), "B", "NYSE", symbol="aapl")
    train_job(aapl, GLOBAL_CONFIG, own, quiet=True)
    registry.register(registry.log_training(own, "aapl"), "aapl")
    assert registry.resolve("aapl") == Resolved("aapl", "aapl", 1, "asset", ("aapl",))
    assert registry.resolve("msft").key == "global-tech"  # still served by the global champion
    np.testing.assert_array_equal(registry.load("aapl").predict(aapl)["forecast"],
                                  load_forecaster(own / "model").predict(aapl)["forecast"])


def test_a_keys_scope_is_kept_and_a_global_model_is_not_named_after_a_symbol(
        registry: Registry, tech: tuple[Path, Panel], trained: Path) -> None:
    folder, _ = tech
    run_id = registry.log_training(folder, "aapl")
    with pytest.raises(RegistryError, match=r"asset \('aapl'\) names a global model of 2 series \(aapl, msft\), "
                                            r"but 'hpcast-aapl' is aapl's per-asset model: register it under a name "
                                            r"of its own, e.g. 'global-aapl-msft'"):
        registry.register(run_id, "aapl")
    registry.register(registry.log_training(folder, "global-tech"), "global-tech")
    with pytest.raises(RegistryError, match=r"asset \('global-tech'\) holds global models in 'hpcast-global-tech'; "
                                            r"this run's model is asset \(1 series: air_passengers\)"):
        registry.register(registry.log_training(trained, "global-tech"), "global-tech")
    registry.register(registry.log_training(trained, "air"), "air")
    with pytest.raises(RegistryError, match=r"holds asset models in 'hpcast-air'; this run's model is global"):
        registry.register(registry.log_training(folder, "air"), "air")
    assert [v.version for v in registry.versions("global-tech")] == [1]


def test_registry_cli_shows_which_symbols_a_global_model_covers(registry: Registry, tech: tuple[Path, Panel],
                                                                trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich tables wrap at 80 columns without a terminal
    folder, _ = tech
    registry.register(registry.log_training(folder, "global-tech"), "global-tech")
    registry.register(registry.log_training(trained, "air"), "air")
    runner = CliRunner()
    listed = runner.invoke(cli, ["registry", "list"])
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line.split() for line in listed.output.splitlines() if line.strip()}
    assert rows["global-tech"][:5] == ["global-tech", "hpcast-global-tech", "global", "aapl,", "msft"]
    assert rows["air"][:4] == ["air", "hpcast-air", "asset", "air"]
    shown = runner.invoke(cli, ["registry", "show", "msft"])
    assert shown.exit_code == 0, shown.output
    assert ("msft has no model of its own; it is served by the global model hpcast-global-tech (champion v1, "
            "covering aapl, msft)") in shown.output
    assert "hpcast-global-tech: a global model, one network over aapl, msft" in shown.output
