import numpy as np
import pytest
from click.testing import CliRunner

from hpcast.cli import cli
from hpcast.data import load_bundled
from hpcast.models.scratch.train import ScratchConfig, make_task, train_scratch

AIR = load_bundled("air_passengers").series().to_numpy()


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_numpy_numba_and_torch_report_the_same_per_epoch_losses(task, optimizer):
    config = ScratchConfig(hidden=(6, 4), window=8, epochs=3, batch_size=16, task=task, optimizer=optimizer, seed=3)
    data = make_task(AIR, config)
    runs = {name: train_scratch(name, data, config)[1] for name in ("numpy", "numba", "torch")}
    for name in ("numba", "torch"):
        for ours, reference in zip(runs[name], runs["numpy"], strict=True):
            assert ours["train_loss"] == pytest.approx(reference["train_loss"], rel=1e-12), name
            assert ours["val_loss"] == pytest.approx(reference["val_loss"], rel=1e-12), name


def test_training_reduces_the_loss():
    config = ScratchConfig(hidden=(16,), window=12, epochs=30, lr=0.01)
    history = train_scratch("numba", make_task(AIR, config), config)[1]
    assert history[-1]["train_loss"] < 0.3 * history[0]["train_loss"]


def test_classification_bins_come_from_the_training_span_only():
    config = ScratchConfig(window=6, task="classification", classes=3)
    task = make_task(AIR, config)
    changed = AIR.copy()
    changed[-10:] *= 5  # inside the validation span only
    assert make_task(changed, config).info == task.info
    counts = task.Y_train.sum(axis=0)
    assert counts.min() >= 0.25 * len(task.Y_train)  # roughly equally populated classes
    np.testing.assert_array_equal(task.Y_train.sum(axis=1), 1.0)


def test_cli_compares_implementations():
    result = CliRunner().invoke(cli, ["scratch", "train", "--impl", "numpy,numba", "--dataset", "air_passengers",
                                      "--hidden", "8", "--epochs", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.count("epoch   2") == 2
    spread = float(result.output.strip().splitlines()[-1].split(":")[-1])
    assert spread < 1e-12


def test_cli_rejects_unknown_implementations():
    result = CliRunner().invoke(cli, ["scratch", "train", "--impl", "fortran", "--dataset", "air_passengers"])
    assert result.exit_code == 2 and "must be among numpy" in result.output
