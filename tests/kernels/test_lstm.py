import copy

import pytest
import torch

from hpcast.kernels.lstm import FusedLSTM, lstm_layer
from tests.kernels.conftest import TOLERANCE, float32_tolerance


def _pair(I, H, dtype, device, seed=0):
    torch.manual_seed(seed)
    reference = torch.nn.LSTM(I, H, batch_first=True).to(dtype=dtype, device=device)
    fused = FusedLSTM(I, H, kernels="triton").to(dtype=dtype, device=device)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


def _gradient_terms(truth, x, weights):
    """The largest sum of absolute terms in any gradient element, from a step-by-step float64 LSTM.

    Weight gradients sum δa ⊗ [x, h_{t-1}, 1] over (B, T), with δa = ∂loss/∂a the gate pre-activation
    gradients; the input gradient sums δa W_ih over the 4H gates.
    """
    w_ih, w_hh, b_ih, b_hh = (p.detach() for p in truth.parameters())
    B, T, _ = x.shape
    h = c = x.new_zeros(B, w_hh.shape[1])
    outputs, previous, pre = [], [], []
    for t in range(T):
        previous.append(h.detach())
        a = (x[:, t].detach() @ w_ih.T + b_ih + b_hh + h @ w_hh.T).requires_grad_()  # (B, 4H)
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
        pre.append(a)
    loss = sum((w * t).sum() for w, t in zip(weights, (torch.stack(outputs, 1), h[None], c[None]), strict=True))
    da = torch.stack(torch.autograd.grad(loss, pre), 1).abs().flatten(0, 1)  # (B·T, 4H)
    inputs = x.detach().abs().flatten(0, 1)  # (B·T, I)
    hidden = torch.stack(previous, 1).abs().flatten(0, 1)  # (B·T, H)
    sums = (da.T @ inputs, da.T @ hidden, da.sum(0), da @ w_ih.abs())
    return float(max(s.max() for s in sums))


def _tolerances(truth, x, weights, dtype):
    """Float64: the fixed strict tolerance. Float32: the error model of `float32_tolerance`, from T and
    the magnitudes. Forward, each step's pre-activation sums I + H products and two biases (|h| <= 1
    bounds the recurrent terms), then a few gate operations, and c carries every earlier step's error.
    Backward runs the recurrence again over 4H gate terms, and each weight gradient sums B·T terms."""
    if dtype == torch.float64:
        return TOLERANCE[dtype], TOLERANCE[dtype]
    B, T, I = x.shape
    H = truth.hidden_size
    w_ih, w_hh, b_ih, b_hh = (p.detach().abs() for p in truth.parameters())
    x_max = float(x.detach().abs().max())
    pre_activation = float((x_max * w_ih.sum(1) + w_hh.sum(1) + b_ih + b_hh).max())
    forward = float32_tolerance(T * (I + H + 8), pre_activation)
    backward = float32_tolerance(T * (I + 5 * H + 8) + B * T, _gradient_terms(truth, x, weights))
    return forward, backward


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("B", "T", "I", "H"), [(37, 5, 3, 53), (4, 7, 1, 16), (20, 3, 2, 9)])
def test_values_and_gradients_match_nn_lstm(B, T, I, H, dtype, device):
    """Float32 results are checked against float64 truth (nn.LSTM in float64 from the same weights and
    inputs), so no CPU's own float32 rounding is the yardstick; float64 against nn.LSTM in float64."""
    reference, fused = _pair(I, H, dtype, device)
    truth = copy.deepcopy(reference).double()
    generator = torch.Generator().manual_seed(B * 1000 + T * 100 + I * 10 + H)
    x = torch.randn(B, T, I, generator=generator, dtype=torch.float64).to(device)
    x_low = x.to(dtype).requires_grad_()
    x = x.requires_grad_()
    (out_t, (h_t, c_t)), (out_f, (h_f, c_f)) = truth(x), fused(x_low)
    weights = [torch.randn(t.shape, generator=generator, dtype=torch.float64).to(device) for t in (out_t, h_t, c_t)]
    forward, backward = _tolerances(truth, x, weights, dtype)
    for got, want in ((out_f, out_t), (h_f, h_t), (c_f, c_t)):
        torch.testing.assert_close(got.double(), want, **forward)

    def grads(layer, inputs, out, h, c):
        loss = sum((w.to(t.dtype) * t).sum() for w, t in zip(weights, (out, h, c), strict=True))
        return torch.autograd.grad(loss, [inputs, *layer.parameters()])

    for got, want in zip(grads(fused, x_low, out_f, h_f, c_f), grads(truth, x, out_t, h_t, c_t), strict=True):
        torch.testing.assert_close(got.double(), want, **backward)


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
