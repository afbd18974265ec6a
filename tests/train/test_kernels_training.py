"""The trainer on Triton kernels (interpreted on CPU) reaches the torch path's validation loss."""

import pytest
import torch

pytest.importorskip("triton")

from hpcast.config import TrainConfig
from hpcast.data.panel import Panel
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.panel_windows import prepare_panel
from hpcast.forecast.recurrent import RecurrentForecaster
from hpcast.kernels.lstm import FusedLSTM
from hpcast.models.lstm import LSTMNet
from hpcast.train.trainer import train


def test_triton_training_reaches_the_torch_validation_loss_in_float64(price_series, tiny):
    """Float64, so that agreement is not hidden by float32 rounding amplified through Adam."""
    config = tiny(epochs=3).resolved("B")
    data = prepare_panel(Panel.from_series(price_series, "B"), config)
    train_starts, val_starts = (torch.from_numpy(data.starts(part)) for part in ("train", "val"))
    train_xy = data.gather(train_starts).double(), data.targets(train_starts, every_step=False).double()
    val_xy = data.gather(val_starts).double(), data.targets(val_starts, every_step=False).double()
    histories, nets = {}, {}
    for kernels in ("torch", "triton"):
        torch.manual_seed(0)
        nets[kernels] = LSTMNet(LSTMConfig(layers=(6, 5), dropout=(0.1, 0.0)), 1, 3, kernels=kernels).double()
        result = train(nets[kernels], train_xy, val_xy, TrainConfig(epochs=3, batch_size=16, seed=7, kernels=kernels))
        histories[kernels] = [r.val_loss for r in result.history]
    assert all(isinstance(layer, FusedLSTM) for layer in nets["triton"].lstms)
    assert histories["triton"] == pytest.approx(histories["torch"], rel=1e-10)
    for name, tensor in nets["torch"].state_dict().items():
        torch.testing.assert_close(nets["triton"].state_dict()[name], tensor, rtol=1e-9, atol=1e-11)


def test_float32_forecaster_on_triton_kernels(price_series, tiny):
    """In float32 the two paths differ by rounding (~1e-7 per step); after Adam steps, ~1e-3 in the loss."""
    losses = {}
    for kernels in ("torch", "triton"):
        forecaster = RecurrentForecaster(tiny(epochs=2, kernels=kernels)).fit(price_series, "B")
        losses[kernels] = forecaster.result.best_val_loss
    assert losses["triton"] == pytest.approx(losses["torch"], rel=1e-2)


def test_triton_without_a_gpu_or_interpreter_fails_before_training(price_series, tiny, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="needs a CUDA tensor, or TRITON_INTERPRET=1"):
        RecurrentForecaster(tiny(epochs=1, kernels="triton")).fit(price_series, "B")
