"""Whole runs through the CLI on bundled data (slow: real training, kept small)."""

import hashlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hpcast.cli import cli

pytestmark = pytest.mark.slow


def _run(*args):
    result = CliRunner().invoke(cli, [*args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_writes_the_whole_run_folder(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "hpcast", "demo", "--epochs", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"report: {out / 'report.md'}" in done.stdout
    for name in ("report.md", "forecast.csv", "metrics.json", "manifest.json", "model/weights.safetensors",
                 "model/manifest.json", "forecast.png", "backtest.png", "loss_curve.png", "price.png",
                 "backtest.csv"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "| **lstm** |" in report and "| naive |" in report and "naive last-value forecast" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"lstm", "naive", "drift", "arima"} == set(metrics["backtest"]["metrics"])  # no season: no seasonal naive
    assert "one-step naive error (m = 1" in report
    assert len((out / "forecast.csv").read_text().strip().splitlines()) == 31  # header + 30 trading days


def test_same_seed_same_weights_through_the_cli(tmp_path):
    digests = []
    for run in ("a", "b"):
        _run("train", "--dataset", "air_passengers", "--epochs", "5", "--seed", "11", "--quiet",
             "--out", str(tmp_path / run))
        digests.append(hashlib.sha256((tmp_path / run / "model" / "weights.safetensors").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_backtest_shows_the_lstm_beside_seasonal_naive_and_arima(tmp_path):
    _run("train", "--dataset", "air_passengers", "--epochs", "20", "--layers", "8", "--quiet",
         "--out", str(tmp_path / "air"))
    output = _run("backtest", "--dataset", "air_passengers", "--test-size", "24", "--model", str(tmp_path / "air"),
                  "--quiet", "--out", str(tmp_path / "bt"))
    manifest = json.loads((tmp_path / "bt" / "manifest.json").read_text())
    assert manifest["config"]["model"]["layers"] == [8] and manifest["config"]["train"]["epochs"] == 20
    assert "2 folds × 12 steps" in output
    assert "MASE is scaled by the in-sample seasonal naive error (declared season m = 12)." in output
    for model in ("lstm", "seasonal_naive", "arima", "naive"):
        assert model in output
    assert "interval coverage" in output


def test_seed_configuration_reports_seconds_per_epoch(tmp_path):
    """The seed study reproduced: its model, one target per window, float32, a constant lr (levers off)."""
    output = _run("train", "--dataset", "sp500", "--window", "100", "--layers", "50,60,80,120", "--dropout",
                  "0.2,0.3,0.4,0.5", "--batch-size", "32", "--epochs", "1", "--target", "level", "--lr", "0.001",
                  "--targets", "last", "--precision", "fp32", "--schedule", "constant", "--quiet",
                  "--out", str(tmp_path / "seed"))
    assert "s/epoch" in output
    manifest = json.loads((tmp_path / "seed" / "model" / "manifest.json").read_text())
    assert manifest["config"]["model"]["layers"] == [50, 60, 80, 120]
    recipe = {"targets": "last", "warmup_steps": 0, "precision": "fp32", "schedule": "constant", "stride": 1}
    assert manifest["training"]["recipe"] == recipe
    assert json.loads((tmp_path / "seed" / "manifest.json").read_text())["recipe"] == recipe  # the run's manifest


def test_resume_and_forecast_from_a_saved_model(tmp_path):
    run = tmp_path / "run"
    _run("train", "--dataset", "air_passengers", "--epochs", "2", "--patience", "50", "--quiet", "--out", str(run))
    _run("train", "--dataset", "air_passengers", "--epochs", "4", "--patience", "50", "--quiet", "--out", str(run),
         "--resume")
    history = json.loads((run / "metrics.json").read_text())["training"]["epochs"]
    assert [e["epoch"] for e in history] == [1, 2, 3, 4]
    output = _run("forecast", "--dataset", "air_passengers", "--model", str(run), "--steps", "6",
                  "--out", str(tmp_path / "fc"))
    assert "1961-06-01" in output and (tmp_path / "fc" / "forecast.png").is_file()


def test_plot_redraws_every_plot_of_a_run(tmp_path):
    run = tmp_path / "bt"
    _run("backtest", "--dataset", "air_passengers", "--test-size", "12", "--epochs", "3", "--quiet", "--out", str(run))
    _run("forecast", "--dataset", "air_passengers", "--epochs", "3", "--quiet", "--out", str(run))
    for name in ("backtest.png", "forecast.png", "loss_curve.png"):
        (run / name).unlink()
    output = _run("plot", "--dataset", "air_passengers", "--run", str(run))
    for name in ("price.png", "loss_curve.png", "backtest.png", "forecast.png"):
        assert f"plot: {run / name}" in output and (run / name).stat().st_size > 10_000


def test_profile_writes_a_trace_and_a_per_epoch_table(tmp_path):
    output = _run("train", "--dataset", "air_passengers", "--layers", "8", "--epochs", "3", "--batch-size", "8",
                  "--profile", "--quiet", "--out", str(tmp_path / "run"))
    assert "per-epoch profile" in output and "samples/s" in output
    traces = list((tmp_path / "run" / "profile").glob("rank0.*.pt.trace.json"))
    assert len(traces) == 1
    events = json.loads(traces[0].read_text())["traceEvents"]
    assert any(e.get("name", "").startswith("ProfilerStep") for e in events)
    epochs = json.loads((tmp_path / "run" / "metrics.json").read_text())["training"]["epochs"]
    assert all(e["compute_seconds"] > 0 and e["samples"] > 0 for e in epochs)


def test_a_run_that_fails_on_its_input_leaves_no_folder_and_keeps_earlier_ones(tmp_path):
    kept = tmp_path / "kept"
    _run("train", "--dataset", "air_passengers", "--epochs", "1", "--layers", "4", "--quiet", "--out", str(kept))
    failed = tmp_path / "failed"
    result = CliRunner().invoke(cli, ["train", "--dataset", "air_passengers", "--window", "200", "--quiet",
                                      "--out", str(failed)])
    assert result.exit_code == 1
    assert "series of 144 points is too short for window (200)" in result.output
    assert "it needs at least 227 points" in result.output  # 15 windows + window 200 + h 12 - 1 + 1 (returns)
    assert not failed.exists() and (kept / "model" / "manifest.json").is_file()
