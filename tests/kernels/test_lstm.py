import pytest
import torch

from hpcast.kernels.lstm import FusedLSTM, lstm_layer
from tests.kernels.conftest import TOLERANCE


def _pair(I, H, dtype, device, seed=0):
    torch.manual_seed(seed)
    reference = torch.nn.LSTM(I, H, batch_first=True).to(dtype=dtype, device=device)
    fused = FusedLSTM(I, H, kernels="triton").to(dtype=dtype, device=device)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("B", "T", "I", "H"), [(37, 5, 3, 53), (4, 7, 1, 16), (20, 3, 2, 9)])
def test_values_and_gradients_match_nn_lstm(B, T, I, H, dtype, device):
    reference, fused = _pair(I, H, dtype, device)
    x = torch.randn(B, T, I, dtype=dtype, device=device, requires_grad=True)
    outputs = [layer(x) for layer in (reference, fused)]
    (out_r, (h_r, c_r)), (out_f, (h_f, c_f)) = outputs
    for got, want in ((out_f, out_r), (h_f, h_r), (c_f, c_r)):
        torch.testing.assert_close(got, want, **TOLERANCE[dtype])
    weights = [torch.randn_like(t) for t in (out_r, h_r, c_r)]

    def grads(layer, out, h, c):
        loss = sum((w * t).sum() for w, t in zip(weights, (out, h, c), strict=True))
        return torch.autograd.grad(loss, [x, *layer.parameters()])

    for got, want in zip(grads(fused, out_f, h_f, c_f), grads(reference, out_r, h_r, c_r), strict=True):
        torch.testing.assert_close(got, want, **TOLERANCE[dtype])


def test_outputs_are_all_written(device, monkeypatch):
    """Every buffer the layer allocates starts as NaN: an element a kernel forgets to write shows up."""
    reference, fused = _pair(2, 19, torch.float64, device)
    x = torch.randn(17, 4, 2, dtype=torch.float64, device=device, requires_grad=True)
    expected_out = reference(x)[0]
    expected_grads = torch.autograd.grad(expected_out.sum(), [x, *reference.parameters()])
    empty, empty_like = torch.empty, torch.empty_like

    def poison(tensor):
        return tensor.fill_(float("nan")) if tensor.is_floating_point() else tensor

    monkeypatch.setattr(torch, "empty", lambda *a, **k: poison(empty(*a, **k)))
    monkeypatch.setattr(torch, "empty_like", lambda *a, **k: poison(empty_like(*a, **k)))
    out, (_, c_n) = fused(x)
    grads = torch.autograd.grad(out.sum(), [x, *fused.parameters()])
    assert torch.isfinite(c_n).all()
    torch.testing.assert_close(out, expected_out)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want)


def test_drop_in_state_dict_and_torch_fallback():
    torch.manual_seed(3)
    fused = FusedLSTM(3, 8, kernels="torch")
    plain = torch.nn.LSTM(3, 8, batch_first=True)
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(5, 6, 3)
    assert torch.equal(fused(x)[0], plain(x)[0])


def test_errors_say_expected_and_actual():
    with pytest.raises(ValueError, match=r"x must be \(B, T, I\), got shape \(3, 4\)"):
        lstm_layer(torch.zeros(3, 4), torch.zeros(8, 4), torch.zeros(8, 2), torch.zeros(8), torch.zeros(8))
    with pytest.raises(ValueError, match=r"hidden size \(300\) must be <= 256"):
        lstm_layer(torch.zeros(1, 2, 1), torch.zeros(1200, 1), torch.zeros(1200, 300), torch.zeros(1200),
                   torch.zeros(1200))


@pytest.mark.gpu
@pytest.mark.parametrize(("B", "T", "H"), [(32, 100, 50), (256, 100, 128), (1024, 60, 120)])
def test_seed_shapes_on_a_gpu(B, T, H):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    reference, fused = _pair(1, H, torch.float32, "cuda")
    x = torch.randn(B, T, 1, device="cuda", requires_grad=True)
    torch.testing.assert_close(fused(x)[0], reference(x)[0], rtol=1e-4, atol=1e-5)


def test_output_layout_matches_nn_lstm_so_dropout_masks_match(device):
    """nn.LSTM returns a (T, B, H) buffer viewed as (B, T, H); dropout draws in memory order, so the
    fused layer must return the same layout for the same seed to give the same masks."""
    reference, fused = _pair(1, 6, torch.float64, device)
    x = torch.randn(16, 8, 1, dtype=torch.float64, device=device)
    outputs = [layer(x)[0] for layer in (reference, fused)]
    assert outputs[0].stride() == outputs[1].stride()
    dropped = []
    for out in outputs:
        torch.manual_seed(1)
        dropped.append(torch.nn.functional.dropout(out, 0.3, training=True))
    torch.testing.assert_close(dropped[1], dropped[0])
