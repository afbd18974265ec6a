"""`hpcast.train.rules`, shared by the trainer and the fleet: the loss table, validation, early stopping
and progress reports (one definition each; test_fleet.py checks that a fleet trains as `train` does)."""

import functools

import pytest
import torch

from hpcast.train.batches import TensorBatches
from hpcast.train.context import StopTraining, report_epoch
from hpcast.train.fleet import _masked_loss
from hpcast.train.rules import LOSSES, EarlyStopping, EpochRecord, TrainResult, loss_function, validation_loss
from hpcast.train.trainer import _evaluate


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_a_loss_per_element_averages_to_the_training_loss(name):
    pred, target = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    per_element = loss_function(name, reduction="none")(pred, target)  # (5, 3)
    assert per_element.shape == (5, 3)
    assert float(per_element.mean()) == pytest.approx(float(loss_function(name)(pred, target)), rel=1e-15)


def test_an_unknown_loss_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"loss \('l3'\) must be one of \['huber', 'mae', 'mse'\]"):
        loss_function("l3")


def test_early_stopping_keeps_the_best_in_the_result_and_counts_the_epochs_since():
    result = TrainResult()
    stopping = EarlyStopping(result, patience=2)
    improved = [stopping.update(EpochRecord(epoch, 0.0, loss, 0.0)) for epoch, loss in enumerate([3, 2, 2, 1, 4], 1)]
    assert improved == [True, True, False, True, False]  # a tie is no improvement
    assert (result.best_epoch, result.best_val_loss, stopping.bad_epochs, stopping.ran_out) == (4, 1, 1, False)
    stopping.update(EpochRecord(6, 0.0, 5.0, 0.0))
    assert stopping.ran_out


def test_validation_of_k_models_at_once_is_each_model_validated_alone():
    """A fleet's rows and windows are ``(K,)``; the padding rows of a shorter model must not count."""

    class LastStep(torch.nn.Module):  # (..., T, F) -> (..., h): the last step's features, no weights
        def forward(self, x):
            return x[..., -1, :].expand(*x.shape[:-2], 2)

    g = torch.Generator().manual_seed(1)
    X = torch.randn(2, 7, 4, 1, generator=g, dtype=torch.float64)  # (K, B, T, F)
    Y = torch.randn(2, 7, 2, generator=g, dtype=torch.float64)  # (K, B, h)
    X[1, 5:], Y[1, 5:] = 9.0, 0.0  # model 1 has 5 windows, padded to 7: its padding must not count
    rows = torch.tensor([7.0, 5.0], dtype=torch.float64)  # (K,): one batch, so also the windows
    masked_mse = functools.partial(_masked_loss, loss_function("mse", reduction="none"))
    model = LastStep()
    both = validation_loss(model, [(X, Y, rows)], masked_mse, rows)
    mse = loss_function("mse")
    alone = [_evaluate(model, TensorBatches(X[m, :n], Y[m, :n]), mse, 3) for m, n in ((0, 7), (1, 5))]
    torch.testing.assert_close(both, torch.stack(alone), rtol=1e-14, atol=0)


def test_a_progress_that_stops_the_run_marks_it_stopped_early():
    class Pruner:
        def advance(self, record, best):
            raise StopTraining("pruned")

    record, result = EpochRecord(1, 0.0, 1.0, 0.0), TrainResult()
    assert not report_epoch(None, record, result) and not result.stopped_early
    assert report_epoch(Pruner(), record, result) and result.stopped_early
