"""spectro-cnn through the CLI: features on disk -> training with loader workers -> backtest beside LSTM and naive."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpcast.cli import cli

SMALL = ["--n-fft", "16", "--hop", "4"]


@pytest.mark.slow
def test_spectrograms_train_and_backtest_from_the_command_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    built = runner.invoke(cli, ["features", "spectrogram", "--symbols", "aapl,msft", "--window", "64", *SMALL,
                                "--cutoff", "2010-12-31", "--out", "spec"])
    assert built.exit_code == 0, built.output
    assert "aapl: 3,205 samples" in built.output and (tmp_path / "spec" / "aapl-spectrograms.png").is_file()
    index = json.loads((tmp_path / "spec" / "index.json").read_text())
    assert sorted(index["symbols"]) == ["aapl", "msft"] and index["cutoff"] == "2010-12-31"
    spec = np.load(tmp_path / "spec" / "aapl.spec.npy", mmap_mode="r")
    assert spec.shape == (3205, 9, 13) and spec.dtype == np.float32

    again = runner.invoke(cli, ["features", "spectrogram", "--symbols", "aapl,msft,goog", "--window", "64", *SMALL,
                                "--out", "spec"])  # adds goog only; the cutoff is the dataset's
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "spec" / "index.json").read_text())["symbols"]["aapl"] == index["symbols"]["aapl"]

    trained = runner.invoke(cli, ["train", "--model", "spectro-cnn", "--spectrograms", "spec", "--epochs", "1",
                                  "--loader-workers", "2", "--prefetch", "4", "--channels", "4,8", "--profile",
                                  "--quiet", "--out", "run"])
    assert trained.exit_code == 0, trained.output
    assert "per-epoch profile" in trained.output and "data s" in trained.output
    manifest = json.loads((tmp_path / "run" / "model" / "manifest.json").read_text())
    assert manifest["model"]["class"] == "SpectroCNN" and manifest["config"]["train"]["loader_workers"] == 2

    tested = runner.invoke(cli, ["backtest", "--dataset", "msft", "--horizon", "1", "--test-size", "3", "--step", "1",
                                 "--models", "spectro-cnn,lstm,naive", "--epochs", "1", "--spectro-window", "64",
                                 *SMALL, "--quiet", "--out", "bt"])
    assert tested.exit_code == 0, tested.output
    metrics = json.loads((tmp_path / "bt" / "metrics.json").read_text())["backtest"]["metrics"]
    assert set(metrics) == {"spectro-cnn", "lstm", "naive"}
    assert all(np.isfinite(m["mase"]) for m in metrics.values())
    wrong = runner.invoke(cli, ["backtest", "--dataset", "msft", "--models", "lstm,spectro-cnn,naive", "--quiet"])
    assert wrong.exit_code == 1 and "must be 1 to backtest spectro-cnn" in wrong.output


def test_spectrograms_of_symbols_in_the_feature_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPCAST_STORE", str(tmp_path / "store"))
    runner = CliRunner()
    assert runner.invoke(cli, ["store", "backfill", "--assets", "msft,gold", "--end", "2010-12-31"]).exit_code == 0
    built = runner.invoke(cli, ["features", "spectrogram", "--symbols", "msft,gold", "--from-store", "--window", "64",
                                *SMALL, "--out", "spec"])
    assert built.exit_code == 0, built.output
    index = json.loads((tmp_path / "spec" / "index.json").read_text())
    assert index["symbols"]["msft"]["last"] <= "2010-12-31" and index["symbols"]["gold"]["samples"] > 7000


def test_train_from_spectrograms_refuses_every_data_flag(tmp_path):
    for flag, value in (("--date-format", "%d/%m/%Y"), ("--missing", "drop"), ("--calendar", "NYSE"),
                        ("--dataset", "sp500")):
        result = CliRunner().invoke(cli, ["train", "--spectrograms", str(tmp_path), flag, value])
        assert result.exit_code == 2, result.output
        assert f"no data flags ({flag})" in " ".join(result.output.split())
