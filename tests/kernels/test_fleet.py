import pytest
import torch

from hpcast.kernels.fleet import adam_fleet_, lstm_fleet
from hpcast.kernels.lstm import lstm_stack
from tests.kernels.conftest import TOLERANCE, float32_tolerance, lstm_tolerances, poisoned

PARAMETERS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _models(K, I, H, seed=0):
    """K independent float64 ``nn.LSTM`` layers and their weights stacked along a leading model axis."""
    torch.manual_seed(seed)
    layers = [torch.nn.LSTM(I, H, batch_first=True).double() for _ in range(K)]
    stacked = [torch.stack([getattr(layer, name).detach() for layer in layers]) for name in PARAMETERS]
    return layers, stacked


def _separately(layers, x, weights):
    """Outputs, last cells and gradients of K ``nn.LSTM`` layers run one by one: the reference."""
    outs, cells, grads = [], [], []
    for k, layer in enumerate(layers):
        inputs = x[k].detach().requires_grad_()
        out, (_, c_n) = layer(inputs)
        loss = (weights[0][k] * out).sum() + (weights[1][k] * c_n[0]).sum()
        grads.append(torch.autograd.grad(loss, [inputs, *(getattr(layer, name) for name in PARAMETERS)]))
        outs.append(out)
        cells.append(c_n[0])
    return torch.stack(outs), torch.stack(cells), [torch.stack(g) for g in zip(*grads, strict=True)]


def _fleet(run, x, stacked, weights, dtype):
    inputs = x.to(dtype).requires_grad_()
    params = [p.to(dtype).requires_grad_() for p in stacked]
    out, c_last = run(inputs, *params)
    loss = (weights[0].to(dtype) * out).sum() + (weights[1].to(dtype) * c_last).sum()
    return out, c_last, torch.autograd.grad(loss, [inputs, *params])


