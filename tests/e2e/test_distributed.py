"""Real multi-process runs: torchrun with the gloo backend on this machine (slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors import safe_open

pytestmark = pytest.mark.slow

HPCAST = [sys.executable, "-m", "hpcast"]


def _train(out: Path, *args: str, timeout: int = 300) -> dict:
    done = subprocess.run([*HPCAST, "train", *args, "--quiet", "--out", str(out)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())["training"]


def test_ddp_with_two_workers_follows_the_single_process_loss_curve(tmp_path):
    common = ("--dataset", "air_passengers", "--epochs", "6", "--dropout", "0", "--patience", "50", "--seed", "3")
    single = _train(tmp_path / "one", *common)
    double = _train(tmp_path / "two", *common, "--workers", "2", "--strategy", "ddp")
    for ours, reference in zip(double["epochs"], single["epochs"], strict=True):
        assert ours["train_loss"] == pytest.approx(reference["train_loss"], rel=1e-5)
        assert ours["val_loss"] == pytest.approx(reference["val_loss"], rel=1e-5)
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert (manifest["workers"], manifest["strategy"]) == (2, "ddp")


def test_local_sgd_with_two_workers_trains_and_only_rank_0_writes(tmp_path):
    history = _train(tmp_path / "lsgd", "--dataset", "air_passengers", "--epochs", "8", "--patience", "50",
                     "--workers", "2", "--strategy", "local-sgd", "--sync-every", "4")
    assert history["epochs"][-1]["train_loss"] < history["epochs"][0]["train_loss"]
    assert (tmp_path / "lsgd" / "model" / "weights.safetensors").is_file()
    assert not list(tmp_path.glob("lsgd/**/*rank*"))


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _checkpoint_epoch(out: Path) -> int:
    path = out / "checkpoint" / "last.safetensors"
    if not path.is_file():
        return 0
    with safe_open(path, "pt") as handle:
        return json.loads(handle.metadata()["meta"])["epoch"]


def test_a_killed_worker_is_restarted_and_the_run_finishes_as_well(tmp_path):
    common = ("--dataset", "sp500", "--epochs", "6", "--patience", "50", "--workers", "2")
    reference = _train(tmp_path / "whole", *common)
    out = tmp_path / "killed"
    launcher = subprocess.Popen([*HPCAST, "train", *common, "--max-restarts", "1", "--quiet", "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, killed = time.time() + 240, None
    while killed is None and time.time() < deadline and launcher.poll() is None:
        if _checkpoint_epoch(out) >= 2:
            workers = [w for agent in _children(launcher.pid) for w in _children(agent)]
            killed = workers[-1]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.1)
    output = launcher.communicate(timeout=300)[0]
    assert killed is not None, "the run ended before a worker could be killed"
    assert launcher.returncode == 0, output[-3000:]
    history = json.loads((out / "metrics.json").read_text())["training"]
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, 7))
    assert history["best_val_loss"] == pytest.approx(reference["best_val_loss"], rel=0.02)


@pytest.mark.parametrize("store", ["file", "s3"])
def test_store_avg_with_two_workers_meets_through_the_store(tmp_path, store, request):
    url = f"file://{tmp_path}/sync" if store == "file" else request.getfixturevalue("moto_s3") + f"/{tmp_path.name}"
    history = _train(tmp_path / "run", "--dataset", "air_passengers", "--epochs", "4", "--workers", "2",
                     "--strategy", "store-avg", "--sync-url", url, "--sync-every", "2")
    assert [e["sync_seconds"] > 0 for e in history["epochs"]] == [False, True, False, True]
    assert [(r["round"], r["used"], r["skipped"]) for r in history["sync_rounds"]] == [(1, [0, 1], {}), (2, [0, 1], {})]
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    objects = sorted(p.split("/", len(root.split("/")))[-1] for p in fs.find(root))
    assert [o.split("/", 1)[1] for o in objects] == [
        "round-00001/rank-0000.safetensors", "round-00001/rank-0001.safetensors",
        "round-00002/rank-0000.safetensors", "round-00002/rank-0001.safetensors"]


def test_store_avg_saves_the_average_of_the_workers_final_weights(tmp_path):
    import torch

    sync = tmp_path / "sync"
    history = _train(tmp_path / "run", "--dataset", "air_passengers", "--epochs", "3", "--workers", "2",
                     "--strategy", "store-avg", "--sync-url", f"file://{sync}", "--sync-every", "10")
    assert [(r["round"], r["used"]) for r in history["sync_rounds"]] == [(1, [0, 1])]  # the closing round only
    assert [e["sync_seconds"] > 0 for e in history["epochs"]] == [False, False, True]
    finals = sorted(sync.glob("*/round-00001/rank-*.safetensors"))  # each worker's local weights, published
    assert [p.name for p in finals] == ["rank-0000.safetensors", "rank-0001.safetensors"]
    total, samples, local = {}, 0.0, []
    for path in finals:
        with safe_open(path, "pt") as handle:
            weight = float(handle.metadata()["samples"])
            names = handle.keys()  # a safe_open handle is not a dict: it does not iterate
            tensors = {key: handle.get_tensor(key).double() for key in names}
        total = {key: total.get(key, 0) + value * weight for key, value in tensors.items()}
        samples, local = samples + weight, [*local, tensors]
    with safe_open(tmp_path / "run" / "model" / "weights.safetensors", "pt") as handle:
        names = handle.keys()
        saved = {key: handle.get_tensor(key).double() for key in names}
    assert saved.keys() == total.keys()
    for key, value in saved.items():
        torch.testing.assert_close(value, total[key] / samples, rtol=0, atol=1e-6)
    assert all(any(not torch.equal(saved[k], worker[k]) for k in saved) for worker in local)  # neither worker's own
    training = json.loads((tmp_path / "run" / "model" / "manifest.json").read_text())["training"]
    assert training["recipe"]["weights"] == "final average of 2 workers (store-avg)"
    assert training["best_epoch"] == 3 and training["best_val_loss"] == history["epochs"][-1]["val_loss"]
