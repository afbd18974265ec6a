"""Shared fixtures: tiny CPU configs (one place), CSV writer, and a calm torch."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpcast.config import RunConfig, TrainConfig
from hpcast.forecast.lstm import LSTMConfig

# Triton kernels run on the CPU through the interpreter here; it must be chosen before Triton is imported.
if os.environ.get("HPCAST_TEST_GPU") != "1":
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def tiny_config() -> RunConfig:
    """The smallest config that still exercises every part: 2 layers, dropout, early stopping."""
    return RunConfig(window=8, horizon=3, model=LSTMConfig(layers=(6, 5), dropout=(0.1, 0.0)),
                     train=TrainConfig(epochs=3, batch_size=16, patience=2, seed=7))


@pytest.fixture
def tiny(tiny_config: RunConfig):
    """Return a function that tweaks `tiny_config`'s train settings: ``tiny(epochs=5)``."""

    def make(**train: object) -> RunConfig:
        return dataclasses.replace(tiny_config, train=dataclasses.replace(tiny_config.train, **train))

    return make


@pytest.fixture
def tiny_model(tiny_config: RunConfig):
    """Return a function giving `tiny_config` for any model of `MODELS`: ``tiny_model("gru")`` (recurrent
    models keep its layers, spectro-cnn gets a 32-return spectrogram and forecasts one step, baselines
    have no settings)."""
    from hpcast.features.spectrogram import SpectrogramConfig
    from hpcast.forecast.spectro_cnn import SpectroCNNConfig
    from hpcast.forecast.table import model_spec

    def make(name: str) -> RunConfig:
        spec = model_spec(name)
        if spec.config is SpectroCNNConfig:
            model = SpectroCNNConfig(spectrogram=SpectrogramConfig(window=32, n_fft=16, hop=4), channels=(4, 8))
            return dataclasses.replace(tiny_config, model=model, window=None, horizon=None)
        if spec.network is not None:
            shape = tiny_config.model
            return dataclasses.replace(tiny_config, model=spec.config(layers=shape.layers, dropout=shape.dropout))
        return tiny_config.for_model(name)

    return make


@pytest.fixture
def price_series() -> pd.Series:
    """200 business days of a positive random walk (seeded)."""
    rng = np.random.default_rng(3)
    values = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    index = pd.bdate_range("2020-01-01", periods=200, name="date")
    return pd.Series(values, index=index, name="close")


@pytest.fixture
def write_csv(tmp_path: Path):
    def write(text: str, name: str = "prices.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    import torch

    torch.set_num_threads(1)  # deterministic and calm on a 2-core machine


@pytest.fixture(scope="session")
def moto_s3():
    """A real S3 API on 127.0.0.1 (moto in server mode) with dummy credentials in the environment."""
    import shutil
    import socket
    import subprocess
    import time

    server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        s3fs.S3FileSystem().mkdir("hpcast-test")
        yield "s3://hpcast-test"
    finally:
        process.terminate()
        process.wait(timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def investor_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as `hpcast app` expects it: a store with bundled series and one real sp500 champion.

    ``<home>/store`` holds sp500, gold, core_cpi and treasury_3m; ``<home>/data/mlflow.db`` registers a
    small LSTM trained on sp500 through 2016-12-30 with its real backtest MASE (and naive's) as tags.
    Point HPCAST_STORE and HPCAST_DATA at those two folders to serve it.
    """
    from hpcast.evaluate.walkforward import backtest
    from hpcast.jobs import train_job
    from hpcast.registry import Registry
    from hpcast.store import FeatureStore
    from hpcast.store.ingest import backfill

    home = tmp_path_factory.mktemp("investor")
    store = FeatureStore(str(home / "store"))
    backfill(store, ["sp500", "gold", "core_cpi", "treasury_3m"])
    data = store.dataset("sp500")
    data = dataclasses.replace(data, frame=data.frame[data.frame["date"] <= "2016-12-30"].reset_index(drop=True))
    config = RunConfig(window=20, horizon=10, model=LSTMConfig(layers=(8,), dropout=(0.0,)),
                       train=TrainConfig(epochs=2, batch_size=256, seed=1))
    forecaster = train_job(data, config, home / "run", quiet=True)
    series = store.dataset("sp500").series()
    folds = dataclasses.replace(config, backtest=dataclasses.replace(config.backtest, test_size=60, step=10))
    scores = backtest(series[:"2017-06-30"], "B", folds, models=("naive",), fitted={"lstm": forecaster}).metrics
    registry = Registry(f"sqlite:///{home / 'data' / 'mlflow.db'}")
    registry.register(registry.log_training(home / "run", "sp500"), "sp500",
                      tags={"backtest_mase": f"{scores.loc['lstm', 'mase']:.6f}",
                            "naive_mase": f"{scores.loc['naive', 'mase']:.6f}"})
    return home