def _inputs(K, B, T, I, H, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(K, B, T, I, generator=generator, dtype=torch.float64)
    weights = (torch.randn(K, B, T, H, generator=generator, dtype=torch.float64),
               torch.randn(K, B, H, generator=generator, dtype=torch.float64))
    return x, weights


def _check(got, want, layers, x, weights, dtype):
    """Compare (out, c_last, grads) with the separate float64 layers; float32 within the error model of each
    model's own shape and magnitudes (the loosest of the K)."""
    if dtype == torch.float64:
        forward = backward = TOLERANCE[dtype]
    else:
        per_model = [lstm_tolerances(layer, x[k], (weights[0][k], torch.zeros(1), weights[1][k][None]), dtype)
                     for k, layer in enumerate(layers)]
        forward = max((f for f, _ in per_model), key=lambda t: t["atol"])
        backward = max((b for _, b in per_model), key=lambda t: t["atol"])
    torch.testing.assert_close(got[0].double(), want[0], **forward)
    torch.testing.assert_close(got[1].double(), want[1], **forward)
    for g, w in zip(got[2], want[2], strict=True):
        torch.testing.assert_close(g.double(), w, **backward)


@pytest.mark.parametrize(("kernels", "variant", "dtype"), [
    ("torch", "auto", torch.float64), ("triton", "resident", torch.float64), ("triton", "tiled", torch.float64),
    ("triton", "auto", torch.float32), ("torch", "auto", torch.float32)])
def test_fleet_equals_separate_nn_lstm_layers(kernels, variant, dtype):
    """Model k of the fleet is nn.LSTM with weights k on inputs k: values and gradients w.r.t. x and
    every weight, K=3 irregular shapes; float32 against the float64 layers."""
    K, B, T, I, H = 3, 5, 7, 2, 6
    layers, stacked = _models(K, I, H)
    x, weights = _inputs(K, B, T, I, H)
    want = _separately(layers, x, weights)

    def run(*args):
        return lstm_fleet(*args, kernels=kernels, variant=variant)

    _check(_fleet(run, x, stacked, weights, dtype), want, layers, x, weights, dtype)


@pytest.mark.parametrize(("B", "tiles"), [(5, (16, 16)), (17, (16, 32))])
def test_tiled_equals_resident_and_the_reference(B, tiles):
    """H=20 over 16-wide tiles: two k tiles and two (or one ragged) j tiles per step, every tile edge masked;
    B=17 adds a second batch block per model."""
    K, T, I, H = 2, 4, 3, 20
    layers, stacked = _models(K, I, H, seed=2)
    x, weights = _inputs(K, B, T, I, H, seed=3)
    want = _separately(layers, x, weights)
    tiled = _fleet(lambda *a: lstm_stack(*a, variant="tiled", tiles=tiles), x, stacked, weights, torch.float64)
    resident = _fleet(lambda *a: lstm_stack(*a, variant="resident"), x, stacked, weights, torch.float64)
    _check(tiled, want, layers, x, weights, torch.float64)
    _check(resident, want, layers, x, weights, torch.float64)


@pytest.mark.parametrize("variant", ["resident", "tiled"])
def test_every_buffer_is_written(variant, monkeypatch):
    """Every buffer the launcher allocates starts as NaN: an element a kernel forgets to write shows up."""
    K, B, T, I, H = 2, 17, 3, 2, 20
    layers, stacked = _models(K, I, H, seed=4)
    x, weights = _inputs(K, B, T, I, H, seed=5)
    want = _separately(layers, x, weights)
    empty, empty_like = torch.empty, torch.empty_like
    monkeypatch.setattr(torch, "empty", lambda *a, **k: poisoned(empty(*a, **k)))
    monkeypatch.setattr(torch, "empty_like", lambda *a, **k: poisoned(empty_like(*a, **k)))
    got = _fleet(lambda *a: lstm_stack(*a, variant=variant, tiles=(16, 16) if variant == "tiled" else None),
                 x, stacked, weights, torch.float64)
    _check(got, want, layers, x, weights, torch.float64)


def test_fleet_keeps_nn_lstm_layout_on_both_paths():
    """(K, T, B, H) storage seen as (K, B, T, H) on torch and Triton alike: dropout masks match."""
    _, stacked = _models(2, 1, 6)
    x = torch.randn(2, 16, 5, 1, dtype=torch.float64)
    outs = [lstm_fleet(x, *stacked, kernels=kernels)[0] for kernels in ("torch", "triton")]
    assert outs[0].stride() == outs[1].stride() == (5 * 16 * 6, 6, 16 * 6, 1)


def test_fleet_shape_errors_name_the_argument():
    K, B, T, I, H = 2, 3, 4, 1, 5
    x = torch.zeros(K, B, T, I)
    good = [torch.zeros(K, 4 * H, I), torch.zeros(K, 4 * H, H), torch.zeros(K, 4 * H), torch.zeros(K, 4 * H)]
    with pytest.raises(ValueError, match=r"x must be \(K, B, T, I\), got shape \(3, 4, 1\)"):
        lstm_fleet(x[0], *good, kernels="torch")
    with pytest.raises(ValueError, match=r"w_ih must be \(2, 20, 1\) for x \(2, 3, 4, 1\) and hidden size 5, "
                                         r"got \(2, 20, 3\)"):
        lstm_fleet(x, torch.zeros(K, 4 * H, 3), *good[1:], kernels="torch")
    with pytest.raises(ValueError, match=r"b_hh dtype \(torch.float64\) must match x's \(torch.float32\)"):
        lstm_fleet(x, *good[:3], good[3].double(), kernels="torch")


def test_fleet_under_triton_raises_the_refusal():
    """H past the limit with kernels='triton': the launcher's message, before any kernel runs (meta tensors
    hold no data, so anything but the refusal would fail differently)."""
    K, H = 2, 1025
    meta = {"device": "meta"}
    x = torch.empty(K, 1, 1, 1, **meta)
    weights = (torch.empty(K, 4 * H, 1, **meta), torch.empty(K, 4 * H, H, **meta), torch.empty(K, 4 * H, **meta),
               torch.empty(K, 4 * H, **meta))
    with pytest.raises(ValueError, match=r"hidden size H \(1025\) must be <= 1024 for the Triton LSTM"):
        lstm_fleet(x, *weights, kernels="triton")


def _adam_reference(initial, grads, lr, beta1s, active, beta2, eps):
    """torch.optim.Adam, one optimizer per model, stepped only while the model is active."""
    K = lr.shape[0]
    params = [[p[k].clone().requires_grad_() for p in initial] for k in range(K)]
    optimizers = [torch.optim.Adam(params[k], lr=float(lr[k]), betas=(0.9, beta2), eps=eps) for k in range(K)]
    for step_grads, beta1, on in zip(grads, beta1s, active, strict=True):
        for k in range(K):
            if on[k]:
                for p, g in zip(params[k], step_grads, strict=True):
                    p.grad = g[k].clone()
                optimizers[k].param_groups[0]["betas"] = (float(beta1[k]), beta2)
                optimizers[k].step()
    return [torch.stack([params[k][i].detach() for k in range(K)]) for i in range(len(initial))]


def _adam_case(dtype, steps=6, K=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shapes = [(K, 5, 3), (K, 7), (K, 1)]
    initial = [torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
    grads = [[torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes] for _ in range(steps)]
    lr = torch.tensor([1e-1, 1e-2, 3e-2, 2e-1], dtype=dtype)
    beta1s = [torch.tensor([0.95, 0.9, 0.85, 0.8], dtype=dtype) - 0.02 * s for s in range(steps)]  # one-cycle-like
    # model 1 skips every other step, model 2 starts late: each bias correction must use the model's own count
    active = [torch.tensor([True, s % 2 == 0, s >= 3, True]) for s in range(steps)]
    return initial, grads, lr, beta1s, active


@pytest.mark.parametrize("kernels", ["torch", "triton"])
def test_adam_fleet_equals_torch_optim_adam_per_model(kernels):
    initial, grads, lr, beta1s, active = _adam_case(torch.float64)
    beta2, eps = 0.99, 1e-8
    want = _adam_reference(initial, grads, lr, beta1s, active, beta2, eps)
    params = [p.clone() for p in initial]
    exp_avgs, exp_avg_sqs = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    steps = torch.zeros(4, dtype=torch.int64)
    for step_grads, beta1, on in zip(grads, beta1s, active, strict=True):
        steps = steps + on.long()
        before = [t.clone() for t in (*params, *exp_avgs, *exp_avg_sqs)]
        adam_fleet_(params, [g.clone() for g in step_grads], exp_avgs, exp_avg_sqs, lr=lr, beta1=beta1, beta2=beta2,
                    eps=eps, steps=steps, active=on, kernels=kernels)
        for old, new in zip(before, (*params, *exp_avgs, *exp_avg_sqs), strict=True):
            assert torch.equal(old[~on], new[~on])  # inactive models untouched, bit for bit
            assert not torch.equal(old[on], new[on])
    for got, expected in zip(params, want, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_adam_fleet_float32_against_float64():
    """Float32 Triton updates against the float64 torch path: six steps of about ten roundings each, on
    parameters of magnitude about 3."""
    results = {}
    for dtype, kernels in ((torch.float64, "torch"), (torch.float32, "triton")):
        initial, grads, lr, beta1s, active = _adam_case(dtype)
        params = [p.to(dtype) for p in initial]
        exp_avgs, exp_avg_sqs = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
        steps = torch.zeros(4, dtype=torch.int64)
        for step_grads, beta1, on in zip(grads, beta1s, active, strict=True):
            steps = steps + on.long()
            adam_fleet_(params, [g.to(dtype) for g in step_grads], exp_avgs, exp_avg_sqs, lr=lr, beta1=beta1,
                        beta2=0.99, eps=1e-8, steps=steps, active=on, kernels=kernels)
        results[dtype] = params
    magnitude = max(float(p.abs().max()) for p in results[torch.float64])
    for got, want in zip(results[torch.float32], results[torch.float64], strict=True):
        torch.testing.assert_close(got.double(), want, **float32_tolerance(6 * 10, magnitude))


def test_adam_fleet_errors_name_the_argument():
    p = [torch.zeros(3, 2)]
    per_model = {"lr": torch.ones(3), "beta1": torch.ones(3), "beta2": 0.99, "eps": 1e-8,
                 "steps": torch.ones(3), "active": torch.ones(3, dtype=torch.bool)}
    with pytest.raises(ValueError, match=r"grads must hold one tensor per parameter \(1\), got 0"):
        adam_fleet_(p, [], p, p, **per_model)
    with pytest.raises(ValueError, match=r"exp_avgs\[0\] must match params\[0\] \(3, 2\) torch.float32, got \(3, 3\)"):
        adam_fleet_(p, p, [torch.zeros(3, 3)], p, **per_model)
    with pytest.raises(ValueError, match=r"lr must be a \(K,\) = \(3,\) tensor, got shape \(2,\)"):
        adam_fleet_(p, p, p, p, **{**per_model, "lr": torch.ones(2)})
    with pytest.raises(ValueError, match=r"active dtype \(torch.float32\) must be torch.bool"):
        adam_fleet_(p, p, p, p, **{**per_model, "active": torch.ones(3)})
    with pytest.raises(ValueError, match=r"params\[0\] dtype \(torch.float16\) must be float32 or float64"):
        half = [torch.zeros(3, 2, dtype=torch.float16)]
        adam_fleet_(half, half, half, half, **per_model)


@pytest.mark.gpu
@pytest.mark.parametrize("H", [50, 120])
def test_fleet_matches_cudnn_at_seed_shapes_on_a_gpu(H):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    K, B, T, I = 4, 32, 100, 1
    _, stacked = _models(K, I, H)
    x = torch.randn(K, B, T, I, device="cuda")
    weights = [p.float().cuda().requires_grad_() for p in stacked]
    results = []
    for kernels in ("torch", "triton"):
        inputs = x.clone().requires_grad_()
        out, c_last = lstm_fleet(inputs, *weights, kernels=kernels)
        grads = torch.autograd.grad(out.square().sum() + c_last.sum(), [inputs, *weights])
        results.append((out, c_last, *grads))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
