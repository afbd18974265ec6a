import pytest
import torch

pytest.importorskip("triton")

TOLERANCE = {torch.float32: {"rtol": 1e-5, "atol": 1e-6}, torch.float64: {"rtol": 1e-10, "atol": 1e-12}}
UNIT_ROUNDOFF_FP32 = 2.0**-24


def float32_tolerance(chain: int, magnitude: float) -> dict[str, float]:
    """Absolute tolerance for a float32 result checked against a float64 reference.

    The probabilistic float32 error model of Higham & Mary (SIAM J. Sci. Comput. 41, 2019): a result
    formed through ``chain`` successive roundings of terms whose absolute values sum to ``magnitude`` is
    off by at most λ·√n·u·magnitude (u = 2⁻²⁴) with probability at least 1 − 2·exp(−λ²/2) per element;
    λ = 6 makes that 1 − 3·10⁻⁸. It holds whatever order a CPU's vector width or a kernel's blocking sums
    in, so it is the same on AVX2 and AVX-512; the worst-case bound (n·u instead of √n·u) is too loose to
    catch a small bug.
    """
    return {"rtol": 0.0, "atol": 6.0 * chain**0.5 * UNIT_ROUNDOFF_FP32 * max(1.0, magnitude)}


@pytest.fixture
def device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def poisoned(like: torch.Tensor) -> torch.Tensor:
    """An output buffer full of NaN: an element the kernel forgets to write fails the comparison."""
    return torch.full_like(like, float("nan"))


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


def lstm_tolerances(truth, x, weights, dtype):
    """(forward, backward) tolerances for an LSTM layer ``truth`` (float64 ``nn.LSTM``) on ``x`` (B, T, I) with
    loss weights ``weights`` for (out, h_n, c_n).

    Float64: the fixed strict tolerance. Float32: the error model of `float32_tolerance`, from T and
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
